package org.hbp.backend.blas;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * OpenBLAS's (process-wide) thread count, as the BLAS kernels switch it: to one while each of the
 * backend's threads runs its own single-threaded gemms (convolution chunks, {@link ThinProducts}),
 * back to the backend's count for the other products.
 *
 * <p>JavaCPP's {@code blas_set_num_threads} looks up four symbols ({@code Loader.addressof}, a
 * search of every loaded library) on every call: measured here, a switch to one thread and back
 * cost 0.4–1.6 ms, more than a float32 gemv of a 1024 x 1024 matrix, and bda's 10-direction
 * products spent 8 % of their time in it. Here {@code openblas_set_num_threads} is looked up once
 * and called directly, and a switch to the count already set is skipped.
 *
 * <p>The count last set is remembered here, not read back from OpenBLAS: every switch in this
 * process must go through {@link #set} (benchmark mains included), or the next one may be skipped.
 */
public final class OpenBlasThreads {
  private static final openblas_nolapack.SetNumThreads SET = resolve();
  /** The count last set here; -1 before the first. Read without the lock by {@link #set}'s fast path. */
  private static volatile int current = -1;

  private OpenBlasThreads() {}

  private static openblas_nolapack.SetNumThreads resolve() {
    Loader.load(openblas_nolapack.class);
    Pointer address = Loader.addressof("openblas_set_num_threads");
    if (address == null) return null;
    // as JavaCPP's own blas_set_num_threads does: a function pointer allocated, then pointed at the symbol
    openblas_nolapack.SetNumThreads f = new openblas_nolapack.SetNumThreads() {};
    f.put(address);
    return f;
  }

  /** Sets OpenBLAS's thread count to n (>= 1) unless it was last set to n here (the check on every product call takes no lock). */
  public static void set(int n) {
    if (current == n) return;
    synchronized (OpenBlasThreads.class) {
      if (current == n) return;
      if (SET != null) SET.call(n);
      else openblas_nolapack.blas_set_num_threads(n);
      current = n;
    }
  }
}
