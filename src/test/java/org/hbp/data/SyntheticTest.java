package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;

class SyntheticTest {
    private static float[] allPixels(Dataset d) {
        float[] out = new float[d.size() * d.imageSize()];
        for (int i = 0; i < d.size(); i++) {
            System.arraycopy(d.image(i), 0, out, i * d.imageSize(), d.imageSize());
        }
        return out;
    }

    private static int[] allLabels(Dataset d) {
        int[] out = new int[d.size()];
        for (int i = 0; i < d.size(); i++) {
            out[i] = d.label(i);
        }
        return out;
    }

    /** Test accuracy of the classifier that picks the class whose training mean is nearest. */
    private static double nearestClassMeanAccuracy(Split s) {
        Dataset train = s.train();
        int dim = train.imageSize();
        int classes = train.classes();
        double[][] mean = new double[classes][dim];
        int[] count = new int[classes];
        for (int i = 0; i < train.size(); i++) {
            float[] x = train.image(i);
            int y = train.label(i);
            count[y]++;
            for (int k = 0; k < dim; k++) {
                mean[y][k] += x[k];
            }
        }
        for (int c = 0; c < classes; c++) {
            for (int k = 0; k < dim; k++) {
                mean[c][k] /= count[c];
            }
        }
        Dataset test = s.test();
        int correct = 0;
        for (int i = 0; i < test.size(); i++) {
            float[] x = test.image(i);
            int best = -1;
            double bestDistance = Double.POSITIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double d = 0;
                for (int k = 0; k < dim; k++) {
                    double t = x[k] - mean[c][k];
                    d += t * t;
                }
                if (d < bestDistance) {
                    bestDistance = d;
                    best = c;
                }
            }
            correct += best == test.label(i) ? 1 : 0;
        }
        return correct / (double) test.size();
    }

    @Test
    void shapesSizesAndNames() {
        Split s = Synthetic.create(1, 30, 12, 3, 5, 7, 4);
        assertEquals(30, s.train().size());
        assertEquals(12, s.test().size());
        assertEquals("3x5x7", s.train().shapeString());
        assertEquals("3x5x7", s.test().shapeString());
        assertEquals(4, s.train().classes());
        assertEquals("synthetic/train", s.train().name());
        assertEquals("synthetic/test", s.test().name());
        assertArrayEquals(new int[] {8, 8, 7, 7}, s.train().classCounts());
        assertArrayEquals(new int[] {3, 3, 3, 3}, s.test().classCounts());
    }

    @Test
    void deterministicForASeed() {
        Split a = Synthetic.create(42, 50, 20, 2, 6, 6, 5);
        Split b = Synthetic.create(42, 50, 20, 2, 6, 6, 5);
        assertArrayEquals(allPixels(a.train()), allPixels(b.train()));
        assertArrayEquals(allLabels(a.train()), allLabels(b.train()));
        assertArrayEquals(allPixels(a.test()), allPixels(b.test()));
        assertArrayEquals(allLabels(a.test()), allLabels(b.test()));
    }

    @Test
    void differentForAnotherSeed() {
        Split a = Synthetic.create(42, 50, 20, 2, 6, 6, 5);
        Split b = Synthetic.create(43, 50, 20, 2, 6, 6, 5);
        assertFalse(Arrays.equals(allPixels(a.train()), allPixels(b.train())));
        assertFalse(Arrays.equals(allLabels(a.train()), allLabels(b.train())));
        assertFalse(Arrays.equals(allPixels(a.test()), allPixels(b.test())));
    }

    @Test
    void trainingSetDoesNotDependOnTheTestSize() {
        Split a = Synthetic.create(7, 40, 10, 1, 4, 4, 3);
        Split b = Synthetic.create(7, 40, 99, 1, 4, 4, 3);
        assertArrayEquals(allPixels(a.train()), allPixels(b.train()));
        assertEquals(0, Synthetic.create(7, 40, 0, 1, 4, 4, 3).test().size());
    }

    @Test
    void trainAndTestAreDifferentSamples() {
        Split s = Synthetic.create(5, 20, 20, 1, 3, 3, 2);
        assertFalse(Arrays.equals(allPixels(s.train()), allPixels(s.test())));
    }

    @Test
    void pixelsAreRoughlyStandardNormal() {
        Dataset d = Synthetic.create(9, 2000, 10, 1, 28, 28, 10).train();
        assertEquals(0, d.channelMeans()[0], 0.05);
        assertEquals(1, d.channelStds()[0], 0.05);
    }

    @Test
    void learnableButNotTrivialOnFashionMnistShape() {
        for (long seed = 0; seed < 3; seed++) {
            double acc = nearestClassMeanAccuracy(Synthetic.create(seed, 2000, 500, 1, 28, 28, 10));
            assertTrue(acc > 0.5 && acc < 1.0, "seed " + seed + ": nearest-class-mean test accuracy " + acc);
        }
    }

    @Test
    void learnableButNotTrivialOnCifarAndSmallShapes() {
        for (int[] shape : new int[][] {{3, 32, 32}, {3, 8, 8}, {1, 6, 6}}) {
            double acc = nearestClassMeanAccuracy(Synthetic.create(1, 2000, 500, shape[0], shape[1], shape[2], 10));
            assertTrue(acc > 0.5 && acc < 1.0, Arrays.toString(shape) + ": nearest-class-mean test accuracy " + acc);
        }
    }

    @Test
    void separationControlsDifficulty() {
        double none = nearestClassMeanAccuracy(Synthetic.create(2, 1000, 1000, 1, 8, 8, 10, 0));
        double easy = nearestClassMeanAccuracy(Synthetic.create(2, 1000, 1000, 1, 8, 8, 10, 10));
        assertTrue(none < 0.15, "separation 0 must be chance level, got " + none);
        assertTrue(easy > 0.99, "separation 10 must be easy, got " + easy);
    }

    @Test
    void rejectsBadArguments() {
        UserError e = assertThrows(UserError.class,
                () -> Synthetic.create(0, 0, 10, 1, 2, 2, 2));
        assertEquals("synthetic data set: need at least 1 training and 0 test samples, got 0 and 10", e.getMessage());
        e = assertThrows(UserError.class, () -> Synthetic.create(0, 10, 10, 1, 2, 0, 2));
        assertEquals("synthetic data set: image shape (c, h, w) = (1, 2, 0) and classes = 2 must all be positive",
                e.getMessage());
        e = assertThrows(UserError.class, () -> Synthetic.create(0, 10, 10, 1, 2, 2, 2, Double.NaN));
        assertEquals("synthetic data set: separation must be finite and >= 0, got NaN", e.getMessage());
    }
}
