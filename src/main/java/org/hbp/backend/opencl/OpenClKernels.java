package org.hbp.backend.opencl;

import org.hbp.backend.Precision;
import org.hbp.backend.ScalarFunction;

/**
 * The OpenCL C sources of the {@link OpenClBackend}'s kernels, as Java strings. Every program
 * starts with {@link #header}: {@code #define REAL float} or {@code double} (with {@code
 * cl_khr_fp64} enabled), so that one source serves both precisions. Only OpenCL C 1.2 is used
 * (programs are built with {@code -cl-std=CL1.2}), 32-bit global integer atomics included.
 *
 * <p><b>Conventions.</b> Batches are flat arrays of REAL, items contiguous and column-major, item
 * {@code (s, v)} at {@code (s*directions + v) * rows*cols} (see {@link OpenClBatch}). An operand
 * of a binary kernel is passed with its sample and direction extents; an extent 1 broadcasts
 * ({@code item_of}). <i>Flat</i> kernels have one work item per output entry: they take {@code
 * (long base, long total)} first and compute entry {@code get_global_id(0) + base}, so a launch
 * may be split into chunks and rounded up to whole work-groups. <i>Group</i> kernels (reductions
 * and scans) take {@code int tbase} first and give one work-group of {@code RED_WG} work items to
 * item {@code get_group_id(0) + tbase}. The matrix products are {@link #gemm} kernels.
 *
 * <p>Every sum is taken in a fixed order (a reduction tree of fixed shape, or a loop), so results
 * are deterministic run to run; scatterAdd never adds floats atomically (see {@code scatter_k}).
 */
final class OpenClKernels {
  private OpenClKernels() {}

  /** The precision's {@code REAL}, fp64 enabled for double. */
  static String header(Precision precision) {
    return precision == Precision.FLOAT64
        ? "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n#define REAL double\n"
        : "#define REAL float\n";
  }

  /** Helpers shared by the main program. */
  private static final String HELPERS = """
      #define FLAT_ID long g = (long) get_global_id(0) + base; if (g >= total) return;

      /* a / b for a, b >= 0, in 32-bit arithmetic when both fit (64-bit division is slow on GPUs) */
      long udiv(long a, long b) {
        return (a <= 0x7fffffffL && b <= 0x7fffffffL) ? (long) ((uint) a / (uint) b) : a / b;
      }

      /* the item of an operand with extents (xs, xd) used for output item t of D directions */
      long item_of(long t, long D, int xs, int xd) {
        long s = udiv(t, D);
        long d = t - s * D;
        return (xs == 1 ? 0 : s) * xd + (xd == 1 ? 0 : d);
      }

      REAL apply_op(int op, REAL x, REAL y) {
        return op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
      }

      /* max that propagates NaN, as Java's Math.max */
      REAL max_nan(REAL m, REAL v) {
        return isnan(v) ? v : (isnan(m) ? m : (v > m ? v : m));
      }
      """;

