package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Small IDX files written here (independently of the reader), loaded, and corrupted one way at a time. */
class FashionMnistFilesTest {
    private static final int TRAIN = 5;
    private static final int TEST = 3;
    private static final int PIXELS = 28 * 28;
    private static final String HINT =
            "install Debian's package: apt-get install dataset-fashion-mnist, or pass --data fashion-mnist:DIR";

    @TempDir
    Path dir;

    /** Pixels and labels of one set, drawn from a fixed seed. */
    private record Raw(byte[] pixels, byte[] labels) {
        static Raw of(int n, long seed) {
            Random r = new Random(seed);
            byte[] pixels = new byte[n * PIXELS];
            r.nextBytes(pixels);
            pixels[0] = 0; // the extremes 0 and 255 occur
            pixels[1] = (byte) 255;
            byte[] labels = new byte[n];
            for (int i = 0; i < n; i++) {
                labels[i] = (byte) r.nextInt(10);
            }
            return new Raw(pixels, labels);
        }
    }

    private static final Raw TRAIN_RAW = Raw.of(TRAIN, 1);
    private static final Raw TEST_RAW = Raw.of(TEST, 2);

    static byte[] imageFile(int magic, int count, int rows, int cols, byte[] pixels) {
        return ByteBuffer.allocate(16 + pixels.length).putInt(magic).putInt(count).putInt(rows).putInt(cols)
                .put(pixels).array();
    }

    static byte[] labelFile(int magic, int count, byte[] labels) {
        return ByteBuffer.allocate(8 + labels.length).putInt(magic).putInt(count).put(labels).array();
    }

    static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
                out.write(data);
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes one file as NAME.gz (gzip) or NAME (plain); returns its path. */
    private Path put(String name, byte[] data, boolean gz) throws IOException {
        Path p = dir.resolve(gz ? name + ".gz" : name);
        Files.write(p, gz ? gzip(data) : data);
        return p;
    }

    private void writeAll(boolean gz) throws IOException {
        put("train-images-idx3-ubyte", imageFile(0x803, TRAIN, 28, 28, TRAIN_RAW.pixels), gz);
        put("train-labels-idx1-ubyte", labelFile(0x801, TRAIN, TRAIN_RAW.labels), gz);
        put("t10k-images-idx3-ubyte", imageFile(0x803, TEST, 28, 28, TEST_RAW.pixels), gz);
        put("t10k-labels-idx1-ubyte", labelFile(0x801, TEST, TEST_RAW.labels), gz);
    }

    private static void assertMatches(Raw raw, Dataset d) {
        int n = raw.labels.length;
        assertEquals(n, d.size());
        assertEquals(1, d.channels());
        assertEquals(28, d.height());
        assertEquals(28, d.width());
        assertEquals(10, d.classes());
        for (int i = 0; i < n; i++) {
            assertEquals(raw.labels[i], d.label(i), "label " + i);
            float[] img = d.image(i);
            for (int k = 0; k < PIXELS; k++) {
                assertEquals((raw.pixels[i * PIXELS + k] & 0xff) / 255f, img[k], "image " + i + " pixel " + k);
            }
        }
    }

    private String loadError(Path where) {
        return assertThrows(IOException.class, () -> FashionMnist.load(where)).getMessage();
    }

    private String loadError() {
        return loadError(dir);
    }

    @ParameterizedTest(name = "gzip {0}")
    @ValueSource(booleans = {true, false})
    void roundTripIsExact(boolean gz) throws IOException {
        writeAll(gz);
        Split s = FashionMnist.load(dir);
        assertMatches(TRAIN_RAW, s.train());
        assertMatches(TEST_RAW, s.test());
        assertEquals("fashion-mnist/train", s.train().name());
        assertEquals("fashion-mnist/test", s.test().name());
        assertEquals(0f, s.train().image(0)[0]);
        assertEquals(1f, s.train().image(0)[1]);
    }

