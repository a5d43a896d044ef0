package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_data_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_weights_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.hbp.backend.blas.DnnlEngine.ADJOINT;
import static org.hbp.backend.blas.DnnlEngine.FORWARD;
import static org.hbp.backend.blas.DnnlEngine.FORWARD_BIAS;
import static org.hbp.backend.blas.DnnlEngine.WEIGHT_GRADIENT;
import static org.hbp.backend.blas.DnnlEngine.check;
import static org.hbp.backend.blas.DnnlEngine.destroy;

import java.lang.ref.Reference;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.FloatPointer;
import org.hbp.backend.ConvGeometry;
import org.hbp.backend.blas.DnnlEngine.Key;

/**
 * float32 convolutions of the {@link BlasBackend} by oneDNN ({@link DnnlEngine}): the direct
 * (implicit-GEMM) kernels oneDNN picks for the CPU, which never form the unfolded matrix of an
 * im2col convolution. {@link #forward}, {@link #forwardBias}, {@link #adjoint} and {@link
 * #weightGradient}, with the reorders of the weights into the layout oneDNN's kernel prefers.
 *
 * <p><b>Layout.</b> An item of x is the tensor {@code (c, h, w)} column-major: channels fastest,
 * then rows, then columns. That is oneDNN's channels-last layout of the tensor with its two
 * spatial axes swapped, {@code (N, C, W, H)}; a square kernel with equal stride, padding and
 * dilation on both axes makes the convolution of the swapped tensor the swapped convolution, with
 * the filters' spatial axes swapped too, which the weights' strides express. The items of a batch
 * are the images {@code N = samples*directions}. Nothing is copied but the (small) weights,
 * reordered into the layout oneDNN's kernel prefers.
 *
 * <p>The primitives of a shape are made on first use and kept in the engine's cache; a shape
 * oneDNN rejects throws {@link DnnlEngine.Unsupported}, and the backend falls back to unfold and
 * gemm. Every call holds the engine's lock.
 *
 * <p><b>Non-finite values.</b> oneDNN skips the taps that fall in the padding, where unfold and
 * gemm multiply them by zero: an infinite weight gives infinities at the border here and NaN there.
 */
final class DnnlConvolutions {
  private final DnnlEngine dnnl;

  DnnlConvolutions(DnnlEngine dnnl) {
    this.dnnl = dnnl;
  }

  /**
   * {@code out = w * unfold(x)} over {@code images} consecutive images: x from entry 0 of its
   * block, out of shape cout x patches per image.
   */
  void forward(BlasBatch w, int cout, BlasBatch x, ConvGeometry g, long images, BlasBatch out) {
    forward(w, 0, cout, x, g, images, out, 0, (long) cout * g.patches());
  }

