package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.hbp.ExternalTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks that NumPy itself reads what we write. Skipped where {@code python3} with numpy is not
 * installed (the fixture-based tests cover reading without Python).
 */
class NumpyCrossCheckTest {
    @TempDir
    Path dir;

    private static boolean numpyAvailable() {
        return ExternalTools.succeeds(60, "python3", "-c", "import numpy");
    }

    @Test
    void numpyReadsOurFiles() throws Exception {
        // CI installs numpy (.ci/run); there a missing numpy is a failure, not a skip
        if (System.getenv("CI") != null) assertEquals(true, numpyAvailable(), "CI needs python3 with numpy (.ci/run installs it)");
        assumeTrue(numpyAvailable(), "python3 with numpy not available");
        Npy.write(dir.resolve("f8.npy"), NdArray.of(Fixtures.arange(24), 2, 3, 4));
        Npy.write(dir.resolve("f4.npy"), NdArray.of(new double[] {0.1, -2.5}, DType.FLOAT32, 2, 1));
        Npy.write(dir.resolve("i8.npy"), NdArray.of(new double[] {-3, 0x1p40}, DType.INT64, 2));
        Npy.write(dir.resolve("i4.npy"), NdArray.of(new double[] {Integer.MIN_VALUE}, DType.INT32, 1));
        Npy.write(dir.resolve("s.npy"), NdArray.scalar(3.25));
        Map<String, NdArray> m = new LinkedHashMap<>();
        m.put("w", NdArray.of(Fixtures.arange(6), 2, 3));
        m.put("0.weight", NdArray.of(new double[] {7}, DType.INT32, 1, 1));
        Npz.write(dir.resolve("a.npz"), m);
        Npz.writeCompressed(dir.resolve("c.npz"), m);

        String script = String.join("\n",
                "import numpy as np",
                "def check(a, dtype, expected):",
                "    assert a.dtype == np.dtype(dtype), (a.dtype, dtype)",
                "    assert a.shape == np.shape(expected), (a.shape, np.shape(expected))",
                "    assert np.array_equal(a, np.asarray(expected, dtype=dtype)), (a, expected)",
                "check(np.load('f8.npy'), '<f8', np.arange(24.).reshape(2, 3, 4))",
                "check(np.load('f4.npy'), '<f4', [[0.1], [-2.5]])",
                "check(np.load('i8.npy'), '<i8', [-3, 2**40])",
                "check(np.load('i4.npy'), '<i4', [-2**31])",
                "check(np.load('s.npy'), '<f8', 3.25)",
                "for f in ['a.npz', 'c.npz']:",
                "    z = np.load(f)",
                "    assert list(z.keys()) == ['w', '0.weight'], list(z.keys())",
                "    check(z['w'], '<f8', np.arange(6.).reshape(2, 3))",
                "    check(z['0.weight'], '<i4', [[7]])",
                "print('OK')");
        Process p = new ProcessBuilder("python3", "-c", script).directory(dir.toFile())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(true, p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        assertEquals("OK", output);
        assertEquals(0, p.exitValue());
        try (var files = Files.list(dir)) {
            assertEquals(7, files.count(), "only the written files, no temporaries");
        }
    }
}