    @Test
    void gzipIsPreferredAndATorchvisionRootIsAccepted() throws IOException {
        Path raw = dir.resolve("FashionMNIST").resolve("raw");
        Files.createDirectories(raw);
        Path root = dir;
        dir = raw;
        writeAll(true);
        // a plain file beside the .gz one is ignored
        Files.write(raw.resolve("train-labels-idx1-ubyte"), new byte[] {1, 2, 3});
        Split s = FashionMnist.load(root);
        assertMatches(TRAIN_RAW, s.train());
        assertMatches(TEST_RAW, s.test());
    }

    @Test
    void gzipDataUnderAPlainNameIsDecompressed() throws IOException {
        writeAll(false);
        Files.write(dir.resolve("t10k-images-idx3-ubyte"), gzip(imageFile(0x803, TEST, 28, 28, TEST_RAW.pixels)));
        assertMatches(TEST_RAW, FashionMnist.load(dir).test());
    }

    @Test
    void missingDirectory() {
        Path nowhere = dir.resolve("nowhere");
        assertEquals("Fashion-MNIST directory " + nowhere + " does not exist; " + HINT, loadError(nowhere));
    }

    @Test
    void missingFile() throws IOException {
        writeAll(true);
        Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
        assertEquals("Fashion-MNIST file missing: neither " + dir.resolve("t10k-labels-idx1-ubyte.gz") + " nor "
                + dir.resolve("t10k-labels-idx1-ubyte") + " exists; " + HINT, loadError());
    }

    @Test
    void allFilesMissing() {
        String msg = loadError();
        assertTrue(msg.startsWith("Fashion-MNIST files missing: neither " + dir.resolve("train-images-idx3-ubyte.gz")
                + " nor " + dir.resolve("train-images-idx3-ubyte") + " exists; neither "), msg);
        assertTrue(msg.endsWith(dir.resolve("t10k-labels-idx1-ubyte") + " exists; " + HINT), msg);
    }

    @ParameterizedTest(name = "gzip {0}")
    @ValueSource(booleans = {true, false})
    void imageFileWithLabelMagic(boolean gz) throws IOException {
        writeAll(gz);
        Path p = put("train-images-idx3-ubyte", imageFile(0x801, TRAIN, 28, 28, TRAIN_RAW.pixels), gz);
        assertEquals(p + ": not an IDX image file: expected the magic number 0x00000803 (unsigned bytes, 3 dimensions)"
                + " at byte offset 0, read 0x00000801 (the magic number of an IDX label file: are the image and"
                + " label files swapped?)", loadError());
    }

    @Test
    void labelFileWithForeignMagic() throws IOException {
        writeAll(true);
        Path p = put("train-labels-idx1-ubyte", labelFile(0x12345678, TRAIN, TRAIN_RAW.labels), true);
        assertEquals(p + ": not an IDX label file: expected the magic number 0x00000801 (unsigned bytes, 1 dimension)"
                + " at byte offset 0, read 0x12345678 (not an IDX file)", loadError());
    }

    @Test
    void imageFileOfAnotherElementType() throws IOException {
        writeAll(true);
        Path p = put("t10k-images-idx3-ubyte", imageFile(0x0D03, TEST, 28, 28, TEST_RAW.pixels), true);
        assertEquals(p + ": not an IDX image file: expected the magic number 0x00000803 (unsigned bytes, 3 dimensions)"
                + " at byte offset 0, read 0x00000D03 (an IDX file of element type 0x0D with 3 dimensions)",
                loadError());
    }

    @Test
    void imagesOfAnotherSize() throws IOException {
        writeAll(true);
        Path p = put("train-images-idx3-ubyte",
                imageFile(0x803, TRAIN, 27, 28, Arrays.copyOf(TRAIN_RAW.pixels, TRAIN * 27 * 28)), true);
        assertEquals(p + ": expected 28x28 images, the IDX header (bytes 8..15) announces 27x28", loadError());
    }

    @ParameterizedTest(name = "gzip {0}")
    @ValueSource(booleans = {true, false})
    void truncatedImages(boolean gz) throws IOException {
        writeAll(gz);
        byte[] cut = Arrays.copyOf(imageFile(0x803, TRAIN, 28, 28, TRAIN_RAW.pixels), 16 + TRAIN * PIXELS - 100);
        Path p = put("train-images-idx3-ubyte", cut, gz);
        assertEquals(p + ": truncated: the header announces 5 images of 28x28 = 3920 pixel bytes after the 16-byte"
                + " header (3936 bytes in all), the file has 3820 pixel bytes (3836 bytes in all, 4 complete images)",
                loadError());
    }

