package org.hbp.backend.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.hbp.backend.Precision;
import org.junit.jupiter.api.Test;

/** {@link OpenBlasThreads} sets the count that OpenBLAS itself reports ({@code openblas_get_num_threads}). */
class OpenBlasThreadsTest {
  @Test
  void setsTheCountOpenBlasReports() {
    new BlasBackend(Precision.FLOAT64, 2);
    Pointer address = Loader.addressof("openblas_get_num_threads");
    assertNotNull(address, "openblas_get_num_threads not found in the loaded OpenBLAS");
    // a function pointer of type int(int) called with an ignored argument: openblas_get_num_threads takes none
    openblas_nolapack.MklSetNumThreadsLocal get = new openblas_nolapack.MklSetNumThreadsLocal() {};
    get.put(address);
    assertEquals(2, get.call(0), "the backend's count after its construction");
    try {
      OpenBlasThreads.set(1);
      assertEquals(1, get.call(0));
      OpenBlasThreads.set(1);
      assertEquals(1, get.call(0));
      OpenBlasThreads.set(2);
      assertEquals(2, get.call(0));
    } finally {
      OpenBlasThreads.set(Runtime.getRuntime().availableProcessors());
    }
  }
}
