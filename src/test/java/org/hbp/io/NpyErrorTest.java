package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per way a {@code .npy} can be rejected, asserting the exact message. */
class NpyErrorTest {
    private static final String SUPPORTED = "(supported: float64, float32, float16, int64, int32, int16, int8, uint64, uint32, uint16,"
            + " uint8 and bool, either byte order)";

    @TempDir
    Path dir;

    private static String errorReading(byte[] bytes, String name) {
        return assertThrows(NpyException.class, () -> Npy.read(new ByteArrayInputStream(bytes), name))
                .getMessage();
    }

    private static String errorReadingFixture(String fixture) {
        return errorReading(Fixtures.bytes(fixture), fixture);
    }

    private static String errorReadingHeader(String header) {
        return errorReading(Fixtures.npy(header, new byte[0]), "h.npy");
    }

    @Test
    void badMagicNamesTheFileAndTheExpectedBytes() throws IOException {
        Path p = dir.resolve("data.npy");
        Files.writeString(p, "hello,world");
        NpyException e = assertThrows(NpyException.class, () -> Npy.read(p));
        assertEquals(p + ": not a .npy file: expected magic bytes 93 4E 55 4D 50 59 (\"\\x93NUMPY\"),"
                + " found 68 65 6C 6C 6F 2C", e.getMessage());
    }

    @Test
    void badMagicOnEmptyAndZipInput() {
        assertEquals("e.npy: not a .npy file: expected magic bytes 93 4E 55 4D 50 59 (\"\\x93NUMPY\"),"
                + " found no bytes", errorReading(new byte[0], "e.npy"));
        assertEquals("s.npz: not a .npy file: expected magic bytes 93 4E 55 4D 50 59 (\"\\x93NUMPY\"),"
                + " found 50 4B 03 04 2D 00 (a zip archive; use Npz.read for .npz files)",
                errorReadingFixture("savez.npz").replace("savez.npz", "s.npz"));
    }

    @Test
    void truncatedData() throws IOException {
        byte[] full = Fixtures.bytes("f8_2x3.npy");
        Path p = dir.resolve("cut.npy");
        Files.write(p, Arrays.copyOf(full, full.length - 8));
        NpyException e = assertThrows(NpyException.class, () -> Npy.read(p));
        assertEquals(p + ": truncated data: expected 48 bytes (6 x <f8 for shape [2, 3]), found 40", e.getMessage());
    }

    @Test
    void truncatedBigEndianData() {
        byte[] full = Fixtures.bytes("i4_be_3.npy");
        assertEquals("be.npy: truncated data: expected 12 bytes (3 x >i4 for shape [3]), found 0",
                errorReading(Arrays.copyOf(full, full.length - 12), "be.npy"));
    }

    @Test
    void truncatedHeader() {
        byte[] full = Fixtures.bytes("f8_2x3.npy");
        assertEquals("t.npy: truncated header: expected 118 bytes, found 20",
                errorReading(Arrays.copyOf(full, 30), "t.npy"));
        assertEquals("t.npy: truncated header length: expected 2 bytes, found 1",
                errorReading(Arrays.copyOf(full, 9), "t.npy"));
    }

    @Test
    void unsupportedVersion() {
        byte[] bytes = Fixtures.bytes("f8_2x3.npy");
        bytes[6] = 4;
        assertEquals("v.npy: unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)",
                errorReading(bytes, "v.npy"));
    }

    @Test
    void unsupportedComplex() {
        assertEquals("c16.npy: unsupported dtype '<c16' " + SUPPORTED, errorReadingFixture("c16.npy"));
    }

    @Test
    void boolIsReadAsZerosAndOnes() throws IOException {
        // written by NumPy: np.save('bool.npy', np.array([True, False]))
        NdArray a = Npy.read(Fixtures.path("bool.npy"));
        assertEquals(DType.BOOL, a.dtype());
        assertArrayEquals(new double[] {1, 0}, a.data());
    }

    @Test
    void unsupportedUnicode() {
        assertEquals("unicode.npy: unsupported dtype '<U3' " + SUPPORTED, errorReadingFixture("unicode.npy"));
    }

    @Test
    void unsupportedObjectArray() {
        assertEquals("object.npy: unsupported dtype '|O' (an object array) " + SUPPORTED,
                errorReadingFixture("object.npy"));
    }

    @Test
    void unsupportedStructuredArray() {
        assertEquals("structured.npy: unsupported dtype [('a', '<f8')] (a structured dtype) " + SUPPORTED,
                errorReadingFixture("structured.npy"));
    }

    @Test
    void unsupportedDtypeFromAPathNamesThePath() {
        Path p = Fixtures.path("c16.npy");
        assertEquals(p + ": unsupported dtype '<c16' " + SUPPORTED,
                assertThrows(NpyException.class, () -> Npy.read(p)).getMessage());
    }

    @Test
    void malformedHeaderMissingKey() {
        assertEquals("h.npy: malformed .npy header: missing key 'shape' (expected keys 'descr', 'fortran_order',"
                + " 'shape'); header was {'descr': '<f8', 'fortran_order': False}",
                errorReadingHeader("{'descr': '<f8', 'fortran_order': False}"));
    }

    @Test
    void malformedHeaderUnexpectedKey() {
        assertEquals("h.npy: malformed .npy header: unexpected key 'order' (expected keys 'descr', 'fortran_order',"
                + " 'shape'); header was {'descr': '<f8', 'order': 'C', 'shape': ()}",
                errorReadingHeader("{'descr': '<f8', 'order': 'C', 'shape': ()}"));
    }

    @Test
    void malformedHeaderSyntax() {
        assertEquals("h.npy: malformed .npy header: expected ':' at offset 8, found ','; header was"
                + " {'descr', '<f8'}", errorReadingHeader("{'descr', '<f8'}"));
        assertEquals("h.npy: malformed .npy header: expected ',' or '}' at offset 15, found end of header;"
                + " header was {'descr': '<f8'", errorReadingHeader("{'descr': '<f8'"));
    }

    @Test
    void malformedHeaderNotADict() {
        assertEquals("h.npy: malformed .npy header: expected a dict with keys 'descr', 'fortran_order', 'shape';"
                + " header was ('<f8', False, (2,))", errorReadingHeader("('<f8', False, (2,))"));
    }

    @Test
    void malformedShape() {
        assertEquals("h.npy: malformed .npy header: 'shape' must be a tuple of non-negative integers, found [2, 3];"
                + " header was {'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}",
                errorReadingHeader("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}"));
        assertEquals("h.npy: malformed .npy header: 'shape' must be a tuple of non-negative integers, found (2, -1);"
                + " header was {'descr': '<f8', 'fortran_order': False, 'shape': (2, -1)}",
                errorReadingHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1)}"));
    }

    @Test
    void malformedFortranOrder() {
        assertEquals("h.npy: malformed .npy header: 'fortran_order' must be True or False, found 0;"
                + " header was {'descr': '<f8', 'fortran_order': 0, 'shape': ()}",
                errorReadingHeader("{'descr': '<f8', 'fortran_order': 0, 'shape': ()}"));
    }

    @Test
    void tooLarge() {
        assertEquals("h.npy: array of shape [65536, 65536] is too large (at most 2147483639 elements are supported)",
                errorReadingHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 65536), }"));
    }
}
