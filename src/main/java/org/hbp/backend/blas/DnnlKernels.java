package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
import static org.bytedeco.dnnl.global.dnnl.dnnl_abc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_data_type_undef;
import static org.bytedeco.dnnl.global.dnnl.dnnl_matmul_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_append_sum;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_post_ops;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_add;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_div;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_mul;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_sub;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_data_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_backward_weights_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_backward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_logistic_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_tanh_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_logistic;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_tanh;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

import java.lang.ref.Reference;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.ConvGeometry;

/**
 * float32 kernels of the {@link BlasBackend} by oneDNN ({@code org.bytedeco:dnnl}), in the
 * backend's own memory layout.
 * <ul>
 *   <li>Convolutions: the direct (implicit-GEMM) kernels oneDNN picks for the CPU, which never form
 *       the unfolded matrix of an im2col convolution.</li>
 *   <li>Built-in elementwise functions ({@link #eltwiseAlgorithm}: sigmoid, tanh) and their
 *       derivatives from the value times directions ({@link #eltwiseBackwardAlgorithm}): oneDNN's
 *       vectorized (JIT-compiled SIMD) forms, where Java computes one {@code Math.exp} at a time.</li>
 *   <li>Entrywise sums, differences, products and quotients of two batches ({@link #binary}), one
 *       of them broadcast over samples, directions or its entries: oneDNN's binary kernels on the
 *       batches' memory, where the host kernels copy every entry to a Java array and back. IEEE
 *       float arithmetic gives the same results bit for bit.</li>
 * </ul>
 * oneDNN has neither float64 convolutions nor float64 elementwise kernels on CPUs; the float64
 * backend keeps unfold, gemm and its Java maps.
 *
 * <p><b>Layout.</b> An item of x is the tensor {@code (c, h, w)} column-major: channels fastest,
 * then rows, then columns. That is oneDNN's channels-last layout of the tensor with its two
 * spatial axes swapped, {@code (N, C, W, H)}; a square kernel with equal stride, padding and
 * dilation on both axes makes the convolution of the swapped tensor the swapped convolution, with
 * the filters' spatial axes swapped too, which the weights' strides express. The items of a batch
 * are the images {@code N = samples*directions}. Nothing is copied but the (small) weights,
 * reordered into the layout oneDNN's kernel prefers.
 *
 * <p><b>Threads.</b> oneDNN runs on OpenMP threads (its bundled libgomp), {@code
 * OMP_NUM_THREADS} of them, by default one per core; {@code OMP_WAIT_POLICY=PASSIVE} (set by the
 * {@code hbp} launcher) keeps them from spinning on the cores after each call.
 *
 * <p>Primitives are created once per shape and kept (at most {@value #CACHED} shapes). Calls are
 * serialized: the backend's passes call kernels from one thread. A shape oneDNN rejects throws
 * {@link Unsupported}, and the backend falls back to unfold and gemm.
 *
 * <p><b>Non-finite values.</b> oneDNN skips the taps that fall in the padding, where unfold and
 * gemm multiply them by zero: an infinite weight gives infinities at the border here and NaN there.
 */
final class DnnlKernels {
  private static final int CACHED = 128;
  private static final int FORWARD = 0, ADJOINT = 2, WEIGHT_GRADIENT = 3, ELTWISE = 4, ELTWISE_BACKWARD = 5,
      FORWARD_BIAS = 6;

  private static volatile DnnlKernels instance;
  private static volatile String unavailable;

  private final dnnl_engine engine = new dnnl_engine();
  private final org.bytedeco.dnnl.dnnl_stream stream = new org.bytedeco.dnnl.dnnl_stream();
  private final Map<Key, Prepared> cache = lru();

