package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Headers that announce more data than their source holds are refused before the array is
 * allocated: each test measures the bytes the reading thread allocates, which does not depend on
 * -Xmx (a reader that allocated first would use gigabytes or fail with OutOfMemoryError).
 */
class NpyBoundsTest {
    /** An NpyException after allocating far less than the arrays the headers announce (0.6 to 17 GB), more than reading a header needs. */
    private static final Allocations READ = new Allocations(NpyException.class, 64L << 20);

    @TempDir
    Path dir;

    private static String header(String shape) {
        return "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
    }

    /** A huge array (beyond a Java array) and a large one (within it), each announced by a file of 64 data bytes. */
    @ParameterizedTest
    @CsvSource({"huge.npy, 46340, 17179164800, 2147395600", "large.npy, 17320, 2399859200, 299982400"})
    void aTinyFileClaimingAHugeOrLargeArrayIsRefusedBeforeAllocating(String name, int side, long bytes, long elements) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, Fixtures.npy(header("(" + side + ", " + side + ")"), new byte[64]));
        assertEquals(p + ": truncated data: expected " + bytes + " bytes (" + elements + " x <f8 for shape [" + side + ", " + side + "]),"
                + " found 64", READ.refusedCheaply(() -> Npy.read(p)));
    }

    @Test
    void aShapeWhoseProductOverflowsIsRefusedNamingTheFile() throws IOException {
        Path p = dir.resolve("overflow.npy");
        Files.write(p, Fixtures.npy(header("(2147483647, 2147483647, 2147483647, 2147483647, 4)"), new byte[0]));
        assertEquals(p + ": array of shape [2147483647, 2147483647, 2147483647, 2147483647, 4] is too large (at most "
                + NdArray.MAX_NUMEL + " elements are supported)", READ.refusedCheaply(() -> Npy.read(p)));
    }

    @Test
    void aDirectoryIsNamedAndANpyFileExpected() throws IOException {
        Path d = Files.createDirectory(dir.resolve("a.npy"));
        assertEquals(d + ": is a directory; expected a .npy file",
                assertThrows(NpyException.class, () -> Npy.read(d)).getMessage());
        assertEquals(d + ": is a directory; expected an .npz file (a zip archive of .npy files)",
                assertThrows(NpyException.class, () -> Npz.read(d)).getMessage());
    }

    @Test
    void aStreamWithoutAKnownSizeGrowsWithTheDataReadOnly() {
        byte[] npy = Fixtures.npy(header("(17320, 17320)"), new byte[1 << 20]);
        String msg = READ.refusedCheaply(() -> Npy.read(new java.io.ByteArrayInputStream(npy), "s.npy"));
        assertEquals("s.npy: truncated data: expected 2399859200 bytes (299982400 x <f8 for shape [17320, 17320]),"
                + " found 1048576", msg);
    }

    @Test
    void anNpzEntryClaimingMoreThanItsDeclaredSizeIsRefusedBeforeAllocating() throws IOException {
        Path p = dir.resolve("bomb.npz");
        Files.write(p, Fixtures.zip("w.npy", Fixtures.npy(header("(17320, 17320)"), new byte[64])));
        assertEquals(p + ": array 'w': truncated data: expected 2399859200 bytes (299982400 x <f8 for shape"
                + " [17320, 17320]), found 64", // by the entry's declared size
                READ.refusedCheaply(() -> Npz.read(p)));
    }

    /** A deflated entry of zeros: 2.4 GB announced (and declared) from a few kilobytes of compressed data. */
    @Test
    void aZipBombIsRefusedByTheInflateRatio() throws IOException {
        byte[] npy = Fixtures.npy(header("(17320, 17320)"), new byte[4 << 20]);
        byte[] zip = deflatedZip("w.npy", npy);
        long compressed = compressedSizeOf(zip);
        patchSizes(zip, 2399859200L + 128); // the headers claim the full size
        Path p = dir.resolve("bomb.npz");
        Files.write(p, zip);
        assertEquals(p + ": array 'w': truncated data: expected 2399859200 bytes (299982400 x <f8 for shape"
                + " [17320, 17320]), but the entry's " + compressed + " compressed bytes inflate to at most "
                + compressed * Npz.MAX_INFLATE_RATIO + " (zip bomb or corrupt archive)",
                READ.refusedCheaply(() -> Npz.read(p)));
    }

    /**
     * Lying sizes that pass both checks (random, incompressible data of 2.5 MB may inflate to 2.6 GB):
     * reading stops where the data ends, having grown the array only as far as the data went.
     */
    @Test
    void lyingZipSizesCostOnlyTheDataPresent() throws IOException {
        byte[] data = new byte[5 << 19];
        new Random(1).nextBytes(data);
        byte[] zip = deflatedZip("w.npy", Fixtures.npy(header("(17320, 17320)"), data));
        patchSizes(zip, 2399859200L + 128);
        assertTrue(compressedSizeOf(zip) * Npz.MAX_INFLATE_RATIO > 2399859200L + 128, "the ratio check must pass");
        Path p = dir.resolve("liar.npz");
        Files.write(p, zip);
        assertEquals(p + ": array 'w': truncated data: expected 2399859200 bytes (299982400 x <f8 for shape"
                + " [17320, 17320]), found " + data.length, READ.refusedCheaply(() -> Npz.read(p)));
    }

    @Test
    void dataAfterAnEntrysArrayIsRefused() throws IOException {
        byte[] npy = Fixtures.npy(header("(2,)"), Fixtures.f8(1, 2));
        byte[] longer = java.util.Arrays.copyOf(npy, npy.length + 1000);
        Path p = dir.resolve("tail.npz");
        Files.write(p, Fixtures.zip("w.npy", longer));
        assertEquals(p + ": array 'w': unexpected data after the array's bytes (the zip entry must end there, as"
                + " numpy.savez writes it)", assertThrows(NpyException.class, () -> Npz.read(p)).getMessage());
        Files.write(p, Fixtures.zip("w.npy", npy));
        assertEquals(NdArray.of(new double[] {1, 2}, 2), Npz.read(p).get("w"));
    }

    @Test
    void aHeaderOfDeeplyNestedTuplesIsASyntaxErrorNotAStackOverflow() {
        String nested = "(".repeat(30_000) + ")".repeat(30_000); // fits a version-1.0 header
        byte[] npy = Fixtures.npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + nested + ", }", new byte[0]);
        String msg = assertThrows(NpyException.class, () -> Npy.read(new java.io.ByteArrayInputStream(npy), "deep.npy"))
                .getMessage();
        assertTrue(msg.startsWith("deep.npy: malformed .npy header: expected at most " + PyLiteral.MAX_DEPTH
                + " nested brackets at offset " + (50 + PyLiteral.MAX_DEPTH - 1) + ", found '('; header was {'descr'"),
                msg); // the dict is the first level
        assertTrue(msg.endsWith("... (" + (50 + 2 * 30_000 + 3) + " characters)"), msg);
        assertTrue(msg.length() < 500, msg);
    }

    @Test
    void nestingUpToTheLimitStillParses() throws PyLiteral.SyntaxError {
        int d = PyLiteral.MAX_DEPTH;
        assertEquals(PyLiteral.parse("[".repeat(d) + "]".repeat(d)).toString(), "[".repeat(d) + "]".repeat(d));
    }

    // ------------------------------------------------------------------ zip helpers

    private static byte[] deflatedZip(String name, byte[] content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            ZipEntry e = new ZipEntry(name);
            e.setMethod(ZipEntry.DEFLATED);
            z.putNextEntry(e);
            z.write(content);
            z.closeEntry();
        }
        return out.toByteArray();
    }

    /** The compressed size recorded in the central directory's one entry. */
    private static long compressedSizeOf(byte[] zip) {
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        return b.getInt(centralEntry(zip) + 20) & 0xffffffffL;
    }

    /** Sets the uncompressed size of the one entry in its local header and the central directory. */
    private static void patchSizes(byte[] zip, long size) {
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(centralEntry(zip) + 24, (int) size);
        int local = b.getInt(centralEntry(zip) + 42);
        if ((b.getShort(local + 6) & 8) == 0) { // sizes in the local header, not in a data descriptor
            b.putInt(local + 22, (int) size);
        }
    }

    private static int centralEntry(byte[] zip) {
        for (int i = zip.length - 22; i >= 0; i--) { // end-of-central-directory record
            if (zip[i] == 0x50 && zip[i + 1] == 0x4b && zip[i + 2] == 5 && zip[i + 3] == 6) {
                return ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN).getInt(i + 16);
            }
        }
        throw new IllegalStateException("no end of central directory");
    }
}
