package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * The real Fashion-MNIST files at {@link FashionMnist#DEFAULT_DIR} (Debian's
 * {@code dataset-fashion-mnist}). Without them the tests fail when the environment variable
 * {@code CI} is set and are skipped otherwise.
 */
class FashionMnistRealTest {
    private static Split data;

    private static synchronized Split data() throws IOException {
        if (data == null) {
            Path dir = FashionMnist.DEFAULT_DIR;
            if (!Files.isRegularFile(dir.resolve("train-images-idx3-ubyte.gz"))
                    && !Files.isRegularFile(dir.resolve("train-images-idx3-ubyte"))) {
                String why = "Fashion-MNIST is not installed in " + dir + " (apt-get install dataset-fashion-mnist)";
                if (System.getenv("CI") != null) {
                    fail(why + "; CI must have it");
                }
                assumeTrue(false, why);
            }
            data = FashionMnist.load(dir);
        }
        return data;
    }

    /** The decompressed bytes of a file of the data set, read here independently of the loader. */
    private static byte[] raw(String name) throws IOException {
        Path gz = FashionMnist.DEFAULT_DIR.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
                return in.readAllBytes();
            }
        }
        return Files.readAllBytes(FashionMnist.DEFAULT_DIR.resolve(name));
    }

    @Test
    void sizesAndShape() throws IOException {
        Split s = data();
        assertEquals(60000, s.train().size());
        assertEquals(10000, s.test().size());
        for (Dataset d : new Dataset[] {s.train(), s.test()}) {
            assertEquals(1, d.channels());
            assertEquals(28, d.height());
            assertEquals(28, d.width());
            assertEquals(10, d.classes());
        }
    }

    @Test
    void classesAreBalanced() throws IOException {
        int[] train = new int[10];
        int[] test = new int[10];
        Arrays.fill(train, 6000);
        Arrays.fill(test, 1000);
        assertArrayEquals(train, data().train().classCounts());
        assertArrayEquals(test, data().test().classCounts());
    }

    @Test
    void pixelsLieInTheUnitIntervalAndMatchTorchvisionStatistics() throws IOException {
        Dataset train = data().train();
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int i = 0; i < train.size(); i += 97) {
            for (float v : train.image(i)) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        assertEquals(0f, min);
        assertEquals(1f, max);
        // the mean and std commonly quoted for transforms.Normalize on Fashion-MNIST
        assertEquals(0.2860, train.channelMeans()[0], 1e-4);
        assertEquals(0.3530, train.channelStds()[0], 1e-4);
    }

    @Test
    void firstAndLastTrainingImagesEqualTheRawBytes() throws IOException {
        Dataset train = data().train();
        byte[] images = raw("train-images-idx3-ubyte");
        byte[] labels = raw("train-labels-idx1-ubyte");
        ByteBuffer header = ByteBuffer.wrap(images);
        assertEquals(0x803, header.getInt());
        assertEquals(60000, header.getInt());
        assertEquals(28, header.getInt());
        assertEquals(28, header.getInt());
        assertEquals(0x801, ByteBuffer.wrap(labels).getInt());
        // the first training image is an ankle boot (class 9), as in every Fashion-MNIST plot
        assertEquals(9, labels[8]);
        assertEquals(9, train.label(0));
        assertEquals(labels[8 + 59999], train.label(59999));
        for (int i : new int[] {0, 59999}) {
            float[] img = train.image(i);
            int nonzero = 0;
            for (int k = 0; k < 784; k++) {
                int b = images[16 + i * 784 + k] & 0xff;
                assertEquals(b / 255f, img[k], "image " + i + " pixel " + k);
                nonzero += b > 0 ? 1 : 0;
            }
            assertTrue(nonzero > 100, "image " + i + " has only " + nonzero + " non-zero pixels");
        }
        // the corners of the first image are background
        assertEquals(0f, train.image(0)[0]);
        assertEquals(0f, train.image(0)[783]);
    }

    @Test
    void firstTestImageEqualsTheRawBytes() throws IOException {
        Dataset test = data().test();
        byte[] images = raw("t10k-images-idx3-ubyte");
        byte[] labels = raw("t10k-labels-idx1-ubyte");
        assertEquals(10000, ByteBuffer.wrap(images, 4, 4).getInt());
        assertEquals(labels[8], test.label(0));
        float[] img = test.image(0);
        for (int k = 0; k < 784; k++) {
            assertEquals((images[16 + k] & 0xff) / 255f, img[k], "test image 0 pixel " + k);
        }
    }

    @Test
    void loadsThroughDataSets() throws IOException {
        data(); // skips or fails without the files
        Split s = DataSets.load("fashion-mnist:" + FashionMnist.DEFAULT_DIR, 0, 3, 32, 32, 10);
        // the files' own shape, not the one asked for
        assertEquals(1, s.train().channels());
        assertEquals(28, s.train().height());
        assertEquals(60000, s.train().size());
    }
}