  /** A cache of prepared primitives keeping the {@value #CACHED} most recently used, destroying the ones it drops. */
  private static <K> Map<K, Prepared> lru() {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<K, Prepared> eldest) {
        if (size() <= CACHED) return false;
        eldest.getValue().destroy();
        return true;
      }
    };
  }

  private DnnlKernels() {
    check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "stream");
  }

  /**
   * The shared instance, or null when oneDNN cannot be used here: its natives did not load, or the
   * system property {@code hbp.blas.dnnl} is {@code false} (the im2col path is then used, e.g. to
   * compare the two). {@link #unavailableReason} says why.
   */
  static DnnlKernels get() {
    DnnlKernels d = instance;
    if (d != null || unavailable != null) return d;
    synchronized (DnnlKernels.class) {
      if (instance != null || unavailable != null) return instance;
      if (!Boolean.parseBoolean(System.getProperty("hbp.blas.dnnl", "true"))) {
        unavailable = "disabled by -Dhbp.blas.dnnl=false";
        return null;
      }
      try {
        Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        instance = new DnnlKernels();
      } catch (Throwable e) {
        unavailable = "oneDNN (org.bytedeco:dnnl, classifier " + Loader.getPlatform() + ") could not be loaded: " + e;
      }
      return instance;
    }
  }

  /** Why {@link #get} returns null, or null when oneDNN is in use. */
  static String unavailableReason() {
    get();
    return unavailable;
  }

  /**
   * What one kernel call needs besides its pointers: the key of the prepared primitives. For
   * {@link #ELTWISE}, {@code cout} is the algorithm and {@code images} the entry count.
   */
  private record Key(int kind, ConvGeometry g, int cout, long images, long strideY) {}

  /** oneDNN's forms of the built-in elementwise functions ({@link #eltwiseAlgorithm}); exp is not one: oneDNN's exp(NaN) is infinity. */
  private static final Map<String, Integer> FORWARD_ALGORITHMS = Map.of("sigmoid", dnnl_eltwise_logistic, "tanh", dnnl_eltwise_tanh);

  /** oneDNN's backward forms of built-in derivatives written in the value ({@link #eltwiseBackwardAlgorithm}). */
  private static final Map<String, Integer> BACKWARD_ALGORITHMS = Map.of("sigmoid_d1_of_value", dnnl_eltwise_logistic_use_dst_for_bwd,
      "tanh_d1_of_value", dnnl_eltwise_tanh_use_dst_for_bwd);

  /**
   * oneDNN's algorithm for a built-in elementwise function ({@link
   * org.hbp.backend.ScalarFunction#builtin}), or -1 when it has none used here. Only functions
   * that oneDNN computes as {@code org.hbp.math.Scalars} does, NaN included, are mapped (not
   * relu, which maps NaN to 0, nor exp, which maps it to infinity).
   */
  static int eltwiseAlgorithm(String builtin) {
    return builtin == null ? -1 : FORWARD_ALGORITHMS.getOrDefault(builtin, -1);
  }

  /**
   * oneDNN's backward algorithm computing {@code f'(t) * v} from the value {@code u = f(t)} for a
   * built-in derivative of value ({@code sigmoid_d1_of_value}: u (1 - u); {@code
   * tanh_d1_of_value}: 1 - u^2), or -1.
   */
  static int eltwiseBackwardAlgorithm(String builtin) {
    return builtin == null ? -1 : BACKWARD_ALGORITHMS.getOrDefault(builtin, -1);
  }


  /**
   * {@code out = f'(t) .* v} over the first n entries, from {@code u = f(t)}: oneDNN's elementwise
   * backward pass with {@code u} as the forward output and v as the output gradient.
   */
  synchronized void eltwiseBackward(int algorithm, BlasBatch u, BlasBatch v, BlasBatch out, long n) {
    Prepared p = prepare(new Key(ELTWISE_BACKWARD, null, algorithm, n, 0));
    run(p.primitive, new int[] {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC},
        new dnnl_memory[] {memory(p.x, u.pointer(), 0), memory(p.x, v.pointer(), 0), memory(p.x, out.pointer(), 0)},
        "an elementwise backward primitive", u, v, out);
  }

  /** {@code out = f(x)} entrywise over the first n entries, f given by {@link #eltwiseAlgorithm}. */
  synchronized void eltwise(int algorithm, BlasBatch x, BlasBatch out, long n) {
    Prepared p = prepare(new Key(ELTWISE, null, algorithm, n, 0));
    run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST}, new dnnl_memory[] {memory(p.x, x.pointer(), 0), memory(p.x, out.pointer(), 0)},
        "an elementwise primitive", x, out);
  }

  /** The elementwise primitive of a key (its {@code cout} the algorithm, {@code images} the entry count). */
  private void buildEltwise(Key key, Prepared p) {
    p.x = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(p.x, 1, new long[] {key.images}, dnnl_f32, dnnl_a), "a vector descriptor");
    p.y = p.x;
    p.pd = new dnnl_primitive_desc();
    if (key.kind == ELTWISE) {
      check(dnnl_eltwise_forward_primitive_desc_create(p.pd, engine, dnnl_forward_inference, key.cout, p.x, p.x, 0f, 0f, null),
          "creating an elementwise primitive");
    } else {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      try {
        check(dnnl_eltwise_forward_primitive_desc_create(forward, engine, dnnl_forward_training, key.cout, p.x, p.x, 0f, 0f, null),
            "creating an elementwise primitive");
        check(dnnl_eltwise_backward_primitive_desc_create(p.pd, engine, key.cout, p.x, p.x, p.x, 0f, 0f, forward, null),
            "creating an elementwise backward primitive");
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    }
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating an elementwise primitive");
  }

  /** A primitive, its memory descriptors, and the reorder of the weights between our layout and its. */
  private static final class Prepared {
    dnnl_primitive_desc pd;
    dnnl_primitive primitive;
    dnnl_memory_desc x, y, userWeights, weights;
    /** The bias vector of a {@link #FORWARD_BIAS} pass, else null. */
    dnnl_memory_desc bias;
    /** Reorders user weights to the primitive's (forward, adjoint) or its weight gradient to ours; null when the layouts agree. */
    dnnl_primitive reorder;
    dnnl_primitive_desc reorderPd;
    /** The weights (or the weight gradient) in the primitive's layout, when reordered. */
    FloatPointer scratch;

    void destroy() {
      if (reorder != null) dnnl_primitive_destroy(reorder);
      if (reorderPd != null) dnnl_primitive_desc_destroy(reorderPd);
      if (primitive != null) dnnl_primitive_destroy(primitive);
      if (pd != null) dnnl_primitive_desc_destroy(pd);
      if (x != null) dnnl_memory_desc_destroy(x);
      if (y != null && y != x) dnnl_memory_desc_destroy(y);
      if (userWeights != null) dnnl_memory_desc_destroy(userWeights);
      if (bias != null) dnnl_memory_desc_destroy(bias);
      if (scratch != null) scratch.deallocate();
    }
  }

  private static void check(int status, String what) {
    if (status != dnnl_success) throw new IllegalStateException("oneDNN: " + what + " failed with status " + status);
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

  /**
   * Thrown when oneDNN has no primitive for a shape (it rejected its descriptors): the backend then
   * computes it without oneDNN (unfold and gemm, Java maps). Remembered per shape, so it is asked once.
   */
  static final class Unsupported extends RuntimeException {
    Unsupported(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Shapes oneDNN rejected. */
  private final java.util.Set<Key> rejected = new java.util.HashSet<>();

  /** How many shapes oneDNN rejected (so far, in this process). */
  synchronized int rejectedShapes() {
    return rejected.size();
  }

  /** Geometries to treat as rejected by oneDNN: tests of the fallback set it (none otherwise). */
  static volatile java.util.function.Predicate<ConvGeometry> rejectForTesting = g -> false;

  /** The cached primitives of a shape, made on first use; {@link Unsupported} if oneDNN has none. */
  /**
   * The shape of a binary kernel: {@code out (s, d, n) = x (s, d, n) op y (ys, yd, yn)}, each of y's
   * axes either x's extent or 1 (broadcast); an item index is {@code sample * directions + direction}.
   */
  private record BinaryKey(int algorithm, long s, long d, long n, long ys, long yd, long yn) {}

  private final Map<BinaryKey, Prepared> binaries = lru();

  /** oneDNN's binary algorithm of an elementwise operation of {@link org.hbp.backend.BackendChecks} (ADD ... DIVIDE). */
  static int binaryAlgorithm(int op) {
    return switch (op) {
      case org.hbp.backend.BackendChecks.ADD -> dnnl_binary_add;
      case org.hbp.backend.BackendChecks.SUBTRACT -> dnnl_binary_sub;
      case org.hbp.backend.BackendChecks.MULTIPLY -> dnnl_binary_mul;
      case org.hbp.backend.BackendChecks.DIVIDE -> dnnl_binary_div;
      default -> throw new IllegalArgumentException("no binary algorithm for operation " + op);
    };
  }

  /**
   * {@code out = x op y} entrywise, x and out of shape {@code (s, d, n)} (samples, directions,
   * entries per item), y of shape {@code y[0] x y[1] x y[2]}, each axis x's extent or 1 (broadcast).
   */
  synchronized void binary(int algorithm, BlasBatch x, BlasBatch y, long[] yShape, long s, long d, long n, BlasBatch out) {
    BinaryKey key = new BinaryKey(algorithm, s, d, n, yShape[0], yShape[1], yShape[2]);
    Prepared p = binaries.get(key);
    if (p == null) {
      p = new Prepared();
      try {
        p.x = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(p.x, 3, new long[] {s, d, n}, dnnl_f32, dnnl_abc), "a binary operand descriptor");
        p.y = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(p.y, 3, yShape.clone(), dnnl_f32, dnnl_abc), "a binary operand descriptor");
        p.pd = new dnnl_primitive_desc();
        check(dnnl_binary_primitive_desc_create(p.pd, engine, algorithm, p.x, p.y, p.x, null), "creating a binary primitive");
        p.primitive = new dnnl_primitive();
        check(dnnl_primitive_create(p.primitive, p.pd), "creating a binary primitive");
      } catch (IllegalStateException e) {
        p.destroy();
        throw new Unsupported("oneDNN has no binary primitive for " + key + ": " + e.getMessage(), e);
      }
      binaries.put(key, p);
    }
    run(p.primitive, new int[] {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST},
        new dnnl_memory[] {memory(p.x, x.pointer(), 0), memory(p.y, y.pointer(), 0), memory(p.x, out.pointer(), 0)}, "a binary primitive", x, y,
        out);
  }

  /**
   * The shape of a matrix product {@code C = op(A) op(B) (+ C)}, column-major with leading
   * dimensions, as BLAS states it; {@code accumulate} adds onto C (beta = 1, a sum post-op).
   */
  private record MatmulKey(boolean transposeA, boolean transposeB, long m, long n, long k, long lda, long ldb, long ldc, boolean accumulate) {}

  private final Map<MatmulKey, Prepared> matmuls = lru();

  /**
   * {@code C = op(A) op(B)}, or {@code C += op(A) op(B)} when {@code accumulate}, float32,
   * column-major like BLAS's gemm (A, B and C from entries ao, bo and co of their blocks): oneDNN's
   * matmul primitive (its brgemm kernels), one per shape, cached. Not {@code dnnl_sgemm}: oneDNN
   * 3.11's sgemm corrupts the heap when a signal (a profiler's, for one) interrupts it; a C program
   * calling it under a 200 µs {@code ITIMER_PROF} aborts with "corrupted size vs. prev_size" on
   * shapes such as 512 x 500 x 1024, where OpenBLAS and this primitive run clean.
   *
   * <p>In row-major terms, which oneDNN uses, the product is {@code C' = op(B)' op(A)'}: the source
   * is op(B)' (n x k), the weights op(A)' (k x m), the destination C' (n x m), each a strided view.
   */
  synchronized void matmul(boolean transposeA, boolean transposeB, long m, long n, long k, BlasBatch a, long ao, long lda, BlasBatch b, long bo,
      long ldb, BlasBatch c, long co, long ldc, boolean accumulate) {
    MatmulKey key = new MatmulKey(transposeA, transposeB, m, n, k, lda, ldb, ldc, accumulate);
    Prepared p = matmuls.get(key);
    if (p == null) {
      p = new Prepared();
      try {
        buildMatmul(key, p);
      } catch (IllegalStateException e) {
        p.destroy();
        throw new Unsupported("oneDNN has no matmul primitive for " + key + ": " + e.getMessage(), e);
      }
      matmuls.put(key, p);
    }
    run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        new dnnl_memory[] {memory(p.x, b.pointer(), bo), memory(p.userWeights, a.pointer(), ao), memory(p.y, c.pointer(), co)}, "a matmul primitive",
        a, b, c);
  }

  /** The matmul primitive of a shape into p: strided views of op(B)', op(A)' and C' ({@link #matmul}). */
  private void buildMatmul(MatmulKey key, Prepared p) {
    long m = key.m, n = key.n, k = key.k;
    // op(B)'(j, p) is B(p, j) at p + j ldb, or, transposed, B(j, p) at j + p ldb; likewise op(A)'(p, i)
    p.x = matrix(n, k, key.transposeB ? 1 : key.ldb, key.transposeB ? key.ldb : 1);
    p.userWeights = matrix(k, m, key.transposeA ? 1 : key.lda, key.transposeA ? key.lda : 1);
    p.y = matrix(n, m, key.ldc, 1);
    dnnl_primitive_attr attr = null;
    dnnl_post_ops ops = null;
    try {
      if (key.accumulate) {
        attr = new dnnl_primitive_attr();
        check(dnnl_primitive_attr_create(attr), "matmul attributes");
        ops = new dnnl_post_ops();
        check(dnnl_post_ops_create(ops), "matmul post-ops");
        check(dnnl_post_ops_append_sum(ops, 1f, 0, dnnl_data_type_undef), "a sum post-op");
        check(dnnl_primitive_attr_set_post_ops(attr, ops), "setting the post-ops");
      }
      p.pd = new dnnl_primitive_desc();
      check(dnnl_matmul_primitive_desc_create(p.pd, engine, p.x, p.userWeights, null, p.y, attr), "creating a matmul for " + key);
    } finally {
      if (ops != null) dnnl_post_ops_destroy(ops);
      if (attr != null) dnnl_primitive_attr_destroy(attr);
    }
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating a matmul primitive");
  }

  /** A rows x cols float32 matrix, entry (i, j) at {@code i * rowStride + j * colStride}. */
  private static dnnl_memory_desc matrix(long rows, long cols, long rowStride, long colStride) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_strides(md, 2, new long[] {rows, cols}, dnnl_f32, new long[] {rowStride, colStride}), "a matrix descriptor");
    return md;
  }

  private Prepared prepare(Key key) {
    Prepared p = cache.get(key);
    if (p != null) return p;
    if (rejected.contains(key)) throw new Unsupported("oneDNN has no primitive for " + key, null);
    p = new Prepared();
    try {
      if (key.g != null && rejectForTesting.test(key.g)) throw new IllegalStateException("oneDNN: rejected for testing");
      if (key.kind == ELTWISE || key.kind == ELTWISE_BACKWARD) buildEltwise(key, p);
      else build(key, p);
    } catch (IllegalStateException e) {
      p.destroy();
      rejected.add(key);
      throw new Unsupported("oneDNN has no primitive for " + key + ": " + e.getMessage(), e);
    }
    cache.put(key, p);
    return p;
  }

  /** Creates the primitives of a convolution's shape into p (what is made is in p, for cleanup on failure). */
  private void build(Key key, Prepared p) {
    ConvGeometry g = key.g;
    int c = g.c(), k = g.k(), cout = key.cout, oh = g.outH(), ow = g.outW();
    long[] strides = {g.s(), g.s()}, dilation = {g.d() - 1, g.d() - 1}, padding = {g.p(), g.p()};
    p.x = images(key.images, c, g.h(), g.w(), (long) c * g.h() * g.w());
    p.y = images(key.images, cout, oh, ow, key.strideY);
    p.userWeights = userWeights(cout, c, k);
    dnnl_memory_desc any = anyWeights(cout, c, k);
    if (key.kind == FORWARD_BIAS) {
      p.bias = new dnnl_memory_desc();
      check(dnnl_memory_desc_create_with_tag(p.bias, 1, new long[] {cout}, dnnl_f32, dnnl_a), "a bias descriptor");
    }
    dnnl_primitive_desc forward = new dnnl_primitive_desc();
    check(dnnl_convolution_forward_primitive_desc_create(forward, engine, dnnl_forward_training, dnnl_convolution_direct, p.x, any,
        p.bias, p.y, strides, dilation, padding, padding, null), "creating a convolution for " + g);
    int weightsQuery = dnnl_query_weights_md;
    if (key.kind == FORWARD || key.kind == FORWARD_BIAS) {
      p.pd = forward;
    } else {
      p.pd = new dnnl_primitive_desc();
      if (key.kind == ADJOINT) {
        check(dnnl_convolution_backward_data_primitive_desc_create(p.pd, engine, dnnl_convolution_direct, p.x, any, p.y, strides, dilation,
            padding, padding, forward, null), "creating a convolution's backward-data pass for " + g);
      } else {
        check(dnnl_convolution_backward_weights_primitive_desc_create(p.pd, engine, dnnl_convolution_direct, p.x, any, null, p.y, strides,
            dilation, padding, padding, forward, null), "creating a convolution's backward-weights pass for " + g);
        weightsQuery = dnnl_query_diff_weights_md;
      }
      dnnl_primitive_desc_destroy(forward);
    }
    dnnl_memory_desc_destroy(any);
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating a convolution primitive");
    p.weights = dnnl_primitive_desc_query_md(p.pd, weightsQuery, 0); // owned by the pd
    if (dnnl_memory_desc_equal(p.weights, p.userWeights) == 0) {
      boolean toUser = key.kind == WEIGHT_GRADIENT;
      p.reorderPd = new dnnl_primitive_desc();
      check(dnnl_reorder_primitive_desc_create(p.reorderPd, toUser ? p.weights : p.userWeights, engine, toUser ? p.userWeights : p.weights,
          engine, null), "creating a weights reorder");
      p.reorder = new dnnl_primitive();
      check(dnnl_primitive_create(p.reorder, p.reorderPd), "creating a weights reorder primitive");
      p.scratch = new FloatPointer(dnnl_memory_desc_get_size(p.weights) / Float.BYTES + 1);
    }
  }

  /** A memory object over {@code base} from entry {@code offset} on (an untyped pointer counts bytes). */
  private dnnl_memory memory(dnnl_memory_desc md, Pointer base, long offset) {
    dnnl_memory m = new dnnl_memory();
    check(dnnl_memory_create(m, md, engine, new Pointer(base).position(offset * Float.BYTES)), "a memory object");
    return m;
  }

  private void execute(dnnl_primitive primitive, int[] args, dnnl_memory[] memories) {
    dnnl_exec_arg_t a = new dnnl_exec_arg_t(args.length);
    for (int i = 0; i < args.length; i++) a.position(i).arg(args[i]).memory(memories[i]);
    a.position(0);
    check(dnnl_primitive_execute(primitive, stream, args.length, a), "executing a primitive");
    a.deallocate();
  }

  private static void destroy(dnnl_memory... ms) {
    for (dnnl_memory m : ms) if (m != null) dnnl_memory_destroy(m);
  }

  /**
   * Executes a primitive on the memory objects (bound to {@code args}) and waits for it; then
   * destroys the memory objects. {@code batches}, whose blocks they point into, stay reachable
   * until then.
   */
  private void run(dnnl_primitive primitive, int[] args, dnnl_memory[] memories, String what, BlasBatch... batches) {
    try {
      execute(primitive, args, memories);
      check(dnnl_stream_wait(stream), "waiting for " + what);
    } finally {
      destroy(memories);
      Reference.reachabilityFence(batches);
    }
  }

  /**
   * {@code out = w * unfold(x)} over {@code images} consecutive images: x from entry 0 of its
   * block, out of shape cout x patches per image.
   */
  synchronized void forward(BlasBatch w, int cout, BlasBatch x, ConvGeometry g, long images, BlasBatch out) {
    Prepared p = prepare(new Key(FORWARD, g, cout, images, (long) cout * g.patches()));
    dnnl_memory mw = weightsIn(p, w);
    run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        new dnnl_memory[] {memory(p.x, x.pointer(), 0), mw, memory(p.y, out.pointer(), 0)}, "a convolution", w, x, out);
  }

  /**
   * {@code out = w * unfold(x) + bias * ones'} over {@code images} consecutive images, the bias
   * vector (cout entries) from entry 0 of its block: the bias added by the convolution kernel.
   */
  synchronized void forwardBias(BlasBatch w, int cout, BlasBatch x, BlasBatch bias, ConvGeometry g, long images, BlasBatch out) {
    Prepared p = prepare(new Key(FORWARD_BIAS, g, cout, images, (long) cout * g.patches()));
    dnnl_memory mw = weightsIn(p, w);
    run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
        new dnnl_memory[] {memory(p.x, x.pointer(), 0), mw, memory(p.bias, bias.pointer(), 0), memory(p.y, out.pointer(), 0)},
        "a convolution", w, x, bias, out);
  }

  /** {@code out = fold(w' * y)} over {@code images} consecutive images. */
  synchronized void adjoint(BlasBatch w, int cout, BlasBatch y, ConvGeometry g, long images, BlasBatch out) {
    Prepared p = prepare(new Key(ADJOINT, g, cout, images, (long) cout * g.patches()));
    dnnl_memory mw = weightsIn(p, w);
    run(p.primitive, new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
        new dnnl_memory[] {memory(p.y, y.pointer(), 0), mw, memory(p.x, out.pointer(), 0)}, "a convolution's adjoint", w, y, out);
  }

  /**
   * {@code sum_n y_n * unfold(x_n)'} into out's item at {@code outOffset} (entries), over
   * {@code images} images: y's from entry {@code yOffset}, {@code yStride} entries apart, x's
   * consecutive from entry {@code xOffset}.
   */
  synchronized void weightGradient(BlasBatch y, long yOffset, long yStride, int cout, BlasBatch x, long xOffset, ConvGeometry g,
      long images, BlasBatch out, long outOffset) {
    Prepared p = prepare(new Key(WEIGHT_GRADIENT, g, cout, images, yStride));
    dnnl_memory mx = memory(p.x, x.pointer(), xOffset), my = memory(p.y, y.pointer(), yOffset);
    dnnl_memory mOut = memory(p.userWeights, out.pointer(), outOffset);
    dnnl_memory mw = p.reorder == null ? null : memory(p.weights, p.scratch, 0);
    try {
      execute(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
          new dnnl_memory[] {mx, my, mw == null ? mOut : mw});
      if (p.reorder != null) execute(p.reorder, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST}, new dnnl_memory[] {mw, mOut});
      check(dnnl_stream_wait(stream), "waiting for the convolution's weight gradient");
    } finally {
      destroy(mx, my, mOut, mw);
      Reference.reachabilityFence(y);
      Reference.reachabilityFence(x);
      Reference.reachabilityFence(out);
    }
  }

  /** The weights as the primitive reads them: w itself, or w reordered into the scratch buffer. */
  private dnnl_memory weightsIn(Prepared p, BlasBatch w) {
    dnnl_memory user = memory(p.userWeights, w.pointer(), 0);
    if (p.reorder == null) return user;
    dnnl_memory scratch = memory(p.weights, p.scratch, 0);
    try {
      execute(p.reorder, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST}, new dnnl_memory[] {user, scratch});
      check(dnnl_stream_wait(stream), "waiting for the weights' reorder");
    } finally {
      destroy(user);
    }
    return scratch;
  }
}
