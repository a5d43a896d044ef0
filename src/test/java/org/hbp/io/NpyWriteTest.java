package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyWriteTest {
    @TempDir
    Path dir;

    private static List<NdArray> samples() {
        return List.of(
                NdArray.of(new double[] {-1.5, 0, 1e300, -0.0, Double.NaN, Double.POSITIVE_INFINITY}, 2, 3),
                NdArray.of(new double[] {0.1, -2.5, 3e38}, DType.FLOAT32, 3),
                NdArray.of(new double[] {-3, 0, 0x1p40, -0x1p53}, DType.INT64, 2, 2),
                NdArray.of(new double[] {Integer.MIN_VALUE, Integer.MAX_VALUE}, DType.INT32, 2, 1),
                NdArray.scalar(3.25),
                NdArray.of(new double[0], 0, 3),
                NdArray.of(Fixtures.arange(24), 2, 3, 4));
    }

    @Test
    void roundTripThroughFiles() throws IOException {
        int n = 0;
        for (NdArray a : samples()) {
            Path p = dir.resolve("a" + n++ + ".npy");
            Npy.write(p, a);
            assertEquals(a, Npy.read(p), a.toString());
        }
        // only the targets, no temporary files
        try (var files = Files.list(dir)) {
            assertEquals(n, files.count());
        }
    }

    @Test
    void roundTripThroughStreams() throws IOException {
        for (NdArray a : samples()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Npy.write(out, a);
            assertEquals(a, Npy.read(new ByteArrayInputStream(out.toByteArray()), "mem"));
        }
    }

    @Test
    void writesNumpyCompatibleBytes() throws IOException {
        // Same header (and data) as np.save of np.arange(6.).reshape(2, 3) * 0.5 - 1
        NdArray a = NdArray.of(new double[] {-1, -0.5, 0, 0.5, 1, 1.5}, 2, 3);
        Path p = dir.resolve("a.npy");
        Npy.write(p, a);
        byte[] ours = Files.readAllBytes(p);
        byte[] numpys = Fixtures.bytes("f8_2x3.npy");
        int headerEnd = 10 + (ByteBuffer.wrap(ours, 8, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xffff);
        assertEquals(0, headerEnd % 64, "data aligned to 64 bytes");
        String header = new String(ours, 10, headerEnd - 10, StandardCharsets.ISO_8859_1);
        assertEquals("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", header.strip());
        assertTrue(header.endsWith("\n"));
        assertArrayEquals(Arrays.copyOf(numpys, 8), Arrays.copyOf(ours, 8), "magic and version 1.0");
        assertArrayEquals(Arrays.copyOfRange(numpys, numpys.length - 48, numpys.length),
                Arrays.copyOfRange(ours, ours.length - 48, ours.length));
    }

    @Test
    void dtypesAreWrittenAsTheArraysDtype() throws IOException {
        for (DType t : DType.values()) {
            NdArray a = NdArray.of(new double[] {1, 0, 1}, t, 3); // values every dtype holds, bool included
            byte[] header = Npy.header(a);
            String text = new String(header, 10, header.length - 10, StandardCharsets.ISO_8859_1);
            assertTrue(text.startsWith("{'descr': '" + t.descr() + "', "), text);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Npy.write(out, a);
            assertEquals(header.length + 3 * t.itemSize(), out.size());
        }
        byte[] h = Npy.header(NdArray.scalar(1));
        assertTrue(new String(h, StandardCharsets.ISO_8859_1).contains("'shape': (), }"));
        h = Npy.header(NdArray.of(new double[] {1}, 1));
        assertTrue(new String(h, StandardCharsets.ISO_8859_1).contains("'shape': (1,), }"));
    }

    @Test
    void hugeHeaderUsesVersion2() throws IOException {
        int[] shape = new int[30_000]; // 30000 dimensions of size 1: "1, " x 30000 > 64 KiB
        Arrays.fill(shape, 1);
        NdArray a = NdArray.of(new double[] {7}, shape);
        byte[] header = Npy.header(a);
        assertEquals(2, header[6]);
        assertEquals(0, header.length % 64);
        Path p = dir.resolve("big.npy");
        Npy.write(p, a);
        assertEquals(a, Npy.read(p));
        assertEquals(1, Npy.header(NdArray.scalar(1))[6]);
    }

    @Test
    void overwritesAnExistingFile() throws IOException {
        Path p = dir.resolve("a.npy");
        Files.writeString(p, "old");
        Npy.write(p, NdArray.scalar(1));
        assertEquals(NdArray.scalar(1), Npy.read(p));
    }
}
