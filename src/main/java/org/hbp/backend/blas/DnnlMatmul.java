package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_data_type_undef;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_matmul_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_append_sum;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_post_ops_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_post_ops;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.hbp.backend.blas.DnnlEngine.check;

import java.util.Map;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;

/**
 * float32 matrix products of the {@link BlasBackend} ({@link BlasProducts}' gemm) by oneDNN's
 * matmul primitive ({@link DnnlEngine}): {@link #multiply}, one primitive per shape, cached. A
 * shape oneDNN refuses throws {@link DnnlEngine.Unsupported}. Every call holds the engine's lock.
 */
final class DnnlMatmul {
  /**
   * The shape of a matrix product {@code C = op(A) op(B) (+ C)}, column-major with leading
   * dimensions, as BLAS states it; {@code accumulate} adds onto C (beta = 1, a sum post-op).
   */
  private record MatmulKey(boolean transposeA, boolean transposeB, long m, long n, long k, long lda, long ldb, long ldc, boolean accumulate,
      boolean bias) {}

  private final DnnlEngine dnnl;
  /** The matmul primitives, guarded by the engine's lock. */
  private final Map<MatmulKey, DnnlPrepared> matmuls = DnnlEngine.lru();

  DnnlMatmul(DnnlEngine dnnl) {
    this.dnnl = dnnl;
  }

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
  void multiply(boolean transposeA, boolean transposeB, long m, long n, long k, BlasBatch a, long ao, long lda, BlasBatch b, long bo,
      long ldb, BlasBatch c, long co, long ldc, boolean accumulate) {
    run(new MatmulKey(transposeA, transposeB, m, n, k, lda, ldb, ldc, accumulate, false), a, ao, b, bo, c, co, null);
  }

  /**
   * {@code C = op(A) op(B) + bias 1'}: as {@link #multiply}, with the m entries of {@code bias}
   * (the first of its block) added to every column of C in the kernel's epilogue, as oneDNN's
   * matmul bias (a linear layer's {@code W x + b} over the batch's columns).
   */
  void multiply(boolean transposeA, boolean transposeB, long m, long n, long k, BlasBatch a, long ao, long lda, BlasBatch b, long bo,
      long ldb, BlasBatch c, long co, long ldc, BlasBatch bias) {
    run(new MatmulKey(transposeA, transposeB, m, n, k, lda, ldb, ldc, false, true), a, ao, b, bo, c, co, bias);
  }

  /** The primitive of {@code key} (made once) on the blocks at the given entries, with {@code bias} where the key has one. */
  private void run(MatmulKey key, BlasBatch a, long ao, BlasBatch b, long bo, BlasBatch c, long co, BlasBatch bias) {
    synchronized (dnnl) {
      DnnlPrepared p = dnnl.cached(matmuls, key, "matmul primitive", q -> build(key, q));
      dnnl_memory x = dnnl.memory(p.x, b.pointer(), bo), w = dnnl.memory(p.userWeights, a.pointer(), ao), y = dnnl.memory(p.y, c.pointer(), co);
      if (bias == null)
        dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST}, new dnnl_memory[] {x, w, y}, "a matmul primitive", a, b, c);
      else
        dnnl.run(p.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
            new dnnl_memory[] {x, w, dnnl.memory(p.bias, bias.pointer(), 0), y}, "a matmul primitive", a, b, bias, c);
    }
  }

  /** The matmul primitive of a shape into p: strided views of op(B)', op(A)' and C' ({@link #multiply}). */
  private void build(MatmulKey key, DnnlPrepared p) {
    long m = key.m, n = key.n, k = key.k;
    // op(B)'(j, p) is B(p, j) at p + j ldb, or, transposed, B(j, p) at j + p ldb; likewise op(A)'(p, i)
    p.x = matrix(n, k, key.transposeB ? 1 : key.ldb, key.transposeB ? key.ldb : 1);
    p.userWeights = matrix(k, m, key.transposeA ? 1 : key.lda, key.transposeA ? key.lda : 1);
    p.y = matrix(n, m, key.ldc, 1);
    // the bias of C' (n x m): one row of m entries, broadcast over C''s n rows
    if (key.bias) p.bias = matrix(1, m, m, 1);
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
      check(dnnl_matmul_primitive_desc_create(p.pd, dnnl.engine, p.x, p.userWeights, p.bias, p.y, attr), "creating a matmul for " + key);
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
}
