package org.hbp.backend.opencl;

import static org.jocl.blast.CLBlastLayout.CLBlastLayoutColMajor;
import static org.jocl.blast.CLBlastTranspose.CLBlastTransposeNo;
import static org.jocl.blast.CLBlastTranspose.CLBlastTransposeYes;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.hbp.backend.Precision;
import org.jocl.blast.CLBlast;
import org.jocl.blast.CLBlastStatusCode;
import org.jocl.cl_command_queue;
import org.jocl.cl_mem;

/**
 * The products of the {@link OpenClBackend} through CLBlast (the tuned OpenCL BLAS, bound by
 * JOCLBlast, {@code org.jocl:jocl-blast}, whose jar carries {@code libclblast.so}): the batched
 * product launches of {@link OpenClProducts} become column-major {@code xGEMM} calls on the
 * backend's in-order queue, float32 ({@code Sgemm}) or float64 ({@code Dgemm}).
 *
 * <p>A launch computes, for batch index {@code t < T} ({@code s = t / Dk}, {@code d = t % Dk}),
 * {@code C_t = sum_{q < sumCount} op(A_{s,d,q}) op(B_{s,d,q})} with {@code A_{s,d,q}} at entry
 * {@code s*aSs + d*aSd + q*aSq} of A's buffer (B likewise) and {@code C_t} at {@code t*cSt}. Term
 * {@code q} is one call with {@code beta = 0} for {@code q = 0} and {@code beta = 1} after it
 * (the sum in a fixed order); the items of a call are one {@code xGEMM} when {@code T = 1}, one
 * {@code xGEMMStridedBatched} when the offsets of A and B are affine in {@code t} (every case but
 * strides that are not multiples of each other), else one {@code xGEMMBatched} with the offsets
 * listed. Calls cover at most {@link #BATCH_CHUNK} items and {@link #COLUMN_CHUNK} columns of C
 * (the grid limits of CUDA-based OpenCL, 65535 work-groups along the second and third dimension).
 *
 * <p>Whether CLBlast loaded is decided once per process ({@link #loadFailure()}); a CLBlast error
 * status becomes an {@link OpenClException} naming the routine, the operation and how to use the
 * hand-written kernels instead.
 */
final class OpenClBlast {
  /** Items per batched call at most (the third grid dimension of a launch). */
  static final long BATCH_CHUNK = 65535;
  /** Columns of C per call at most, so that no launch has more than 65535 work-groups along its second grid dimension. */
  static final int COLUMN_CHUNK = 1 << 16;
  /** What {@code hbp devices} and the bench headers print: the library and its version. */
  static final String LIBRARY = "CLBlast 1.5.2 (org.jocl:jocl-blast)";
  private static final String LOAD_FAILURE = probeLoad();

  /** CLBlast calls made by all instances in this process (tests check that products went through CLBlast). */
  private static final AtomicLong CALLS = new AtomicLong();

  private final boolean doubles;
  private final cl_command_queue queue;

  OpenClBlast(Precision precision, cl_command_queue queue) {
    this.doubles = precision == Precision.FLOAT64;
    this.queue = queue;
  }

  /** Why CLBlast cannot be used in this process (its native library did not load), or null when it loaded. */
  static String loadFailure() {
    return LOAD_FAILURE;
  }

