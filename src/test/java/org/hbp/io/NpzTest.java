package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpzTest {
    @TempDir
    Path dir;

    @Test
    void readsSavez() throws IOException {
        // np.savez('savez.npz', w=np.arange(6.).reshape(2, 3), **{'0.weight': [[1.5]] as f4}, n=np.array(42, '<i8'))
        Map<String, NdArray> m = Npz.read(Fixtures.path("savez.npz"));
        assertEquals(List.of("w", "0.weight", "n"), List.copyOf(m.keySet()));
        assertEquals(NdArray.of(Fixtures.arange(6), 2, 3), m.get("w"));
        assertEquals(NdArray.of(new double[] {1.5}, DType.FLOAT32, 1, 1), m.get("0.weight"));
        assertEquals(NdArray.of(new double[] {42}, DType.INT64), m.get("n"));
    }

    @Test
    void readsSavezCompressed() throws IOException {
        // np.savez_compressed('savez_compressed.npz', b=np.ones(4) / 4, a=np.arange(3, dtype='<i4'))
        Map<String, NdArray> m = Npz.read(Fixtures.path("savez_compressed.npz"));
        assertEquals(List.of("b", "a"), List.copyOf(m.keySet()));
        assertEquals(NdArray.of(new double[] {0.25, 0.25, 0.25, 0.25}, 4), m.get("b"));
        assertEquals(NdArray.of(new double[] {0, 1, 2}, DType.INT32, 3), m.get("a"));
    }

    private static Map<String, NdArray> sample() {
        Map<String, NdArray> m = new LinkedHashMap<>();
        m.put("z", NdArray.of(Fixtures.arange(24), 2, 3, 4));
        m.put("0.weight", NdArray.of(new double[] {0.1, 0.2}, DType.FLOAT32, 2, 1));
        m.put("layers/1.bias", NdArray.of(new double[] {-7, 1L << 40}, DType.INT64, 2));
        m.put("s", NdArray.scalar(-0.0));
        m.put("empty", NdArray.of(new double[0], 3, 0));
        return m;
    }

    @Test
    void roundTripStored() throws IOException {
        Path p = dir.resolve("out.npz");
        Npz.write(p, sample());
        Map<String, NdArray> back = Npz.read(p);
        assertEquals(sample(), back);
        assertEquals(List.copyOf(sample().keySet()), List.copyOf(back.keySet()));
        try (ZipFile z = new ZipFile(p.toFile())) {
            assertEquals("z.npy", z.entries().nextElement().getName());
            z.stream().forEach(e -> assertEquals(ZipEntry.STORED, e.getMethod()));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left");
        }
    }

    @Test
    void roundTripCompressed() throws IOException {
        Path p = dir.resolve("out.npz");
        Npz.writeCompressed(p, sample());
        assertEquals(sample(), Npz.read(p));
        try (ZipFile z = new ZipFile(p.toFile())) {
            z.stream().forEach(e -> assertEquals(ZipEntry.DEFLATED, e.getMethod()));
        }
    }

    @Test
    void writingIsDeterministic() throws IOException {
        Npz.write(dir.resolve("a.npz"), sample());
        Npz.write(dir.resolve("b.npz"), sample());
        assertArrayEquals(Files.readAllBytes(dir.resolve("a.npz")), Files.readAllBytes(dir.resolve("b.npz")));
    }

    @Test
    void emptyArchive() throws IOException {
        Path p = dir.resolve("none.npz");
        Npz.write(p, Map.of());
        assertEquals(Map.of(), Npz.read(p));
    }

    @Test
    void badEntryNamesFileAndArray() throws IOException {
        byte[] good = Fixtures.bytes("f8_2x3.npy");
        byte[] cut = java.util.Arrays.copyOf(good, good.length - 8);
        Path p = dir.resolve("params.npz");
        Files.write(p, Fixtures.zip("ok.npy", good, "0.weight.npy", cut));
        assertEquals(p + ": array '0.weight': truncated data: expected 48 bytes (6 x <f8 for shape [2, 3]), found 40",
                assertThrows(NpyException.class, () -> Npz.read(p)).getMessage());
    }

    @Test
    void unsupportedDtypeEntryNamesFileAndArray() throws IOException {
        Path p = dir.resolve("params.npz");
        Files.write(p, Fixtures.zip("c.npy", Fixtures.bytes("c16.npy")));
        assertEquals(p + ": array 'c': unsupported dtype '<c16' (supported: float64, float32, float16, int64, int32, int16, int8,"
                + " uint64, uint32, uint16, uint8 and bool, either byte order)", assertThrows(NpyException.class, () -> Npz.read(p)).getMessage());
    }

    @Test
    void corruptedStoredEntryFailsTheCrcCheck() throws IOException {
        byte[] zip = Fixtures.bytes("savez.npz");
        byte[] w = Fixtures.bytes("f8_2x3.npy"); // any .npy; we only need the magic string
        int start = indexOf(zip, java.util.Arrays.copyOf(w, 6)); // first entry 'w.npy', stored
        zip[start + 175] ^= 0x01; // last byte of w's data: the array still parses
        Path p = dir.resolve("params.npz");
        Files.write(p, zip);
        // CRC-32 of w.npy as written by numpy, and of the altered bytes
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(zip, start, 176);
        long expected;
        try (ZipFile z = new ZipFile(p.toFile())) {
            expected = z.getEntry("w.npy").getCrc();
        }
        assertEquals(String.format("%s: array 'w': corrupt zip entry: expected CRC-32 %08x, found %08x",
                p, expected, crc.getValue()),
                assertThrows(NpyException.class, () -> Npz.read(p)).getMessage());
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void entryThatIsNotNpy() throws IOException {
        Path p = dir.resolve("x.npz");
        Files.write(p, Fixtures.zip("a.npy", Fixtures.bytes("f8_0d.npy"), "notes.txt", new byte[] {1}));
        assertEquals(p + ": unexpected entry 'notes.txt' (expected only NAME.npy entries, as written by numpy.savez)",
                assertThrows(NpyException.class, () -> Npz.read(p)).getMessage());
    }

    @Test
    void notAZipFile() throws IOException {
        Path p = dir.resolve("x.npz");
        Files.write(p, Fixtures.bytes("f8_0d.npy"));
        NpyException e = assertThrows(NpyException.class, () -> Npz.read(p));
        assertEquals(p + ": not a valid .npz file: expected a zip archive of .npy files (zip END header not found)",
                e.getMessage());
    }

    @Test
    void requireChecksShape() {
        Map<String, NdArray> m = new LinkedHashMap<>();
        m.put("x", NdArray.of(new double[30], 10, 3));
        m.put("z", NdArray.scalar(1));
        assertSame(m.get("x"), Npz.require(m, "x", "batch.npz", 10, 3));
        assertSame(m.get("x"), Npz.require(m, "x", "batch.npz", -1, 3));
        assertSame(m.get("x"), Npz.require(m, "x", "batch.npz", -1, -1));
        assertSame(m.get("z"), Npz.require(m, "z", "batch.npz"));
        assertSame(m.get("x"), Npz.requireAnyShape(m, "x", "batch.npz"));
        assertEquals("batch.npz: array 'x' has shape [10, 3] but [10, 4] was expected",
                assertThrows(NpyException.class, () -> Npz.require(m, "x", "batch.npz", 10, 4)).getMessage());
        assertEquals("batch.npz: array 'x' has shape [10, 3] but [*, 4] was expected",
                assertThrows(NpyException.class, () -> Npz.require(m, "x", "batch.npz", -1, 4)).getMessage());
        assertEquals("batch.npz: array 'x' has shape [10, 3] but [10] was expected",
                assertThrows(NpyException.class, () -> Npz.require(m, "x", "batch.npz", 10)).getMessage());
        assertEquals("batch.npz: array 'z' has shape [] but [1] was expected",
                assertThrows(NpyException.class, () -> Npz.require(m, "z", "batch.npz", 1)).getMessage());
    }

    @Test
    void requireMissingListsWhatThereIs() {
        Map<String, NdArray> m = new LinkedHashMap<>();
        m.put("x", NdArray.scalar(1));
        m.put("z", NdArray.scalar(2));
        assertEquals("batch.npz: no array 'y' (has: x, z)",
                assertThrows(NpyException.class, () -> Npz.require(m, "y", "batch.npz", 10, 4)).getMessage());
        assertEquals("batch.npz: no array 'y' (the file has no arrays)",
                assertThrows(NpyException.class, () -> Npz.requireAnyShape(Map.of(), "y", "batch.npz")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Npz.require(m, "x", "batch.npz", -2));
    }

    @Test
    void rejectsEmptyNames() {
        Map<String, NdArray> m = Map.of("", NdArray.scalar(1));
        assertThrows(IllegalArgumentException.class, () -> Npz.write(dir.resolve("e.npz"), m));
    }
}