  /** The streaming, structural and reduction kernels (all but the products). */
  private static final String KERNELS = """
      __kernel void binary_flat_k(long base, long total, int op, __global const REAL* a, __global const REAL* b,
          __global REAL* out) {
        FLAT_ID
        out[g] = apply_op(op, a[g], b[g]);
      }

      /* out item t of D directions, n entries per item; a scalar operand (1x1 items) reads entry 0 */
      __kernel void binary_k(long base, long total, int op, long n, long D,
          __global const REAL* a, int aS, int aD, int aScalar, long an,
          __global const REAL* b, int bS, int bD, int bScalar, long bn, __global REAL* out) {
        FLAT_ID
        long t = udiv(g, n), e = g - t * n;
        REAL x = a[item_of(t, D, aS, aD) * an + (aScalar ? 0 : e)];
        REAL y = b[item_of(t, D, bS, bD) * bn + (bScalar ? 0 : e)];
        out[g] = apply_op(op, x, y);
      }

      __kernel void scale_k(long base, long total, REAL c, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        out[g] = c * x[g];
      }

      __kernel void power_k(long base, long total, REAL e, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        REAL v = x[g];
        out[g] = e == (REAL) 2 ? v * v : (e == (REAL) 1 ? v : pow(v, e));
      }

      __kernel void fill_k(long base, long total, REAL v, __global REAL* out) {
        FLAT_ID
        out[g] = v;
      }

      __kernel void fill_int_k(long base, long total, int v, __global int* out) {
        FLAT_ID
        out[g] = v;
      }

      __kernel void eye_k(long base, long total, long n1, __global REAL* out) {
        FLAT_ID
        out[g] = (g - udiv(g, n1) * n1) == 0 ? (REAL) 1 : (REAL) 0;
      }

      __kernel void transpose_k(long base, long total, long m, long n, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        long mn = m * n, t = udiv(g, mn), e = g - t * mn;
        long i = udiv(e, n), j = e - i * n;          /* out entry j + n*i is x entry i + m*j */
        out[g] = x[t * mn + i + m * j];
      }

      __kernel void kron_k(long base, long total, long D, long m, long n, long p, long q,
          __global const REAL* a, int aS, int aD, __global const REAL* b, int bS, int bD, __global REAL* out) {
        FLAT_ID
        long rows = m * p, on = rows * n * q, t = udiv(g, on), e = g - t * on;
        long c = udiv(e, rows), r = e - c * rows;
        long i = udiv(r, p), kk = r - i * p, j = udiv(c, q), l = c - j * q;
        out[g] = a[item_of(t, D, aS, aD) * m * n + i + m * j] * b[item_of(t, D, bS, bD) * p * q + kk + p * l];
      }

      __kernel void diagonal_k(long base, long total, long n, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        long t = udiv(g, n), i = g - t * n;
        out[g] = x[t * n * n + i * (n + 1)];
      }

      __kernel void diag_matrix_k(long base, long total, long n, __global const REAL* v, __global REAL* out) {
        FLAT_ID
        long nn = n * n, t = udiv(g, nn), e = g - t * nn, j = udiv(e, n), i = e - j * n;
        out[g] = i == j ? v[t * n + i] : (REAL) 0;
      }

      __kernel void trace_k(long base, long total, long n, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        REAL acc = 0;
        for (long i = 0; i < n; i++) acc += x[g * n * n + i * (n + 1)];
        out[g] = acc;
      }

      /* unfold (im2col): out entry (row, col) of item t, row = (ch*k + ki)*k + kj, col = oh + outH*ow */
      __kernel void unfold_k(long base, long total, int c, int h, int w, int k, int s, int p, int d, int outH, int outW,
          __global const REAL* x, __global REAL* out) {
        FLAT_ID
        long r = (long) c * k * k, m = r * outH * outW, t = udiv(g, m), e = g - t * m;
        long col = udiv(e, r), row = e - col * r;
        int oh = (int) (col % outH), ow = (int) (col / outH);
        int ch = (int) (row / (k * k)), rem = (int) (row % (k * k)), ki = rem / k, kj = rem % k;
        int yy = oh * s - p + ki * d, xx = ow * s - p + kj * d;
        bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
        out[g] = inside ? x[t * c * h * w + ch + (long) c * (yy + (long) h * xx)] : (REAL) 0;
      }

      /* fold (col2im), the adjoint of unfold: each input entry sums the patch entries that read it, in (ki, kj) order */
      __kernel void fold_k(long base, long total, int c, int h, int w, int k, int s, int p, int d, int outH, int outW,
          __global const REAL* cols, __global REAL* out) {
        FLAT_ID
        long in = (long) c * h * w, t = udiv(g, in), e = g - t * in;
        int ch = (int) (e % c), yy = (int) ((e / c) % h), xx = (int) (e / ((long) c * h));
        long r = (long) c * k * k, m = r * outH * outW;
        __global const REAL* src = cols + t * m;
        REAL acc = 0;
        for (int ki = 0; ki < k; ki++) {
          int ty = yy + p - ki * d;
          if (ty < 0 || ty % s != 0 || ty / s >= outH) continue;
          int oh = ty / s;
          for (int kj = 0; kj < k; kj++) {
            int tx = xx + p - kj * d;
            if (tx < 0 || tx % s != 0 || tx / s >= outW) continue;
            int ow = tx / s;
            long row = ((long) ch * k + ki) * k + kj;
            acc += src[row + r * (oh + (long) outH * ow)];
          }
        }
        out[g] = acc;
      }

      /* out item (s, v) entry j = x item (s, v) entry idx[j] (0 for -1); index items shared when ixS == 1 */
      __kernel void gather_k(long base, long total, long m, long n, long D, int xS, int ixS,
          __global const REAL* x, __global const REAL* idx, __global REAL* out) {
        FLAT_ID
        long t = udiv(g, m), j = g - t * m, s = udiv(t, D), v = t - s * D;
        long xi = (xS == 1 ? 0 : s) * D + v;
        REAL qv = idx[(ixS == 1 ? 0 : s) * m + j];
        long q = (long) qv;
        out[g] = (q >= 0 && q < n) ? x[xi * n + q] : (REAL) 0;
      }

      /* the smallest position whose entry is not an integer in [-1, n) */
      __kernel void validate_k(long base, long total, long n, __global const REAL* idx, __global int* bad) {
        FLAT_ID
        REAL v = idx[g];
        if (!(v == rint(v) && v >= (REAL) -1 && v < (REAL) n)) atomic_min(bad, (int) g);
      }

      /* scatterAdd's inverse index, step 1: per index item r (R items of m entries), arr[r*(n+1) + q + 1] counts the hits of q */
      __kernel void csr_count_k(long base, long total, long m, long n, __global const REAL* idx, __global int* arr) {
        FLAT_ID
        long r = udiv(g, m);
        long q = (long) idx[g];
        if (q >= 0 && q < n) atomic_inc(arr + r * (n + 1) + q + 1);
      }

      /* step 2 (a group per index item): inclusive scan of the n+1 counts; arr[q] is where bucket q starts */
      __kernel void csr_scan_k(int tbase, long len, __global int* arr) {
        __local int sh[RED_WG];
        long r = (long) get_group_id(0) + tbase;
        int l = (int) get_local_id(0);
        __global int* a = arr + r * len;
        int carry = 0;
        for (long c0 = 0; c0 < len; c0 += RED_WG) {
          long e = c0 + l;
          sh[l] = e < len ? a[e] : 0;
          barrier(CLK_LOCAL_MEM_FENCE);
          for (int off = 1; off < RED_WG; off <<= 1) {
            int add = l >= off ? sh[l - off] : 0;
            barrier(CLK_LOCAL_MEM_FENCE);
            sh[l] += add;
            barrier(CLK_LOCAL_MEM_FENCE);
          }
          if (e < len) a[e] = sh[l] + carry;
          carry += sh[RED_WG - 1];
          barrier(CLK_LOCAL_MEM_FENCE);
        }
      }

      /* step 3 (one work item per index item, in index order, so buckets list positions ascending):
         afterwards bucket q is list[r*m + (q == 0 ? 0 : arr[q-1]) .. r*m + arr[q]) */
      __kernel void csr_place_k(long base, long total, long m, long n, __global const REAL* idx, __global int* arr,
          __global int* list) {
        FLAT_ID
        __global int* a = arr + g * (n + 1);
        __global const REAL* ix = idx + g * m;
        __global int* li = list + g * m;
        for (long j = 0; j < m; j++) {
          long q = (long) ix[j];
          if (q >= 0 && q < n) li[a[q]++] = (int) j;
        }
      }

      /* scatterAdd as a gather over the inverse index: out item (s, v) entry q sums g entries of bucket q in index order */
      __kernel void scatter_k(long base, long total, long n, long m, long D, int gS, int ixS,
          __global const REAL* gr, __global const int* arr, __global const int* list, __global REAL* out) {
        FLAT_ID
        long t = udiv(g, n), q = g - t * n, s = udiv(t, D), v = t - s * D;
        long r = ixS == 1 ? 0 : s;
        __global const REAL* src = gr + ((gS == 1 ? 0 : s) * D + v) * m;
        __global const int* a = arr + r * (n + 1);
        __global const int* li = list + r * m;
        int start = q == 0 ? 0 : a[q - 1], end = a[q];
        REAL acc = 0;
        for (int e = start; e < end; e++) acc += src[li[e]];
        out[g] = acc;
      }

      /* the first maximum of each k x k window at stride s of x padded by p (the padding never wins; -1 for a window of
         padding only) in column-major window order, a NaN winning; floor mode */
      __kernel void window_argmax_k(long base, long total, int c, int h, int w, int k, int s, int p, __global const REAL* x,
          __global REAL* out) {
        FLAT_ID
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        long outn = (long) c * oh * ow, n = udiv(g, outn), e = g - n * outn;
        int ch = (int) (e % c), oy = (int) ((e / c) % oh), ox = (int) (e / ((long) c * oh));
        __global const REAL* xs = x + n * c * h * w;
        long best = -1;
        REAL mx = -INFINITY;
        for (int kx = 0; kx < k; kx++) {
          int xx = ox * s - p + kx;
          if (xx < 0 || xx >= w) continue;
          for (int ky = 0; ky < k; ky++) {
            int yy = oy * s - p + ky;
            if (yy < 0 || yy >= h) continue;
            long src = ch + (long) c * (yy + (long) h * xx);
            REAL v = xs[src];
            if (best < 0 || v > mx || isnan(v)) { mx = v; best = src; }
          }
        }
        out[g] = (REAL) best;
      }

      /* [S x D] to [1 x D]: entry g of the result sums the samples in order */
      __kernel void sum_samples_k(long base, long total, long S, __global const REAL* x, __global REAL* out) {
        FLAT_ID
        REAL acc = 0;
        for (long s = 0; s < S; s++) acc += x[s * total + g];
        out[g] = acc;
      }

      /* ---- group kernels: one work-group of RED_WG work items per item ---- */

      __kernel void sum_k(int tbase, long n, __global const REAL* x, __global REAL* out) {
        __local REAL sh[RED_WG];
        long t = (long) get_group_id(0) + tbase;
        int l = (int) get_local_id(0);
        __global const REAL* p = x + t * n;
        REAL acc = 0;
        for (long e = l; e < n; e += RED_WG) acc += p[e];
        sh[l] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = RED_WG / 2; h > 0; h >>= 1) {
          if (l < h) sh[l] += sh[l + h];
          barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (l == 0) out[t] = sh[0];
      }

      REAL group_max(__local REAL* sh, int l, REAL v) {
        sh[l] = v;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = RED_WG / 2; h > 0; h >>= 1) {
          if (l < h) sh[l] = max_nan(sh[l], sh[l + h]);
          barrier(CLK_LOCAL_MEM_FENCE);
        }
        REAL r = sh[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        return r;
      }

      REAL group_sum(__local REAL* sh, int l, REAL v) {
        sh[l] = v;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = RED_WG / 2; h > 0; h >>= 1) {
          if (l < h) sh[l] += sh[l + h];
          barrier(CLK_LOCAL_MEM_FENCE);
        }
        REAL r = sh[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        return r;
      }

      __kernel void softmax_k(int tbase, long n, __global const REAL* x, __global REAL* out) {
        __local REAL sh[RED_WG];
        long t = (long) get_group_id(0) + tbase;
        int l = (int) get_local_id(0);
        __global const REAL* p = x + t * n;
        __global REAL* o = out + t * n;
        REAL mx = -INFINITY;
        for (long e = l; e < n; e += RED_WG) mx = max_nan(mx, p[e]);
        mx = group_max(sh, l, mx);
        REAL z = 0;
        for (long e = l; e < n; e += RED_WG) z += exp(p[e] - mx);
        z = group_sum(sh, l, z);
        REAL inv = (REAL) 1 / z;
        for (long e = l; e < n; e += RED_WG) o[e] = exp(p[e] - mx) * inv;
      }

      __kernel void logsumexp_k(int tbase, long n, __global const REAL* x, __global REAL* out) {
        __local REAL sh[RED_WG];
        long t = (long) get_group_id(0) + tbase;
        int l = (int) get_local_id(0);
        __global const REAL* p = x + t * n;
        REAL mx = -INFINITY;
        for (long e = l; e < n; e += RED_WG) mx = max_nan(mx, p[e]);
        mx = group_max(sh, l, mx);
        if (isinf(mx) || isnan(mx)) {
          if (l == 0) out[t] = mx;
          return;
        }
        REAL z = 0;
        for (long e = l; e < n; e += RED_WG) z += exp(p[e] - mx);
        z = group_sum(sh, l, z);
        if (l == 0) out[t] = mx + log(z);
      }
      """;

