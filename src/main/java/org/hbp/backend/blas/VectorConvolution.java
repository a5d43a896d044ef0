package org.hbp.backend.blas;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;
import org.hbp.backend.ConvGeometry;

/**
 * A direct float64 convolution, register-blocked with the JDK's Vector API: {@code out = W
 * unfold(X) + bias ones'} for one item X at a time, without forming {@code unfold(X)}. The same
 * kernel multiplies stacked filters with a matrix's columns ({@link #columns}: {@code J_W v}) and,
 * with its roles swapped, forms weight gradients ({@link #weightGradients}).
 *
 * <p>An item X ({@code c x (h·w)}, column-major: channel fastest, then y, then x) is copied into a
 * zero-padded image {@code Xp} of {@code (h + 2p) x (w + 2p)} pixels, channel fastest. For output
 * pixel {@code (oh, ow)} and filter tap {@code j = (ki, kj, ch)} the input entry is {@code
 * Xp[base(oh, ow) + offset(j)]} with {@code base = (oh·s + Hp·ow·s)·c} and {@code offset = (ki·d +
 * Hp·kj·d)·c + ch}: the unfold becomes an index, computed once per tap. In general the kernel
 * computes {@code out[p, o] = bias[o] + Σ_j F[j, o] · x[base(p) + offset(j)]} for any bases and
 * offsets. It keeps a block of output pixels times output channels in vector registers (6 pixels x
 * 32 channels or 12 pixels x 16 channels, 24 vectors of 8 doubles; 8 pixels x 8 channels) and runs
 * one loop over all taps: per tap it loads the block's filter vectors ({@code F[j, o..]}, the
 * filters packed tap-major), broadcasts one input entry per pixel and does one vector FMA per
 * accumulator. The result of a pixel is its channels, contiguous in the item's column-major
 * {@code m x patches} layout, stored with vector stores. The FLOPs are those of the unfold-and-gemm
 * route, {@code 2·m·c·k·k} per output pixel; the padded copy costs {@code c·h·w} moves per item
 * instead of the unfold's {@code c·k·k} per output pixel, and no gemm operand is packed.
 *
 * <p>The three blocks are written out, one local variable per accumulator and one statement per
 * FMA: JDK 17's C2 keeps Vector API values in registers only as local values it can follow, and
 * vectors kept in an array are objects in memory. Even the taps as three nested loops {@code (ki,
 * kj, ch)} instead of one made it box every vector: 1.6 GFLOP/s instead of 59 on one thread
 * (docs/performance.md, "Float64 direct convolutions").
 *
 * <p>Each output entry is the sum over the taps in the order {@code (ki, kj, ch)} starting from the
 * bias (or 0), one FMA per tap: the result depends neither on the thread nor on the block it falls
 * in. It agrees with the unfold-and-gemm route to float64 rounding, not bit for bit.
 *
 * <p>Needs {@code m}, the output channels, a multiple of 8 ({@link #supports}), 8-double vectors
 * ({@link #machineFits}) and the module {@code jdk.incubator.vector} in the JVM's boot layer
 * ({@code --add-modules jdk.incubator.vector}, which the {@code hbp} launcher passes): {@link
 * BlasConvolutions} checks these before this class is loaded.
 */
final class VectorConvolution {
  /**
   * Vectors of 8 doubles: the machine's own with AVX-512 ({@link #machineFits}); elsewhere the
   * Vector API emulates them, slowly but with the same results (the tests run there too).
   */
  private static final VectorSpecies<Double> V = DoubleVector.SPECIES_512;
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  /**
   * Output pixels per register block of 32, 16 and 8 channels: 24, 24 and 8 accumulators (of the
   * 32 vector registers; measured best of 4x4, 4x6, 2x8, 2x12 and 1x8 blocks, docs/performance.md).
   */
  static final int PIXELS_32 = 6, PIXELS_16 = 12, PIXELS_8 = 8;
  /** Lanes per vector. */
  private static final int LANES = 8;

