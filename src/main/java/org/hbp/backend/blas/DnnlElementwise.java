package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_abc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_add;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_div;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_mul;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_sub;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_backward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_logistic;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_logistic_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_tanh;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_tanh_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.hbp.backend.blas.DnnlEngine.ELTWISE;
import static org.hbp.backend.blas.DnnlEngine.ELTWISE_BACKWARD;
import static org.hbp.backend.blas.DnnlEngine.check;

import java.util.Map;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.blas.DnnlEngine.Key;

/**
 * float32 entrywise kernels of the {@link BlasBackend} by oneDNN ({@link DnnlEngine}), on the
 * batches' memory.
 * <ul>
 *   <li>Built-in elementwise functions ({@link #eltwiseAlgorithm}: sigmoid, tanh; {@link #eltwise})
 *       and their derivatives from the value times directions ({@link #eltwiseBackwardAlgorithm},
 *       {@link #eltwiseBackward}): oneDNN's vectorized (JIT-compiled SIMD) forms, where Java
 *       computes one {@code Math.exp} at a time.</li>
 *   <li>Entrywise sums, differences, products and quotients of two batches ({@link #binary}), one
 *       of them broadcast over samples, directions or its entries: oneDNN's binary kernels on the
 *       batches' memory, where the host kernels copy every entry to a Java array and back. IEEE
 *       float arithmetic gives the same results bit for bit.</li>
 * </ul>
 * The primitives of a shape are made on first use and cached; one oneDNN refuses throws {@link
 * DnnlEngine.Unsupported}, and the backend computes it its own way. Every call holds the engine's lock.
 */
final class DnnlElementwise {
  /** oneDNN's forms of the built-in elementwise functions ({@link #eltwiseAlgorithm}); exp is not one: oneDNN's exp(NaN) is infinity. */
  private static final Map<String, Integer> FORWARD_ALGORITHMS = Map.of("sigmoid", dnnl_eltwise_logistic, "tanh", dnnl_eltwise_tanh);

  /** oneDNN's backward forms of built-in derivatives written in the value ({@link #eltwiseBackwardAlgorithm}). */
  private static final Map<String, Integer> BACKWARD_ALGORITHMS = Map.of("sigmoid_d1_of_value", dnnl_eltwise_logistic_use_dst_for_bwd,
      "tanh_d1_of_value", dnnl_eltwise_tanh_use_dst_for_bwd);

  /**
   * The shape of a binary kernel: {@code out (s, d, n) = x (s, d, n) op y (ys, yd, yn)}, each of y's
   * axes either x's extent or 1 (broadcast); an item index is {@code sample * directions + direction}.
   */
  private record BinaryKey(int algorithm, long s, long d, long n, long ys, long yd, long yn) {}

  private final DnnlEngine dnnl;
  /** The binary primitives, guarded by the engine's lock. */
  private final Map<BinaryKey, DnnlPrepared> binaries = DnnlEngine.lru();

  DnnlElementwise(DnnlEngine dnnl) {
    this.dnnl = dnnl;
  }

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

  /** oneDNN's binary algorithm of an elementwise operation of {@link BackendChecks} (ADD ... DIVIDE). */
  static int binaryAlgorithm(int op) {
    return switch (op) {
      case BackendChecks.ADD -> dnnl_binary_add;
      case BackendChecks.SUBTRACT -> dnnl_binary_sub;
      case BackendChecks.MULTIPLY -> dnnl_binary_mul;
      case BackendChecks.DIVIDE -> dnnl_binary_div;
      default -> throw new IllegalArgumentException("no binary algorithm for operation " + op);
    };
  }