  /**
   * A tiled product kernel {@code gemm_<suffix>}: a work-group of {@code wx x wy} work items
   * computes a {@code (wx*rx) x (wy*ry)} tile of C, each work item an {@code rx x ry} register block
   * (rows {@code tx + r*wx}, columns {@code ty + c*wy}, so that neighbouring work items write
   * neighbouring rows of the column-major result); tiles of op(A) and op(B) of depth {@code tk} are
   * staged in local memory, read from global memory along their contiguous direction.
   *
   * <p>Arguments: {@code C_t = sum_{q < sumCount} op(A) op(B)} for batch index {@code t = s*Dk + d}
   * ({@code s = t / Dk}), where A starts at {@code s*aSs + d*aSd + q*aSq} (strides 0 broadcast) with
   * leading dimension lda ({@code op(A)(i, p) = ta ? A[p + lda*i] : A[i + lda*p]}), B likewise, and
   * {@code C_t} starts at {@code t*cSt} with leading dimension ldc. Group dimensions 1 and 2 are
   * offset by {@code jBase} and {@code tBase} (launches are split to stay within every device's
   * grid limits).
   */
  static String gemm(String suffix, int wx, int wy, int rx, int ry, int tk) {
    int tm = wx * rx, tn = wy * ry;
    return """
        __kernel __attribute__((reqd_work_group_size(WX, WY, 1)))
        void gemm_SUFFIX(int m, int n, int k, int ta, int tb, int lda, int ldb, int ldc,
            __global const REAL* A, long aSs, long aSd, long aSq, __global const REAL* B, long bSs, long bSd, long bSq,
            __global REAL* C, long cSt, int Dk, int sumCount, int tBase, int jBase) {
          __local REAL As[TK][TM + 1];
          __local REAL Bs[TK][TN + 1];
          int tx = (int) get_local_id(0), ty = (int) get_local_id(1), lid = ty * WX + tx;
          int i0 = (int) get_group_id(0) * TM, j0 = ((int) get_group_id(1) + jBase) * TN;
          long t = (long) get_group_id(2) + tBase, s = t / Dk, d = t - s * Dk;
          REAL acc[RX][RY];
          for (int r = 0; r < RX; r++)
            for (int c = 0; c < RY; c++) acc[r][c] = 0;
          for (int q = 0; q < sumCount; q++) {
            __global const REAL* a = A + s * aSs + d * aSd + q * aSq;
            __global const REAL* b = B + s * bSs + d * bSd + q * bSq;
            for (int p0 = 0; p0 < k; p0 += TK) {
              for (int l = lid; l < TM * TK; l += WX * WY) {
                int ii, pp;
                if (ta) { pp = l % TK; ii = l / TK; } else { ii = l % TM; pp = l / TM; }
                int gi = i0 + ii, gp = p0 + pp;
                REAL v = 0;
                if (gi < m && gp < k) v = ta ? a[gp + (long) lda * gi] : a[gi + (long) lda * gp];
                As[pp][ii] = v;
              }
              for (int l = lid; l < TK * TN; l += WX * WY) {
                int pp, jj;
                if (tb) { jj = l % TN; pp = l / TN; } else { pp = l % TK; jj = l / TK; }
                int gp = p0 + pp, gj = j0 + jj;
                REAL v = 0;
                if (gp < k && gj < n) v = tb ? b[gj + (long) ldb * gp] : b[gp + (long) ldb * gj];
                Bs[pp][jj] = v;
              }
              barrier(CLK_LOCAL_MEM_FENCE);
              for (int pp = 0; pp < TK; pp++) {
                REAL ar[RX], br[RY];
                for (int r = 0; r < RX; r++) ar[r] = As[pp][tx + r * WX];
                for (int c = 0; c < RY; c++) br[c] = Bs[pp][ty + c * WY];
                for (int r = 0; r < RX; r++)
                  for (int c = 0; c < RY; c++) acc[r][c] += ar[r] * br[c];
              }
              barrier(CLK_LOCAL_MEM_FENCE);
            }
          }
          __global REAL* out = C + t * cSt;
          for (int r = 0; r < RX; r++)
            for (int c = 0; c < RY; c++) {
              int i = i0 + tx + r * WX, j = j0 + ty + c * WY;
              if (i < m && j < n) out[i + (long) ldc * j] = acc[r][c];
            }
        }
        """.replace("SUFFIX", suffix).replace("WX", Integer.toString(wx)).replace("WY", Integer.toString(wy))
        .replace("RX", Integer.toString(rx)).replace("RY", Integer.toString(ry)).replace("TK", Integer.toString(tk))
        .replace("TM", Integer.toString(tm)).replace("TN", Integer.toString(tn));
  }