  /**
   * Whether the machine's vectors hold 8 doubles (AVX-512), the register blocks' shape: 24
   * accumulators, up to four filter vectors and a broadcast fit in the 32 vector registers. With
   * fewer lanes (AVX2: 4 doubles, 16 registers) the Vector API would emulate 8-lane vectors slowly:
   * {@link BlasConvolutions} then keeps unfold and gemm.
   */
  static boolean machineFits() {
    return DoubleVector.SPECIES_PREFERRED.length() == LANES;
  }

  /** The convolution's geometry, or null for a product with the columns of a matrix ({@link #columns}). */
  private final ConvGeometry g;
  /** Output channels in all; per output group (an output item of its own); the groups' distance in the output, in entries. */
  private final int m;
  private final int groupChannels;
  private final int groupStride;
  /** Output pixels, and where each one's first tap reads the input. */
  private final int patches;
  private final int[] bases;
  /** Taps, their offsets from a pixel's base, the filters packed tap-major ({@code taps x m}). */
  private final int taps;
  private final int[] offsets;
  private final double[] packed;
  /** The bias ({@code m} entries), or zeros. */
  private final double[] bias;
  /** Entries of the input an item needs: the padded image, or the matrix. */
  final int inputSize;

  /** Whether this kernel computes a convolution with {@code m} output channels (on any geometry). */
  static boolean supports(int m) {
    return m > 0 && m % LANES == 0;
  }

