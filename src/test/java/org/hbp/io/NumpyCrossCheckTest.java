package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

    /** Values of each small type (edges included), as Python literals and as Java doubles. */
    private static final String[][] SMALL = {
        {"float16", "[0.1, -1/3, 65504.0, 6e-8, 1e-5, 65519.0, -0.0, float('inf'), 2.0**-24, 0.5 + 2**-12]"},
        {"int16", "[-32768, 32767, -1, 0]"}, {"int8", "[-128, 127, -1]"},
        {"uint64", "[0, 2**53, 2**64 - 2**11]"}, {"uint32", "[0, 2**32 - 1]"}, {"uint16", "[0, 65535]"},
        {"uint8", "[0, 255, 7]"}, {"bool", "[True, False, True]"}};

    private static final double[][] SMALL_VALUES = {
        {0.1, -1.0 / 3, 65504.0, 6e-8, 1e-5, 65519.0, -0.0, Double.POSITIVE_INFINITY, 0x1p-24, 0.5 + 0x1p-12},
        {-32768, 32767, -1, 0}, {-128, 127, -1}, {0, 0x1p53, 0x1p64 - 0x1p11}, {0, 4294967295.0}, {0, 65535}, {0, 255, 7}, {1, 0, 1}};

    @Test
    void smallTypesRoundTripWithNumpy() throws Exception {
        if (System.getenv("CI") != null) assertEquals(true, numpyAvailable(), "CI needs python3 with numpy (.ci/run installs it)");
        assumeTrue(numpyAvailable(), "python3 with numpy not available");
        // NumPy writes each type; we read what NumPy holds (its float16 rounding is the reference)
        StringBuilder script = new StringBuilder("import numpy as np\n");
        for (String[] t : SMALL)
            script.append("a = np.array(").append(t[1]).append(", dtype=np.").append(t[0]).append(")\n")
                .append("np.save('np_").append(t[0]).append(".npy', a)\n")
                .append("print('").append(t[0]).append("', ' '.join(repr(float(v)) for v in a))\n");
        String printed = python(script.toString());
        for (int k = 0; k < SMALL.length; k++) {
            String prefix = SMALL[k][0] + " ";
            String line = printed.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
            String[] words = line.substring(prefix.length()).split(" ");
            double[] numpyHolds = new double[words.length];
            for (int i = 0; i < words.length; i++)
                numpyHolds[i] = words[i].equals("inf") ? Double.POSITIVE_INFINITY : words[i].equals("-inf") ? Double.NEGATIVE_INFINITY
                    : Double.parseDouble(words[i]);
            NdArray a = Npy.read(dir.resolve("np_" + SMALL[k][0] + ".npy"));
            assertEquals(SMALL[k][0], a.dtype().numpyName());
            assertArrayEquals(numpyHolds, a.data(), SMALL[k][0] + " as NumPy holds it");
        }
        // we write each type from doubles; NumPy checks the file against its own conversion of the same values
        StringBuilder check = new StringBuilder("import numpy as np\n");
        for (int k = 0; k < SMALL.length; k++) {
            DType t = DType.valueOf(SMALL[k][0].toUpperCase(java.util.Locale.ROOT));
            Npy.write(dir.resolve("ours_" + SMALL[k][0] + ".npy"), NdArray.of(SMALL_VALUES[k], t, SMALL_VALUES[k].length));
            check.append("a = np.load('ours_").append(SMALL[k][0]).append(".npy')\n")
                .append("b = np.array(").append(SMALL[k][1]).append(", dtype=np.").append(SMALL[k][0]).append(")\n")
                .append("assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), ('").append(SMALL[k][0]).append("', a, b)\n");
        }
        check.append("print('OK')\n");
        assertEquals("OK", python(check.toString()));
    }

    private String python(String script) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", script).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(true, p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        assertEquals(0, p.exitValue(), output);
        return output;
    }
}