  private static String probeLoad() {
    try {
      CLBlast.setExceptionsEnabled(false); // loads libJOCLBlast and libclblast; errors come back as status codes
      return null;
    } catch (Throwable e) { // UnsatisfiedLinkError, NoClassDefFoundError (jar missing), a LibUtils error
      String m = e.getMessage();
      return e.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
  }

  /** How many xGEMM calls (plain, strided-batched or batched) went to CLBlast so far in this process. */
  static long calls() {
    return CALLS.get();
  }

  /** The launch of the class comment; {@code what} names the backend operation in errors. */
  void gemm(String what, int m, int n, int k, boolean ta, boolean tb, int lda, int ldb, int ldc, OpenClBatch a, long aSs, long aSd,
      long aSq, OpenClBatch b, long bSs, long bSd, long bSq, OpenClBatch c, long cSt, long T, int Dk, int sumCount) {
    int opA = ta ? CLBlastTransposeYes : CLBlastTransposeNo, opB = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    for (int j0 = 0; j0 < n; j0 += COLUMN_CHUNK) {
      // columns j0.. of C and op(B): B's columns (rows when transposed) and C's columns from there
      int cols = Math.min(COLUMN_CHUNK, n - j0);
      long bCol = tb ? j0 : (long) j0 * ldb, cCol = (long) j0 * ldc;
      gemmColumns(what, m, cols, k, opA, opB, lda, ldb, ldc, a, aSs, aSd, aSq, b, bCol, bSs, bSd, bSq, c, cCol, cSt, T, Dk, sumCount, n);
    }
  }

  /** {@link #gemm} for at most {@link #COLUMN_CHUNK} columns, B's and C's entries from {@code bCol} and {@code cCol} on. */
  private void gemmColumns(String what, int m, int n, int k, int opA, int opB, int lda, int ldb, int ldc, OpenClBatch a, long aSs,
      long aSd, long aSq, OpenClBatch b, long bCol, long bSs, long bSd, long bSq, OpenClBatch c, long cCol, long cSt, long T, int Dk,
      int sumCount, int allColumns) {
    for (int q = 0; q < sumCount; q++) {
      double beta = q == 0 ? 0 : 1;
      for (long t0 = 0; t0 < T; t0 += BATCH_CHUNK) {
        int count = (int) Math.min(BATCH_CHUNK, T - t0);
        long aOff = offset(t0, aSs, aSd, Dk) + q * aSq, bOff = bCol + offset(t0, bSs, bSd, Dk) + q * bSq, cOff = cCol + t0 * cSt;
        long aStride = affineStride(t0, count, aSs, aSd, Dk), bStride = affineStride(t0, count, bSs, bSd, Dk);
        int status;
        CALLS.incrementAndGet();
        if (count == 1) {
          status = single(opA, opB, m, n, k, a.mem(), aOff, lda, b.mem(), bOff, ldb, beta, c.mem(), cOff, ldc);
        } else if (aStride >= 0 && bStride >= 0) {
          status = strided(opA, opB, m, n, k, a.mem(), aOff, lda, aStride, b.mem(), bOff, ldb, bStride, beta, c.mem(), cOff, ldc,
              cSt, count);
        } else {
          long[] ao = new long[count], bo = new long[count], co = new long[count];
          for (int i = 0; i < count; i++) {
            ao[i] = offset(t0 + i, aSs, aSd, Dk) + q * aSq;
            bo[i] = bCol + offset(t0 + i, bSs, bSd, Dk) + q * bSq;
            co[i] = cCol + (t0 + i) * cSt;
          }
          status = listed(opA, opB, m, n, k, a.mem(), ao, lda, b.mem(), bo, ldb, beta, c.mem(), co, ldc, count);
        }
        if (status != CLBlastStatusCode.CLBlastSuccess)
          throw new OpenClException("OpenCL: CLBlast " + (doubles ? "D" : "S") + "gemm failed in " + what + " (" + m + "x" + k
              + " times " + k + "x" + allColumns + ", " + T + " items): " + CLBlastStatusCode.stringFor(status) + " (" + status
              + "); -Dhbp.opencl.gemm=kernels uses the hand-written product kernels instead");
      }
    }
  }

  /** Entry offset of item t: {@code (t / Dk) * sS + (t % Dk) * sD}. */
  static long offset(long t, long sS, long sD, int Dk) {
    return (t / Dk) * sS + (t % Dk) * sD;
  }

  /**
   * The stride {@code r} with {@code offset(t0 + i) = offset(t0) + i*r} for {@code i < count}, or
   * -1 when the offsets are not affine in t there (a sample step that is not Dk direction steps,
   * crossed by the range).
   */
  static long affineStride(long t0, int count, long sS, long sD, int Dk) {
    if (Dk == 1) return sS;
    if (sS == Dk * sD || t0 / Dk == (t0 + count - 1) / Dk) return sD;
    return -1;
  }

  private int single(int opA, int opB, int m, int n, int k, cl_mem a, long aOff, int lda, cl_mem b, long bOff, int ldb, double beta,
      cl_mem c, long cOff, int ldc) {
    return doubles
        ? CLBlast.CLBlastDgemm(CLBlastLayoutColMajor, opA, opB, m, n, k, 1.0, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, queue, null)
        : CLBlast.CLBlastSgemm(CLBlastLayoutColMajor, opA, opB, m, n, k, 1f, a, aOff, lda, b, bOff, ldb, (float) beta, c, cOff, ldc,
            queue, null);
  }

  private int strided(int opA, int opB, int m, int n, int k, cl_mem a, long aOff, int lda, long aStride, cl_mem b, long bOff, int ldb,
      long bStride, double beta, cl_mem c, long cOff, int ldc, long cStride, int count) {
    return doubles
        ? CLBlast.CLBlastDgemmStridedBatched(CLBlastLayoutColMajor, opA, opB, m, n, k, 1.0, a, aOff, lda, aStride, b, bOff, ldb, bStride,
            beta, c, cOff, ldc, cStride, count, queue, null)
        : CLBlast.CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, opA, opB, m, n, k, 1f, a, aOff, lda, aStride, b, bOff, ldb, bStride,
            (float) beta, c, cOff, ldc, cStride, count, queue, null);
  }

  private int listed(int opA, int opB, int m, int n, int k, cl_mem a, long[] aOff, int lda, cl_mem b, long[] bOff, int ldb, double beta,
      cl_mem c, long[] cOff, int ldc, int count) {
    if (doubles) {
      double[] alphas = new double[count], betas = new double[count];
      Arrays.fill(alphas, 1.0);
      Arrays.fill(betas, beta);
      return CLBlast.CLBlastDgemmBatched(CLBlastLayoutColMajor, opA, opB, m, n, k, alphas, a, aOff, lda, b, bOff, ldb, betas, c, cOff,
          ldc, count, queue, null);
    }
    float[] alphas = new float[count], betas = new float[count];
    Arrays.fill(alphas, 1f);
    Arrays.fill(betas, (float) beta);
    return CLBlast.CLBlastSgemmBatched(CLBlastLayoutColMajor, opA, opB, m, n, k, alphas, a, aOff, lda, b, bOff, ldb, betas, c, cOff,
        ldc, count, queue, null);
  }
}
