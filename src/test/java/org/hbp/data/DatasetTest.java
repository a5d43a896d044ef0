package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.hbp.UserError;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.junit.jupiter.api.Test;

class DatasetTest {
    /** Three images of shape (2, 2, 3); pixel (c, y, x) of image i is 100 i + 10 c + 3 y + x. */
    private static Dataset handBuilt() {
        int n = 3;
        int c = 2;
        int h = 2;
        int w = 3;
        float[] images = new float[n * c * h * w];
        int k = 0;
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        images[k++] = 100 * i + 10 * ch + 3 * y + x;
                    }
                }
            }
        }
        return new Dataset("hand", images, new int[] {2, 0, 1}, c, h, w, 3);
    }

    @Test
    void accessors() {
        Dataset d = handBuilt();
        assertEquals("hand", d.name());
        assertEquals(3, d.size());
        assertEquals(2, d.channels());
        assertEquals(2, d.height());
        assertEquals(3, d.width());
        assertEquals(12, d.imageSize());
        assertEquals(3, d.classes());
        assertEquals(2, d.label(0));
        assertEquals(1, d.label(2));
        assertArrayEquals(new int[] {1, 1, 1}, d.classCounts());
        assertEquals("hand: 3 images 2x2x3, 3 classes", d.toString());
        assertEquals(110f + 3 + 2, d.image(1)[1 * 6 + 1 * 3 + 2]);
    }

    @Test
    void imagesAreNchwInTheOrderOfTheIndices() {
        Dataset d = handBuilt();
        NdArray x = d.images(new int[] {2, 0, 2});
        assertEquals(DType.FLOAT64, x.dtype());
        assertArrayEquals(new int[] {3, 2, 2, 3}, x.shape());
        int[] source = {2, 0, 2};
        for (int j = 0; j < 3; j++) {
            for (int c = 0; c < 2; c++) {
                for (int y = 0; y < 2; y++) {
                    for (int xx = 0; xx < 3; xx++) {
                        double expected = 100 * source[j] + 10 * c + 3 * y + xx;
                        assertEquals(expected, x.get(j, c, y, xx));
                        assertEquals(expected, x.getFlat(((j * 2 + c) * 2 + y) * 3 + xx));
                    }
                }
            }
        }
    }

    @Test
    void labelsAreInt64InTheOrderOfTheIndices() {
        NdArray y = handBuilt().labels(new int[] {1, 0, 2, 0});
        assertEquals(DType.INT64, y.dtype());
        assertArrayEquals(new int[] {4}, y.shape());
        assertArrayEquals(new double[] {0, 2, 1, 2}, y.data());
    }

    @Test
    void emptyBatch() {
        Dataset d = handBuilt();
        assertArrayEquals(new int[] {0, 2, 2, 3}, d.images(new int[0]).shape());
        assertArrayEquals(new int[] {0}, d.labels(new int[0]).shape());
    }

    @Test
    void subsetKeepsOrderAndRepeats() {
        Dataset s = handBuilt().subset(new int[] {2, 2, 0});
        assertEquals(3, s.size());
        assertArrayEquals(new int[] {1, 1, 2}, new int[] {s.label(0), s.label(1), s.label(2)});
        assertEquals(200f + 10 + 3, s.image(1)[6 + 3]);
        assertEquals(0f, s.image(2)[0]);
        assertEquals("hand", s.name());
    }

    @Test
    void indexOutOfRangeNamesIndexAndPosition() {
        Dataset d = handBuilt();
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> d.images(new int[] {0, 3}));
        assertEquals("hand: sample index 3 (at position 1 of the index list) is outside [0, 3)", e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class, () -> d.labels(new int[] {-1}));
        assertEquals("hand: sample index -1 (at position 0 of the index list) is outside [0, 3)", e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class, () -> d.label(5));
        assertEquals("hand: sample index 5 is outside [0, 3)", e.getMessage());
    }

    @Test
    void constructorCopiesItsArrays() {
        float[] images = {1, 2};
        int[] labels = {0, 1};
        Dataset d = new Dataset("copy", images, labels, 1, 1, 1, 2);
        images[0] = 9;
        labels[0] = 1;
        assertEquals(1f, d.image(0)[0]);
        assertEquals(0, d.label(0));
    }

    @Test
    void constructorRejectsLengthMismatch() {
        UserError e = assertThrows(UserError.class,
                () -> new Dataset("d", new float[11], new int[3], 1, 2, 2, 2));
        assertEquals("d: 3 labels need 3 x 1x2x2 = 12 image values, got 11 (not a whole number of 1x2x2 images)",
                e.getMessage());
        e = assertThrows(UserError.class, () -> new Dataset("d", new float[8], new int[3], 1, 2, 2, 2));
        assertEquals("d: 3 labels need 3 x 1x2x2 = 12 image values, got 8 (2 images)", e.getMessage());
    }

    @Test
    void constructorRejectsLabelOutOfRange() {
        UserError e = assertThrows(UserError.class,
                () -> new Dataset("d", new float[3], new int[] {0, 2, 3}, 1, 1, 1, 3));
        assertEquals("d: label of sample 2 is 3, outside the class range [0, 3)", e.getMessage());
        e = assertThrows(UserError.class,
                () -> new Dataset("d", new float[3], new int[] {0, -1, 0}, 1, 1, 1, 3));
        assertEquals("d: label of sample 1 is -1, outside the class range [0, 3)", e.getMessage());
    }

    @Test
    void constructorRejectsNonFinitePixels() {
        float[] images = new float[2 * 12];
        images[12 + 1 * 6 + 0 * 3 + 2] = Float.NaN;
        UserError e = assertThrows(UserError.class,
                () -> new Dataset("d", images, new int[] {0, 1}, 2, 2, 3, 2));
        assertEquals("d: image 1 has the non-finite value NaN at (c, h, w) = (1, 0, 2)", e.getMessage());
        images[12 + 1 * 6 + 0 * 3 + 2] = 0;
        images[5] = Float.NEGATIVE_INFINITY;
        e = assertThrows(UserError.class, () -> new Dataset("d", images, new int[] {0, 1}, 2, 2, 3, 2));
        assertEquals("d: image 0 has the non-finite value -Infinity at (c, h, w) = (0, 1, 2)", e.getMessage());
    }

    @Test
    void constructorRejectsBadShape() {
        UserError e = assertThrows(UserError.class,
                () -> new Dataset("d", new float[0], new int[0], 1, 0, 2, 2));
        assertEquals("d: image shape (c, h, w) must be positive, got (1, 0, 2)", e.getMessage());
        e = assertThrows(UserError.class, () -> new Dataset("d", new float[0], new int[0], 1, 1, 1, 0));
        assertEquals("d: the number of classes must be positive, got 0", e.getMessage());
    }

    @Test
    void channelStatisticsArePopulationMoments() {
        // channel 0 holds 1, 3, 5, 7 (mean 4, population variance 5), channel 1 holds 0, 0, 2, 2 (mean 1, std 1)
        Dataset d = new Dataset("m", new float[] {1, 3, 0, 0, 5, 7, 2, 2}, new int[] {0, 1}, 2, 1, 2, 2);
        assertArrayEquals(new float[] {4, 1}, d.channelMeans());
        assertArrayEquals(new float[] {(float) Math.sqrt(5), 1}, d.channelStds());
    }

    @Test
    void channelStatisticsOfAnEmptySetAreAnError() {
        Dataset d = new Dataset("empty", new float[0], new int[0], 1, 1, 1, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, d::channelMeans);
        assertEquals("empty: channel statistics of an empty data set are undefined", e.getMessage());
    }

    @Test
    void normalizedSubtractsAndDividesPerChannel() {
        Dataset d = new Dataset("m", new float[] {1, 3, 0, 0, 5, 7, 2, 2}, new int[] {0, 1}, 2, 1, 2, 2);
        Dataset n = d.normalized(new float[] {4, 1}, new float[] {2, 0});
        // std 0 divides by 1
        assertArrayEquals(new float[] {-1.5f, -0.5f, -1, -1}, n.image(0));
        assertArrayEquals(new float[] {0.5f, 1.5f, 1, 1}, n.image(1));
        assertEquals(1, n.label(1));
        UserError e = assertThrows(UserError.class,
                () -> d.normalized(new float[] {0}, new float[] {1, 1}));
        assertEquals("m: normalization needs one mean and one std per channel (2), got 1 means and 2 stds",
                e.getMessage());
        e = assertThrows(UserError.class, () -> d.normalized(new float[] {0, 0}, new float[] {1, -1}));
        assertEquals("m: channel 1 has mean 0.0 and std -1.0; a finite mean and a finite std >= 0 are required",
                e.getMessage());
    }
}