  /**
   * {@code out = w * unfold(x)} over {@code images} consecutive images of x (from entry 0), the
   * filters from entry {@code wOffset} of w's block, image i's result at entry
   * {@code outOffset + i * outStride} of out's.
   */
  void forward(BlasBatch w, long wOffset, int cout, BlasBatch x, ConvGeometry g, long images, BlasBatch out, long outOffset,
      long outStride) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(FORWARD, g, cout, images, outStride));
      dnnl_memory mw = weightsIn(p, w, wOffset);
      dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
          new dnnl_memory[] {dnnl.memory(p.x, x.pointer(), 0), mw, dnnl.memory(p.y, out.pointer(), outOffset)}, "a convolution", w, x, out);
    }
  }

  /**
   * {@code out = w * unfold(x) + bias * ones'} over {@code images} consecutive images, the bias
   * vector (cout entries) from entry 0 of its block: the bias added by the convolution kernel.
   */
  void forwardBias(BlasBatch w, int cout, BlasBatch x, BlasBatch bias, ConvGeometry g, long images, BlasBatch out) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(FORWARD_BIAS, g, cout, images, (long) cout * g.patches()));
      dnnl_memory mw = weightsIn(p, w);
      dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
          new dnnl_memory[] {dnnl.memory(p.x, x.pointer(), 0), mw, dnnl.memory(p.bias, bias.pointer(), 0), dnnl.memory(p.y, out.pointer(), 0)},
          "a convolution", w, x, bias, out);
    }
  }

  /** {@code out = fold(w' * y)} over {@code images} consecutive images. */
  void adjoint(BlasBatch w, int cout, BlasBatch y, ConvGeometry g, long images, BlasBatch out) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(ADJOINT, g, cout, images, (long) cout * g.patches()));
      dnnl_memory mw = weightsIn(p, w);
      dnnl.run(p.primitive, new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
          new dnnl_memory[] {dnnl.memory(p.y, y.pointer(), 0), mw, dnnl.memory(p.x, out.pointer(), 0)}, "a convolution's adjoint", w, y, out);
    }
  }

  /**
   * {@code sum_n y_n * unfold(x_n)'} into out's item at {@code outOffset} (entries), over
   * {@code images} images: y's from entry {@code yOffset}, {@code yStride} entries apart, x's
   * consecutive from entry {@code xOffset}.
   */
  void weightGradient(BlasBatch y, long yOffset, long yStride, int cout, BlasBatch x, long xOffset, ConvGeometry g, long images,
      BlasBatch out, long outOffset) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(WEIGHT_GRADIENT, g, cout, images, yStride));
      dnnl_memory mx = dnnl.memory(p.x, x.pointer(), xOffset), my = dnnl.memory(p.y, y.pointer(), yOffset);
      dnnl_memory mOut = dnnl.memory(p.userWeights, out.pointer(), outOffset);
      dnnl_memory mw = p.reorder == null ? null : dnnl.memory(p.weights, p.scratch, 0);
      try {
        dnnl.execute(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
            new dnnl_memory[] {mx, my, mw == null ? mOut : mw});
        if (p.reorder != null) dnnl.execute(p.reorder, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST}, new dnnl_memory[] {mw, mOut});
        dnnl.await("the convolution's weight gradient");
      } finally {
        destroy(mx, my, mOut, mw);
        Reference.reachabilityFence(y);
        Reference.reachabilityFence(x);
        Reference.reachabilityFence(out);
      }
    }
  }

  /** The weights as the primitive reads them: w itself, or w reordered into the scratch buffer. */
  private dnnl_memory weightsIn(DnnlPrepared p, BlasBatch w) {
    return weightsIn(p, w, 0);
  }

  /** {@link #weightsIn(DnnlPrepared, BlasBatch)} for the filters from entry {@code offset} of w's block. */
  private dnnl_memory weightsIn(DnnlPrepared p, BlasBatch w, long offset) {
    dnnl_memory user = dnnl.memory(p.userWeights, w.pointer(), offset);
    if (p.reorder == null) return user;
    dnnl_memory scratch = dnnl.memory(p.weights, p.scratch, 0);
    try {
      dnnl.execute(p.reorder, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST}, new dnnl_memory[] {user, scratch});
      dnnl.await("the weights' reorder");
    } finally {
      destroy(user);
    }
    return scratch;
  }

  /** The cached primitives of a convolution's shape, made on first use; {@link DnnlEngine.Unsupported} if oneDNN has none. */
  private DnnlPrepared prepare(Key key) {
    return dnnl.prepare(key, p -> build(key, p));
  }

  /** Creates the primitives of a convolution's shape into p (what is made is in p, for cleanup on failure). */
  private void build(Key key, DnnlPrepared p) {
    ConvGeometry g = key.g();
    int c = g.c(), k = g.k(), cout = key.cout(), oh = g.outH(), ow = g.outW();
    long[] strides = {g.s(), g.s()}, dilation = {g.d() - 1, g.d() - 1}, padding = {g.p(), g.p()};
    p.x = images(key.images(), c, g.h(), g.w(), (long) c * g.h() * g.w());
    p.y = images(key.images(), cout, oh, ow, key.strideY());
    p.userWeights = userWeights(cout, c, k);
    dnnl_memory_desc any = anyWeights(cout, c, k);
    if (key.kind() == FORWARD_BIAS) {
      p.bias = new dnnl_memory_desc();
      check(dnnl_memory_desc_create_with_tag(p.bias, 1, new long[] {cout}, dnnl_f32, dnnl_a), "a bias descriptor");
    }
    dnnl_primitive_desc forward = new dnnl_primitive_desc();
    check(dnnl_convolution_forward_primitive_desc_create(forward, dnnl.engine, dnnl_forward_training, dnnl_convolution_direct, p.x, any,
        p.bias, p.y, strides, dilation, padding, padding, null), "creating a convolution for " + g);
    int weightsQuery = dnnl_query_weights_md;
    if (key.kind() == FORWARD || key.kind() == FORWARD_BIAS) {
      p.pd = forward;
    } else {
      p.pd = new dnnl_primitive_desc();
      if (key.kind() == ADJOINT) {
        check(dnnl_convolution_backward_data_primitive_desc_create(p.pd, dnnl.engine, dnnl_convolution_direct, p.x, any, p.y, strides,
            dilation, padding, padding, forward, null), "creating a convolution's backward-data pass for " + g);
      } else {
        check(dnnl_convolution_backward_weights_primitive_desc_create(p.pd, dnnl.engine, dnnl_convolution_direct, p.x, any, null, p.y,
            strides, dilation, padding, padding, forward, null), "creating a convolution's backward-weights pass for " + g);
        weightsQuery = dnnl_query_diff_weights_md;
      }
      dnnl_primitive_desc_destroy(forward);
    }
    dnnl_memory_desc_destroy(any);
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating a convolution primitive");
    p.weights = dnnl_primitive_desc_query_md(p.pd, weightsQuery, 0); // owned by the pd
    if (dnnl_memory_desc_equal(p.weights, p.userWeights) == 0) {
      boolean toUser = key.kind() == WEIGHT_GRADIENT;
      p.reorderPd = new dnnl_primitive_desc();
      check(dnnl_reorder_primitive_desc_create(p.reorderPd, toUser ? p.weights : p.userWeights, dnnl.engine,
          toUser ? p.userWeights : p.weights, dnnl.engine, null), "creating a weights reorder");
      p.reorder = new dnnl_primitive();
      check(dnnl_primitive_create(p.reorder, p.reorderPd), "creating a weights reorder primitive");
      p.scratch = new FloatPointer(dnnl_memory_desc_get_size(p.weights) / Float.BYTES + 1);
    }
  }

  /** Images of (c, h, w) as (N, C, W, H) channels-last; consecutive images {@code stride} entries apart. */
  private static dnnl_memory_desc images(long n, int c, int h, int w, long stride) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_strides(md, 4, new long[] {n, c, w, h}, dnnl_f32, new long[] {stride, 1, (long) c * h, c}),
        "an image memory descriptor");
    return md;
  }

  /** The filters of a cout x (c*k*k) matrix, column (ch*k + ki)*k + kj, as (O, I, KW, KH). */
  private static dnnl_memory_desc userWeights(int cout, int c, int k) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    long o = cout;
    check(dnnl_memory_desc_create_with_strides(md, 4, new long[] {cout, c, k, k}, dnnl_f32, new long[] {1, o * k * k, o, o * k}),
        "the weights' memory descriptor");
    return md;
  }

  private static dnnl_memory_desc anyWeights(int cout, int c, int k) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(md, 4, new long[] {cout, c, k, k}, dnnl_f32, dnnl_format_tag_any), "a weights descriptor");
    return md;
  }
}