  /** The untiled product, one work item per entry of C (the fallback for devices with small work-groups). */
  private static final String GEMM_NAIVE = """
      __kernel void gemm_naive(int m, int n, int k, int ta, int tb, int lda, int ldb, int ldc,
          __global const REAL* A, long aSs, long aSd, long aSq, __global const REAL* B, long bSs, long bSd, long bSq,
          __global REAL* C, long cSt, int Dk, int sumCount, int tBase, int jBase) {
        int i = (int) get_global_id(0), j = (int) get_global_id(1) + jBase;
        long t = (long) get_global_id(2) + tBase, s = t / Dk, d = t - s * Dk;
        if (i >= m || j >= n) return;
        REAL acc = 0;
        for (int q = 0; q < sumCount; q++) {
          __global const REAL* a = A + s * aSs + d * aSd + q * aSq;
          __global const REAL* b = B + s * bSs + d * bSd + q * bSq;
          for (int p = 0; p < k; p++)
            acc += (ta ? a[p + (long) lda * i] : a[i + (long) lda * p]) * (tb ? b[j + (long) ldb * p] : b[p + (long) ldb * j]);
        }
        C[t * cSt + i + (long) ldc * j] = acc;
      }
      """;

  /**
   * The product for CPU devices (PoCL): no local memory and no barriers (which a CPU OpenCL
   * compiler turns into per-work-item state kept in memory); each work item accumulates a 2 x 8
   * block of C in registers, rows {@code gx + r*GX} (GX the launch's global size, so that
   * neighbouring work items read and write neighbouring rows) and the 8 adjacent columns from
   * {@code jBase + 8*gy}, reading A and B through the caches. Same arguments as {@link #gemm};
   * {@code jBase} counts columns here.
   */
  private static final String GEMM_DIRECT = """
      __kernel void gemm_direct(int m, int n, int k, int ta, int tb, int lda, int ldb, int ldc,
          __global const REAL* A, long aSs, long aSd, long aSq, __global const REAL* B, long bSs, long bSd, long bSq,
          __global REAL* C, long cSt, int Dk, int sumCount, int tBase, int jBase) {
        int gx = (int) get_global_id(0), GX = (int) get_global_size(0);
        int gy = (int) get_global_id(1);
        long t = (long) get_global_id(2) + tBase, s = t / Dk, d = t - s * Dk;
        REAL acc[2][8];
        int ii[2], jj[8];
        for (int r = 0; r < 2; r++) ii[r] = min(gx + r * GX, m - 1);
        for (int c = 0; c < 8; c++) jj[c] = min(jBase + gy * 8 + c, n - 1);
        for (int r = 0; r < 2; r++)
          for (int c = 0; c < 8; c++) acc[r][c] = 0;
        for (int q = 0; q < sumCount; q++) {
          __global const REAL* a = A + s * aSs + d * aSd + q * aSq;
          __global const REAL* b = B + s * bSs + d * bSd + q * bSq;
          for (int p = 0; p < k; p++) {
            REAL ar[2], br[8];
            for (int r = 0; r < 2; r++) ar[r] = ta ? a[p + (long) lda * ii[r]] : a[ii[r] + (long) lda * p];
            for (int c = 0; c < 8; c++) br[c] = tb ? b[jj[c] + (long) ldb * p] : b[p + (long) ldb * jj[c]];
            for (int r = 0; r < 2; r++)
              for (int c = 0; c < 8; c++) acc[r][c] += ar[r] * br[c];
          }
        }
        __global REAL* out = C + t * cSt;
        for (int r = 0; r < 2; r++)
          for (int c = 0; c < 8; c++) {
            int i = gx + r * GX, j = jBase + gy * 8 + c;
            if (i < m && j < n) out[i + (long) ldc * j] = acc[r][c];
          }
      }
      """;