  /** {@code out = f(x)} entrywise over the first n entries, f given by {@link #eltwiseAlgorithm}. */
  void eltwise(int algorithm, BlasBatch x, BlasBatch out, long n) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(ELTWISE, null, algorithm, n, 0));
      dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST},
          new dnnl_memory[] {dnnl.memory(p.x, x.pointer(), 0), dnnl.memory(p.x, out.pointer(), 0)}, "an elementwise primitive", x, out);
    }
  }

  /**
   * {@code out = f'(t) .* v} over the first n entries, from {@code u = f(t)}: oneDNN's elementwise
   * backward pass with {@code u} as the forward output and v as the output gradient.
   */
  void eltwiseBackward(int algorithm, BlasBatch u, BlasBatch v, BlasBatch out, long n) {
    synchronized (dnnl) {
      DnnlPrepared p = prepare(new Key(ELTWISE_BACKWARD, null, algorithm, n, 0));
      dnnl.run(p.primitive, new int[] {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC},
          new dnnl_memory[] {dnnl.memory(p.x, u.pointer(), 0), dnnl.memory(p.x, v.pointer(), 0), dnnl.memory(p.x, out.pointer(), 0)},
          "an elementwise backward primitive", u, v, out);
    }
  }

  /**
   * {@code out = x op y} entrywise, x and out of shape {@code (s, d, n)} (samples, directions,
   * entries per item), y of shape {@code y[0] x y[1] x y[2]}, each axis x's extent or 1 (broadcast).
   */
  void binary(int algorithm, BlasBatch x, BlasBatch y, long[] yShape, long s, long d, long n, BlasBatch out) {
    synchronized (dnnl) {
      BinaryKey key = new BinaryKey(algorithm, s, d, n, yShape[0], yShape[1], yShape[2]);
      DnnlPrepared p = dnnl.cached(binaries, key, "binary primitive", q -> buildBinary(key, q));
      dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST},
          new dnnl_memory[] {dnnl.memory(p.x, x.pointer(), 0), dnnl.memory(p.y, y.pointer(), 0), dnnl.memory(p.x, out.pointer(), 0)},
          "a binary primitive", x, y, out);
    }
  }

  /** The cached primitives of an elementwise function's shape, made on first use; {@link DnnlEngine.Unsupported} if oneDNN has none. */
  private DnnlPrepared prepare(Key key) {
    return dnnl.prepare(key, p -> buildEltwise(key, p));
  }

  /** The elementwise primitive of a key (its {@code cout} the algorithm, {@code images} the entry count). */
  private void buildEltwise(Key key, DnnlPrepared p) {
    p.x = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(p.x, 1, new long[] {key.images()}, dnnl_f32, dnnl_a), "a vector descriptor");
    p.y = p.x;
    p.pd = new dnnl_primitive_desc();
    if (key.kind() == ELTWISE) {
      check(dnnl_eltwise_forward_primitive_desc_create(p.pd, dnnl.engine, dnnl_forward_inference, key.cout(), p.x, p.x, 0f, 0f, null),
          "creating an elementwise primitive");
    } else {
      dnnl_primitive_desc forward = new dnnl_primitive_desc();
      try {
        check(dnnl_eltwise_forward_primitive_desc_create(forward, dnnl.engine, dnnl_forward_training, key.cout(), p.x, p.x, 0f, 0f, null),
            "creating an elementwise primitive");
        check(dnnl_eltwise_backward_primitive_desc_create(p.pd, dnnl.engine, key.cout(), p.x, p.x, p.x, 0f, 0f, forward, null),
            "creating an elementwise backward primitive");
      } finally {
        dnnl_primitive_desc_destroy(forward);
      }
    }
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating an elementwise primitive");
  }

  /** The binary primitive of a shape into p: x and out of the key's shape, y of its broadcast one, both row-major. */
  private void buildBinary(BinaryKey key, DnnlPrepared p) {
    p.x = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(p.x, 3, new long[] {key.s(), key.d(), key.n()}, dnnl_f32, dnnl_abc), "a binary operand descriptor");
    p.y = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(p.y, 3, new long[] {key.ys(), key.yd(), key.yn()}, dnnl_f32, dnnl_abc),
        "a binary operand descriptor");
    p.pd = new dnnl_primitive_desc();
    check(dnnl_binary_primitive_desc_create(p.pd, dnnl.engine, key.algorithm(), p.x, p.y, p.x, null), "creating a binary primitive");
    p.primitive = new dnnl_primitive();
    check(dnnl_primitive_create(p.primitive, p.pd), "creating a binary primitive");
  }
}