    @Test
    void truncatedImageHeader() throws IOException {
        writeAll(false);
        Path p = put("t10k-images-idx3-ubyte", new byte[] {0, 0, 8, 3, 0, 0, 0, 3, 0, 0}, false);
        assertEquals(p + ": truncated IDX image header: expected 16 bytes (magic number, image count, rows, columns),"
                + " the file has 10", loadError());
    }

    @Test
    void extraBytesAfterTheImages() throws IOException {
        writeAll(true);
        byte[] longer = Arrays.copyOf(imageFile(0x803, TRAIN, 28, 28, TRAIN_RAW.pixels), 16 + TRAIN * PIXELS + 7);
        Path p = put("train-images-idx3-ubyte", longer, true);
        assertEquals(p + ": 7 bytes beyond the 5 images of 28x28 the header announces (expected 3936 bytes, the file"
                + " has 3943); the file is corrupt or not an IDX image file", loadError());
    }

    @ParameterizedTest(name = "gzip {0}")
    @ValueSource(booleans = {true, false})
    void truncatedLabels(boolean gz) throws IOException {
        writeAll(gz);
        byte[] cut = Arrays.copyOf(labelFile(0x801, TRAIN, TRAIN_RAW.labels), 8 + TRAIN - 1);
        Path p = put("train-labels-idx1-ubyte", cut, gz);
        assertEquals(p + ": truncated: the header announces 5 labels (13 bytes with the 8-byte header), the file has"
                + " 4 labels (12 bytes)", loadError());
    }

    @Test
    void countMismatch() throws IOException {
        writeAll(true);
        Path labels = put("t10k-labels-idx1-ubyte", labelFile(0x801, 2, Arrays.copyOf(TEST_RAW.labels, 2)), true);
        assertEquals("Fashion-MNIST: " + dir.resolve("t10k-images-idx3-ubyte.gz") + " holds 3 images but " + labels
                + " holds 2 labels; the counts must agree", loadError());
    }

    @Test
    void labelOutOfRange() throws IOException {
        writeAll(true);
        byte[] labels = TRAIN_RAW.labels.clone();
        labels[3] = 10;
        Path p = put("train-labels-idx1-ubyte", labelFile(0x801, TRAIN, labels), true);
        assertEquals(p + ": label 10 of record 3 (byte offset 11) is out of range 0..9", loadError());
    }

    @Test
    void notGzipUnderAGzName() throws IOException {
        writeAll(true);
        Path p = dir.resolve("train-images-idx3-ubyte.gz");
        Files.writeString(p, "not gzip");
        assertEquals(p + ": corrupt gzip file: expected the gzip magic bytes 1F 8B at byte offset 0, found 6E 6F",
                loadError());
        Files.write(p, new byte[0]);
        assertEquals(p + ": corrupt gzip file: expected the gzip magic bytes 1F 8B at byte offset 0, found an empty"
                + " file", loadError());
    }

    @Test
    void truncatedGzip() throws IOException {
        writeAll(true);
        Path p = dir.resolve("train-images-idx3-ubyte.gz");
        byte[] gz = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(gz, gz.length / 2));
        String msg = loadError();
        assertTrue(msg.startsWith(p + ": corrupt or truncated gzip data (after "), msg);
        assertTrue(msg.contains(" decompressed bytes): "), msg);
    }

    @Test
    void corruptGzipBody() throws IOException {
        writeAll(true);
        Path p = dir.resolve("train-labels-idx1-ubyte.gz");
        byte[] gz = Files.readAllBytes(p);
        for (int i = 10; i < gz.length - 8; i++) { // deflate data, keep header and trailer
            gz[i] = (byte) ~gz[i];
        }
        Files.write(p, gz);
        String msg = loadError();
        assertTrue(msg.startsWith(p + ": corrupt or truncated gzip data (after "), msg);
    }
}