  private VectorConvolution(ConvGeometry g, int m, int groupChannels, int groupStride, int[] bases, int[] offsets, double[] packed, double[] bias,
      long inputSize) {
    if (!supports(groupChannels) || m % groupChannels != 0)
      throw new IllegalArgumentException("direct kernels need a multiple of " + LANES + " output channels per output item, got " + groupChannels + " of " + m);
    if (inputSize > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("item too large for a direct kernel: " + inputSize + " entries");
    this.g = g;
    this.m = m;
    this.groupChannels = groupChannels;
    this.groupStride = groupStride;
    this.patches = bases.length;
    this.bases = bases;
    this.taps = offsets.length;
    this.offsets = offsets;
    this.packed = packed;
    this.bias = bias == null ? new double[m] : bias.clone();
    this.inputSize = (int) inputSize;
  }

  /**
   * The kernel for filters {@code w} ({@code m x (c·k·k)}, column-major, columns in {@link
   * ConvGeometry}'s order {@code (ch·k + ki)·k + kj}) on geometry g, plus {@code bias} (m entries, or
   * null): its input is an item's padded image ({@link #load}).
   */
  VectorConvolution(double[] w, int m, ConvGeometry g, double[] bias) {
    this(g, m, m, 0, pixelBases(g), tapOffsets(g), packTaps(w, m, g), bias, (long) (g.h() + 2 * g.p()) * (g.w() + 2 * g.p()) * g.c());
  }

  /**
   * {@code D} products {@code F_d U} with the columns of one matrix {@code U} ({@code k x n},
   * column-major) at once, for filters {@code F_d} ({@code m x k} each, column-major, in {@code f}
   * one after the other): the kernel's channels are the {@code D·m} rows of all {@code F_d} stacked,
   * its pixels U's columns (base {@code k·col}, offsets {@code 0..k-1}), and {@code F_d U} is the
   * output item d, {@code m·n} entries after item d - 1. m must be a multiple of 8.
   */
  static VectorConvolution columns(double[] f, int m, int k, int n, int directions) {
    double[] packed = new double[k * m * directions];
    for (int d = 0; d < directions; d++)
      for (int j = 0; j < k; j++) System.arraycopy(f, d * m * k + j * m, packed, j * m * directions + d * m, m);
    int[] bases = new int[n], offsets = new int[k];
    for (int col = 0; col < n; col++) bases[col] = col * k;
    for (int j = 0; j < k; j++) offsets[j] = j;
    return new VectorConvolution(null, m * directions, m, m * n, bases, offsets, packed, null, (long) k * n);
  }

  /**
   * The weight gradients of g's convolution for one sample, in D directions at once: {@code G_d =
   * Y_d unfold(X)'} ({@code cout x c·k·k}) for the sample's padded image X ({@link #load}) and its
   * output gradients {@code Y_d} ({@code cout x patches}). The roles are swapped: the kernel's
   * pixels are the filter's taps in ConvGeometry's column order (each based at its offset in the
   * padded image), its taps the output pixels (at their bases), and its filters {@code
   * filters[p·D·cout + d·cout + o] = Y_d[o, p]}, which the caller fills for each sample (the kernel
   * keeps the array). Output item d is {@code G_d}, column-major, {@code cout·c·k·k} entries after
   * item d - 1.
   */
  static VectorConvolution weightGradients(double[] filters, int cout, int directions, ConvGeometry g) {
    int c = g.c(), k = g.k(), d = g.d(), hp = g.h() + 2 * g.p();
    int[] bases = new int[c * k * k];
    for (int ch = 0; ch < c; ch++)
      for (int ki = 0; ki < k; ki++)
        for (int kj = 0; kj < k; kj++) bases[(ch * k + ki) * k + kj] = (ki * d + hp * kj * d) * c + ch;
    return new VectorConvolution(g, cout * directions, cout, cout * bases.length, bases, pixelBases(g), filters, null,
        (long) hp * (g.w() + 2 * g.p()) * c);
  }

  /** Where each output pixel {@code oh + outH·ow} of g's convolution reads the padded image first: {@code (oh·s + Hp·ow·s)·c}. */
  private static int[] pixelBases(ConvGeometry g) {
    int outH = g.outH(), hp = g.h() + 2 * g.p(), step = g.s() * g.c();
    int[] b = new int[g.patches()];
    for (int p = 0; p < b.length; p++) b[p] = (p % outH + hp * (p / outH)) * step;
    return b;
  }

  /** The taps' offsets in the padded image, in the order {@code (ki, kj, ch)}: {@code (ki·d + Hp·kj·d)·c + ch}. */
  private static int[] tapOffsets(ConvGeometry g) {
    int c = g.c(), k = g.k(), d = g.d(), hp = g.h() + 2 * g.p();
    int[] off = new int[c * k * k];
    for (int ki = 0; ki < k; ki++)
      for (int kj = 0; kj < k; kj++)
        for (int ch = 0; ch < c; ch++) off[(ki * k + kj) * c + ch] = (ki * d + hp * kj * d) * c + ch;
    return off;
  }

  /** The filters {@code w} ({@code m x (c·k·k)} in ConvGeometry's column order) packed tap-major in {@link #tapOffsets}' order. */
  private static double[] packTaps(double[] w, int m, ConvGeometry g) {
    int c = g.c(), k = g.k();
    double[] packed = new double[c * k * k * m];
    for (int ki = 0; ki < k; ki++)
      for (int kj = 0; kj < k; kj++)
        for (int ch = 0; ch < c; ch++) System.arraycopy(w, ((ch * k + ki) * k + kj) * m, packed, ((ki * k + kj) * c + ch) * m, m);
    return packed;
  }

  /** An input buffer for {@link #apply}: zeros, kept by the caller per thread (a padded image: only its interior is written). */
  double[] newInput() {
    return new double[inputSize];
  }

  /** Entries of the output of one input item: {@code m·patches}, over all groups. */
  int outputSize() {
    return m * patches;
  }

  /**
   * Item {@code item} of x (a batch of items {@code c x (h·w)}) into the interior of {@code padded}
   * ({@link #newInput}), one run of {@code h·c} entries per image column.
   */
  void load(BlasBatch x, long item, double[] padded) {
    int c = g.c(), h = g.h(), p = g.p(), hp = h + 2 * p, run = h * c;
    long at = item * (long) g.inputSize();
    for (int col = 0; col < g.w(); col++) x.read(at + (long) col * run, padded, (p + hp * (col + p)) * c, run);
  }

  /**
   * The kernel on one input item (a padded image, or a matrix's columns) into {@code out} from byte
   * {@code at} on, native byte order: the result block itself, so that the kernel's stores go
   * straight to it. Each output group (all m channels for a convolution: {@code m x patches},
   * column-major) is an item {@code groupChannels x patches} of its own, {@code groupStride} entries
   * after the one before. Each pass's last, partial block of pixels goes through a small buffer of
   * its own first. Within a group the channels go in blocks of 32 (four vectors, {@value
   * #PIXELS_32} pixels at a time), then 16 (two vectors, {@value #PIXELS_16} pixels), then 8 (one vector, {@value
   * #PIXELS_8} pixels). A block of pixels is consecutive in the output's order ({@code oh} fastest),
   * each pixel with its own base in the input, so blocks run across image columns and over any
   * stride.
   */
  void apply(double[] input, ByteBuffer out, int at) {
    ByteBuffer tail = ByteBuffer.allocate(Math.max(PIXELS_32, Math.max(PIXELS_16, PIXELS_8)) * groupChannels * Double.BYTES).order(NATIVE);
    for (int g0 = 0; g0 < m; g0 += groupChannels) {
      int to = at + (g0 / groupChannels) * groupStride * Double.BYTES, end = g0 + groupChannels, o = g0;
      for (; o + 4 * LANES <= end; o += 4 * LANES) pass(input, o, g0, 4, out, to, tail);
      for (; o + 2 * LANES <= end; o += 2 * LANES) pass(input, o, g0, 2, out, to, tail);
      for (; o < end; o += LANES) pass(input, o, g0, 1, out, to, tail);
    }
  }

  /** Output channels {@code o..o + vectors·8 - 1} (of the group from channel g0, stored from byte {@code at}) of every pixel. */
  private void pass(double[] x, int o, int g0, int vectors, ByteBuffer out, int at, ByteBuffer tail) {
    int r = vectors == 4 ? PIXELS_32 : vectors == 2 ? PIXELS_16 : PIXELS_8, mg = groupChannels;
    int[] b = new int[r];
    for (int p0 = 0; p0 < patches; p0 += r) {
      for (int i = 0; i < r; i++) b[i] = bases[Math.min(p0 + i, patches - 1)]; // past the end: the last pixel again, into the tail
      boolean full = p0 + r <= patches;
      ByteBuffer dst = full ? out : tail;
      int to = full ? at + (p0 * mg + o - g0) * Double.BYTES : 0;
      if (vectors == 4) block32(x, b[0], b[1], b[2], b[3], b[4], b[5], o, dst, to);
      else if (vectors == 2) block16(x, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], o, dst, to);
      else block8(x, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], o, dst, to);
      if (!full)
        for (int i = 0; p0 + i < patches; i++) out.put(at + ((p0 + i) * mg + o - g0) * Double.BYTES, tail, i * mg * Double.BYTES, vectors * LANES * Double.BYTES);
    }
  }


  /** Output channels {@code o..o+31} of the pixels at bases {@code b0..b5}, stored at byte {@code at + 8·r·(group channels)} of dst. */
  private void block32(double[] x, int b0, int b1, int b2, int b3, int b4, int b5, int o, ByteBuffer dst, int at) {
    DoubleVector c0 = DoubleVector.fromArray(V, bias, o + 0 * LANES);
    DoubleVector c1 = DoubleVector.fromArray(V, bias, o + 1 * LANES);
    DoubleVector c2 = DoubleVector.fromArray(V, bias, o + 2 * LANES);
    DoubleVector c3 = DoubleVector.fromArray(V, bias, o + 3 * LANES);
    DoubleVector a00 = c0, a01 = c1, a02 = c2, a03 = c3;
    DoubleVector a10 = c0, a11 = c1, a12 = c2, a13 = c3;
    DoubleVector a20 = c0, a21 = c1, a22 = c2, a23 = c3;
    DoubleVector a30 = c0, a31 = c1, a32 = c2, a33 = c3;
    DoubleVector a40 = c0, a41 = c1, a42 = c2, a43 = c3;
    DoubleVector a50 = c0, a51 = c1, a52 = c2, a53 = c3;
    int[] off = offsets;
    double[] w = packed;
    int mm = m, ps = groupChannels;
    for (int j = 0, wj = o; j < taps; j++, wj += mm) {
      DoubleVector w0 = DoubleVector.fromArray(V, w, wj + 0 * LANES), w1 = DoubleVector.fromArray(V, w, wj + 1 * LANES), w2 = DoubleVector.fromArray(V, w, wj + 2 * LANES), w3 = DoubleVector.fromArray(V, w, wj + 3 * LANES);
      int t = off[j];
      DoubleVector e;
      e = DoubleVector.broadcast(V, x[b0 + t]);
      a00 = w0.fma(e, a00);
      a01 = w1.fma(e, a01);
      a02 = w2.fma(e, a02);
      a03 = w3.fma(e, a03);
      e = DoubleVector.broadcast(V, x[b1 + t]);
      a10 = w0.fma(e, a10);
      a11 = w1.fma(e, a11);
      a12 = w2.fma(e, a12);
      a13 = w3.fma(e, a13);
      e = DoubleVector.broadcast(V, x[b2 + t]);
      a20 = w0.fma(e, a20);
      a21 = w1.fma(e, a21);
      a22 = w2.fma(e, a22);
      a23 = w3.fma(e, a23);
      e = DoubleVector.broadcast(V, x[b3 + t]);
      a30 = w0.fma(e, a30);
      a31 = w1.fma(e, a31);
      a32 = w2.fma(e, a32);
      a33 = w3.fma(e, a33);
      e = DoubleVector.broadcast(V, x[b4 + t]);
      a40 = w0.fma(e, a40);
      a41 = w1.fma(e, a41);
      a42 = w2.fma(e, a42);
      a43 = w3.fma(e, a43);
      e = DoubleVector.broadcast(V, x[b5 + t]);
      a50 = w0.fma(e, a50);
      a51 = w1.fma(e, a51);
      a52 = w2.fma(e, a52);
      a53 = w3.fma(e, a53);
    }
    a00.intoByteBuffer(dst, at + (0 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a01.intoByteBuffer(dst, at + (0 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a02.intoByteBuffer(dst, at + (0 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a03.intoByteBuffer(dst, at + (0 * ps + 3 * LANES) * Double.BYTES, NATIVE);
    a10.intoByteBuffer(dst, at + (1 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a11.intoByteBuffer(dst, at + (1 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a12.intoByteBuffer(dst, at + (1 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a13.intoByteBuffer(dst, at + (1 * ps + 3 * LANES) * Double.BYTES, NATIVE);
    a20.intoByteBuffer(dst, at + (2 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a21.intoByteBuffer(dst, at + (2 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a22.intoByteBuffer(dst, at + (2 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a23.intoByteBuffer(dst, at + (2 * ps + 3 * LANES) * Double.BYTES, NATIVE);
    a30.intoByteBuffer(dst, at + (3 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a31.intoByteBuffer(dst, at + (3 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a32.intoByteBuffer(dst, at + (3 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a33.intoByteBuffer(dst, at + (3 * ps + 3 * LANES) * Double.BYTES, NATIVE);
    a40.intoByteBuffer(dst, at + (4 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a41.intoByteBuffer(dst, at + (4 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a42.intoByteBuffer(dst, at + (4 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a43.intoByteBuffer(dst, at + (4 * ps + 3 * LANES) * Double.BYTES, NATIVE);
    a50.intoByteBuffer(dst, at + (5 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a51.intoByteBuffer(dst, at + (5 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a52.intoByteBuffer(dst, at + (5 * ps + 2 * LANES) * Double.BYTES, NATIVE);
    a53.intoByteBuffer(dst, at + (5 * ps + 3 * LANES) * Double.BYTES, NATIVE);
  }

  /** Output channels {@code o..o+15} of the pixels at bases {@code b0..b11}, stored at byte {@code at + 8·r·(group channels)} of dst. */
  private void block16(double[] x, int b0, int b1, int b2, int b3, int b4, int b5, int b6, int b7, int b8, int b9, int b10, int b11, int o, ByteBuffer dst, int at) {
    DoubleVector c0 = DoubleVector.fromArray(V, bias, o + 0 * LANES);
    DoubleVector c1 = DoubleVector.fromArray(V, bias, o + 1 * LANES);
    DoubleVector a00 = c0, a01 = c1;
    DoubleVector a10 = c0, a11 = c1;
    DoubleVector a20 = c0, a21 = c1;
    DoubleVector a30 = c0, a31 = c1;
    DoubleVector a40 = c0, a41 = c1;
    DoubleVector a50 = c0, a51 = c1;
    DoubleVector a60 = c0, a61 = c1;
    DoubleVector a70 = c0, a71 = c1;
    DoubleVector a80 = c0, a81 = c1;
    DoubleVector a90 = c0, a91 = c1;
    DoubleVector a100 = c0, a101 = c1;
    DoubleVector a110 = c0, a111 = c1;
    int[] off = offsets;
    double[] w = packed;
    int mm = m, ps = groupChannels;
    for (int j = 0, wj = o; j < taps; j++, wj += mm) {
      DoubleVector w0 = DoubleVector.fromArray(V, w, wj + 0 * LANES), w1 = DoubleVector.fromArray(V, w, wj + 1 * LANES);
      int t = off[j];
      DoubleVector e;
      e = DoubleVector.broadcast(V, x[b0 + t]);
      a00 = w0.fma(e, a00);
      a01 = w1.fma(e, a01);
      e = DoubleVector.broadcast(V, x[b1 + t]);
      a10 = w0.fma(e, a10);
      a11 = w1.fma(e, a11);
      e = DoubleVector.broadcast(V, x[b2 + t]);
      a20 = w0.fma(e, a20);
      a21 = w1.fma(e, a21);
      e = DoubleVector.broadcast(V, x[b3 + t]);
      a30 = w0.fma(e, a30);
      a31 = w1.fma(e, a31);
      e = DoubleVector.broadcast(V, x[b4 + t]);
      a40 = w0.fma(e, a40);
      a41 = w1.fma(e, a41);
      e = DoubleVector.broadcast(V, x[b5 + t]);
      a50 = w0.fma(e, a50);
      a51 = w1.fma(e, a51);
      e = DoubleVector.broadcast(V, x[b6 + t]);
      a60 = w0.fma(e, a60);
      a61 = w1.fma(e, a61);
      e = DoubleVector.broadcast(V, x[b7 + t]);
      a70 = w0.fma(e, a70);
      a71 = w1.fma(e, a71);
      e = DoubleVector.broadcast(V, x[b8 + t]);
      a80 = w0.fma(e, a80);
      a81 = w1.fma(e, a81);
      e = DoubleVector.broadcast(V, x[b9 + t]);
      a90 = w0.fma(e, a90);
      a91 = w1.fma(e, a91);
      e = DoubleVector.broadcast(V, x[b10 + t]);
      a100 = w0.fma(e, a100);
      a101 = w1.fma(e, a101);
      e = DoubleVector.broadcast(V, x[b11 + t]);
      a110 = w0.fma(e, a110);
      a111 = w1.fma(e, a111);
    }
    a00.intoByteBuffer(dst, at + (0 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a01.intoByteBuffer(dst, at + (0 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a10.intoByteBuffer(dst, at + (1 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a11.intoByteBuffer(dst, at + (1 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a20.intoByteBuffer(dst, at + (2 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a21.intoByteBuffer(dst, at + (2 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a30.intoByteBuffer(dst, at + (3 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a31.intoByteBuffer(dst, at + (3 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a40.intoByteBuffer(dst, at + (4 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a41.intoByteBuffer(dst, at + (4 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a50.intoByteBuffer(dst, at + (5 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a51.intoByteBuffer(dst, at + (5 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a60.intoByteBuffer(dst, at + (6 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a61.intoByteBuffer(dst, at + (6 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a70.intoByteBuffer(dst, at + (7 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a71.intoByteBuffer(dst, at + (7 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a80.intoByteBuffer(dst, at + (8 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a81.intoByteBuffer(dst, at + (8 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a90.intoByteBuffer(dst, at + (9 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a91.intoByteBuffer(dst, at + (9 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a100.intoByteBuffer(dst, at + (10 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a101.intoByteBuffer(dst, at + (10 * ps + 1 * LANES) * Double.BYTES, NATIVE);
    a110.intoByteBuffer(dst, at + (11 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a111.intoByteBuffer(dst, at + (11 * ps + 1 * LANES) * Double.BYTES, NATIVE);
  }

  /** Output channels {@code o..o+7} of the pixels at bases {@code b0..b7}, stored at byte {@code at + 8·r·(group channels)} of dst. */
  private void block8(double[] x, int b0, int b1, int b2, int b3, int b4, int b5, int b6, int b7, int o, ByteBuffer dst, int at) {
    DoubleVector c0 = DoubleVector.fromArray(V, bias, o + 0 * LANES);
    DoubleVector a00 = c0;
    DoubleVector a10 = c0;
    DoubleVector a20 = c0;
    DoubleVector a30 = c0;
    DoubleVector a40 = c0;
    DoubleVector a50 = c0;
    DoubleVector a60 = c0;
    DoubleVector a70 = c0;
    int[] off = offsets;
    double[] w = packed;
    int mm = m, ps = groupChannels;
    for (int j = 0, wj = o; j < taps; j++, wj += mm) {
      DoubleVector w0 = DoubleVector.fromArray(V, w, wj + 0 * LANES);
      int t = off[j];
      DoubleVector e;
      e = DoubleVector.broadcast(V, x[b0 + t]);
      a00 = w0.fma(e, a00);
      e = DoubleVector.broadcast(V, x[b1 + t]);
      a10 = w0.fma(e, a10);
      e = DoubleVector.broadcast(V, x[b2 + t]);
      a20 = w0.fma(e, a20);
      e = DoubleVector.broadcast(V, x[b3 + t]);
      a30 = w0.fma(e, a30);
      e = DoubleVector.broadcast(V, x[b4 + t]);
      a40 = w0.fma(e, a40);
      e = DoubleVector.broadcast(V, x[b5 + t]);
      a50 = w0.fma(e, a50);
      e = DoubleVector.broadcast(V, x[b6 + t]);
      a60 = w0.fma(e, a60);
      e = DoubleVector.broadcast(V, x[b7 + t]);
      a70 = w0.fma(e, a70);
    }
    a00.intoByteBuffer(dst, at + (0 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a10.intoByteBuffer(dst, at + (1 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a20.intoByteBuffer(dst, at + (2 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a30.intoByteBuffer(dst, at + (3 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a40.intoByteBuffer(dst, at + (4 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a50.intoByteBuffer(dst, at + (5 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a60.intoByteBuffer(dst, at + (6 * ps + 0 * LANES) * Double.BYTES, NATIVE);
    a70.intoByteBuffer(dst, at + (7 * ps + 0 * LANES) * Double.BYTES, NATIVE);
  }
}
