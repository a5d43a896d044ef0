package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.hbp.UserError;
import org.junit.jupiter.api.Test;

class SplitTest {
    @Test
    void normalizedUsesTrainingStatisticsForBoth() {
        // train: channel 0 holds 1, 3, 5, 7 (mean 4, std sqrt 5), channel 1 holds 0, 0, 2, 2 (mean 1, std 1)
        Dataset train = new Dataset("train", new float[] {1, 3, 0, 0, 5, 7, 2, 2}, new int[] {0, 1}, 2, 1, 2, 2);
        Dataset test = new Dataset("test", new float[] {4, 9, 1, 3}, new int[] {1}, 2, 1, 2, 2);
        Split n = new Split(train, test).normalized();
        float r5 = (float) Math.sqrt(5);
        assertArrayEquals(new float[] {-3 / r5, -1 / r5, -1, -1}, n.train().image(0), 1e-6f);
        assertArrayEquals(new float[] {1 / r5, 3 / r5, 1, 1}, n.train().image(1), 1e-6f);
        assertArrayEquals(new float[] {0, 5 / r5, 0, 2}, n.test().image(0), 1e-6f);
        assertEquals(1, n.test().label(0));
    }

    @Test
    void normalizedTrainingSetHasZeroMeanAndUnitStd() {
        Split s = Synthetic.create(3, 300, 100, 3, 6, 5, 4);
        // shift and scale the channels so that normalization has something to undo
        Dataset t = s.train().normalized(new float[] {-5, 0.25f, 2}, new float[] {0.1f, 3, 1});
        Split n = new Split(t, s.test()).normalized();
        float[] mean = n.train().channelMeans();
        float[] std = n.train().channelStds();
        for (int c = 0; c < 3; c++) {
            assertEquals(0, mean[c], 1e-5, "mean of channel " + c);
            assertEquals(1, std[c], 1e-5, "std of channel " + c);
        }
        // the test set is transformed with the training statistics, by hand:
        float[] m = t.channelMeans();
        float[] sd = t.channelStds();
        float[] raw = s.test().image(7);
        float[] got = n.test().image(7);
        for (int k = 0; k < raw.length; k++) {
            int c = k / 30;
            assertEquals((raw[k] - m[c]) / sd[c], got[k], 1e-5, "test pixel " + k);
        }
    }

    @Test
    void rejectsDifferentShapes() {
        Dataset a = new Dataset("a", new float[4], new int[1], 1, 2, 2, 2);
        Dataset b = new Dataset("b", new float[4], new int[1], 1, 1, 4, 2);
        UserError e = assertThrows(UserError.class, () -> new Split(a, b));
        assertEquals("training set a: 1 images 1x2x2, 2 classes and test set b: 1 images 1x1x4, 2 classes"
                + " differ in image shape or number of classes", e.getMessage());
    }
}