  /** The CPU product: work-groups of 16 x 4 work items, 2 x 8 entries each. */
  static final int[] GEMM_DIRECT_SHAPE = {16, 4, 2, 8};

  /** The large product tile: 16 x 16 work items, 4 x 4 entries each, a 64 x 64 tile of depth 16. */
  static final int[] GEMM_LARGE = {16, 16, 4, 4, 16};

  /** The small product tile: 8 x 8 work items, 2 x 2 entries each, a 16 x 16 tile of depth 16. */
  static final int[] GEMM_SMALL = {8, 8, 2, 2, 16};

  /** Local memory of a tile configuration in bytes. */
  static long gemmLocalBytes(int[] cfg, Precision precision) {
    int tm = cfg[0] * cfg[2], tn = cfg[1] * cfg[3], tk = cfg[4];
    return (long) tk * (tm + 1 + tn + 1) * precision.bytes();
  }

  /** The main program of a precision, with work-groups of {@code redWg} (a power of two) for the group kernels. */
  static String main(Precision precision, int redWg) {
    return header(precision) + "#define RED_WG " + redWg + "\n" + HELPERS + KERNELS
        + gemm("large", GEMM_LARGE[0], GEMM_LARGE[1], GEMM_LARGE[2], GEMM_LARGE[3], GEMM_LARGE[4])
        + gemm("small", GEMM_SMALL[0], GEMM_SMALL[1], GEMM_SMALL[2], GEMM_SMALL[3], GEMM_SMALL[4]) + GEMM_NAIVE + GEMM_DIRECT;
  }

  /** The name of the map kernel of a scalar function. */
  static String mapKernelName(ScalarFunction f) {
    return "map_" + f.name();
  }

  /**
   * The program of {@link org.hbp.backend.Backend#map} with a {@link ScalarFunction}: REAL, the
   * built-ins of {@link ScalarFunction#OPENCL_PRELUDE}, the function's source and a flat kernel
   * {@code map_<name>} applying it to every entry.
   */
  static String map(Precision precision, ScalarFunction f) {
    return header(precision) + ScalarFunction.OPENCL_PRELUDE + "\n" + f.openclSource() + "\n"
        + "__kernel void " + mapKernelName(f) + "(long base, long total, __global const REAL* x, __global REAL* out) {\n"
        + "  long g = (long) get_global_id(0) + base;\n"
        + "  if (g >= total) return;\n"
        + "  out[g] = " + f.name() + "(x[g]);\n"
        + "}\n";
  }
}
