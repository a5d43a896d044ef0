package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.hbp.io.Allocations;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IDX reading is bounded by the size the header announces: gzip bombs and headers announcing more
 * than the file can hold are refused after a bounded allocation, measured per thread (independent
 * of -Xmx).
 */
class IdxBoundsTest {
    /** An IOException after allocating at most 24 MiB, far less than the data the headers announce. */
    private static final Allocations READ = new Allocations(IOException.class, 24L << 20);

    @TempDir
    Path dir;

    /** The message of reading {@code p} as 28x28 images, refused after a bounded allocation. */
    private static String refusedImages(Path p) {
        return READ.refusedCheaply(() -> Idx.readImages(p, 28, 28));
    }

    private static byte[] imageHeader(int count) {
        return ByteBuffer.allocate(16).putInt(Idx.IMAGE_MAGIC).putInt(count).putInt(28).putInt(28).array();
    }

    /** gzip of {@code head} followed by {@code zeros} zero bytes and then {@code tail}, streamed. */
    private Path gzip(String name, byte[] head, long zeros, byte[] tail) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(head);
            byte[] block = new byte[1 << 16];
            for (long left = zeros; left > 0; left -= block.length) {
                out.write(block, 0, (int) Math.min(block.length, left));
            }
            out.write(tail);
        }
        Path p = dir.resolve(name);
        Files.write(p, bytes.toByteArray());
        return p;
    }

    /** One image announced, 64 MB of zeros after it: decompression stops soon after the one image. */
    @Test
    void aGzipBombIsReadOnlyAsFarAsTheHeaderAnnounces() throws IOException {
        Path p = gzip("bomb-idx3-ubyte.gz", imageHeader(1), 64L << 20, new byte[0]);
        assertEquals(p + ": more than 1048576 bytes beyond the 1 images of 28x28 the header announces (expected 800"
                + " bytes, the file has more than 1049376); the file is corrupt or not an IDX image file",
                refusedImages(p));
    }

    @Test
    void aSmallExcessIsStillCountedExactly() throws IOException {
        Path p = gzip("extra-idx3-ubyte.gz", imageHeader(1), 784 + 7, new byte[0]);
        assertEquals(p + ": 7 bytes beyond the 1 images of 28x28 the header announces (expected 800 bytes, the file"
                + " has 807); the file is corrupt or not an IDX image file", refusedImages(p));
    }

    @Test
    void aHeaderAnnouncingMoreThanTheGzipCanInflateToIsRefusedAtOnce() throws IOException {
        Path p = gzip("short-idx3-ubyte.gz", imageHeader(1_000_000), 100, new byte[0]);
        long compressed = Files.size(p);
        assertEquals(p + ": truncated or corrupt: the IDX header announces 784000016 bytes, but " + compressed
                + " bytes of gzip data inflate to at most " + compressed * Idx.MAX_INFLATE_RATIO,
                refusedImages(p));
    }

    /** Incompressible data pass the ratio check; the buffer then grows only with the data present. */
    @Test
    void aLyingHeaderCostsOnlyTheDataPresent() throws IOException {
        byte[] pixels = new byte[3 << 20];
        new Random(7).nextBytes(pixels);
        Path p = gzip("liar-idx3-ubyte.gz", imageHeader(1_000_000), 0, pixels);
        assertTrue(Files.size(p) * Idx.MAX_INFLATE_RATIO > 784_000_016L, "the ratio check must pass");
        assertEquals(p + ": truncated: the header announces 1000000 images of 28x28 = 784000000 pixel bytes after the"
                + " 16-byte header (784000016 bytes in all), the file has 3145728 pixel bytes (3145744 bytes in all,"
                + " 4012 complete images)", refusedImages(p));
    }

    @Test
    void aPlainFileIsCheckedAgainstItsSizeBeforeReading() throws IOException {
        Path p = Files.write(dir.resolve("plain-idx3-ubyte"), imageHeader(2_000_000));
        assertEquals(p + ": truncated: the header announces 2000000 images of 28x28 = 1568000000 pixel bytes after"
                + " the 16-byte header (1568000016 bytes in all), the file has 0 pixel bytes (16 bytes in all, 0"
                + " complete images)", refusedImages(p));
    }

    @Test
    void aCountBeyondAJavaArrayIsRefused() throws IOException {
        Path p = Files.write(dir.resolve("huge-idx3-ubyte"), imageHeader(Integer.MAX_VALUE));
        assertEquals(p + ": the IDX header announces 1683627179264 bytes, more than one Java array holds ("
                + (Integer.MAX_VALUE - 8) + ")", refusedImages(p));
    }

    @Test
    void aGzPathThatIsADirectoryIsNamed() throws IOException {
        for (String name : new String[] {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            Files.write(dir.resolve(name), new byte[0]);
        }
        Path d = Files.createDirectory(dir.resolve("train-labels-idx1-ubyte.gz"));
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir));
        assertEquals(d + ": is a directory; expected an IDX file compressed with gzip", e.getMessage());
    }
}
