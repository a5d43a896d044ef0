package org.hbp.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.hbp.UserError;

/**
 * A seeded synthetic image classification problem for quick runs, with no files.
 *
 * <p>Each class {@code k} has a smooth random prototype image {@code p_k}: per channel, a random
 * combination of the 2-d cosine (DCT-II) basis images of the lowest frequencies
 * ({@code fy, fx < 4}), coefficient {@code N(0, 1) / (1 + fy + fx)}; the prototypes are then made
 * orthogonal to each other (Gram-Schmidt, which keeps them in the smooth subspace) and scaled so
 * that any two lie {@code separation} noise standard deviations apart, whatever the image size.
 * A sample of class {@code k} is {@code p_k + noise}, the noise independent {@code N(0, 1)} per
 * pixel, so pixel values are roughly standard normal.
 *
 * <p>The classes overlap: the problem is learnable but not trivial. With the default separation,
 * 2000 training and 500 test samples and 10 classes, a nearest-class-mean classifier (a linear
 * model) reaches about 0.85 test accuracy on 1x28x28 images, 0.68 on 3x32x32 (more pixels to
 * estimate the class means from) and 0.9-0.95 on small images such as 3x8x8. If the smooth
 * subspace has fewer dimensions ({@code c * min(h, 4) * min(w, 4)}) than there are classes, the
 * surplus prototypes cannot be orthogonal and some classes lie closer (on 1x1 images, all
 * prototypes are {@code +-separation/sqrt(2)} and only two can be told apart).
 *
 * <p>Labels are balanced (class counts differ by at most one) and shuffled. Everything is
 * determined by the seed and the arguments: prototypes, training and test samples come from three
 * separate {@link Random} streams derived from the seed, so the training set does not change
 * with {@code testSize} and vice versa.
 */
public final class Synthetic {
    /** Expected distance between two class prototypes, in noise standard deviations. */
    public static final double DEFAULT_SEPARATION = 4.5;

    /** Number of cosine frequencies per axis of a prototype (fewer if the image is smaller). */
    static final int FREQUENCIES = 4;

    private Synthetic() {}

    /**
     * The problem with {@link #DEFAULT_SEPARATION}; training set {@code "synthetic/train"}, test set
     * {@code "synthetic/test"}.
     *
     * @throws UserError if {@code trainSize < 1}, {@code testSize < 0}, a dimension or
     *     {@code classes} is not positive, or a set would not fit a Java array
     */
    public static Split create(long seed, int trainSize, int testSize, int channels, int height, int width,
            int classes) {
        return create(seed, trainSize, testSize, channels, height, width, classes, DEFAULT_SEPARATION);
    }

    /**
     * The problem with a chosen difficulty: {@code separation} is the expected distance between two
     * class prototypes in noise standard deviations (larger is easier; 0 makes all classes alike).
     *
     * @throws UserError as {@link #create(long, int, int, int, int, int, int)}, or if
     *     {@code separation} is negative or not finite
     */
    public static Split create(long seed, int trainSize, int testSize, int channels, int height, int width,
            int classes, double separation) {
        if (trainSize < 1 || testSize < 0) {
            throw new UserError("synthetic data set: need at least 1 training and 0 test samples, got "
                    + trainSize + " and " + testSize);
        }
        if (channels < 1 || height < 1 || width < 1 || classes < 1) {
            throw new UserError("synthetic data set: image shape (c, h, w) = (" + channels + ", "
                    + height + ", " + width + ") and classes = " + classes + " must all be positive");
        }
        if (!(separation >= 0) || Double.isInfinite(separation)) {
            throw new UserError("synthetic data set: separation must be finite and >= 0, got "
                    + separation);
        }
        long imageSize = (long) channels * height * width;
        long largest = Math.max(trainSize, testSize) * imageSize;
        if (largest > Integer.MAX_VALUE - 8) {
            throw new UserError("synthetic data set: " + Math.max(trainSize, testSize) + " images of "
                    + channels + "x" + height + "x" + width + " are " + largest
                    + " values, more than a Java array holds");
        }
        float[][] prototypes = prototypes(new Random(mix(seed, 0)), channels, height, width, classes, separation);
        Dataset train = samples("synthetic/train", new Random(mix(seed, 1)), trainSize, prototypes,
                channels, height, width);
        Dataset test = samples("synthetic/test", new Random(mix(seed, 2)), testSize, prototypes,
                channels, height, width);
        return new Split(train, test);
    }

    /** A seed for stream {@code stream}, decorrelated from the user's seed (SplitMix64 finalizer). */
    private static long mix(long seed, int stream) {
        long z = seed + 0x9E3779B97F4A7C15L * (stream + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * One prototype per class, each of RMS {@code separation / sqrt(2 * c * h * w)} per pixel, so two
     * orthogonal ones lie {@code separation} apart.
     */
    private static float[][] prototypes(Random rng, int channels, int height, int width, int classes,
            double separation) {
        int fh = Math.min(FREQUENCIES, height);
        int fw = Math.min(FREQUENCIES, width);
        double[][] cosY = basis(fh, height);
        double[][] cosX = basis(fw, width);
        int plane = height * width;
        int size = channels * plane;
        double amplitude = separation / Math.sqrt(2.0 * size);
        float[][] out = new float[classes][size];
        double[] p = new double[size];
        List<double[]> orthonormal = new ArrayList<>();
        for (int k = 0; k < classes; k++) {
            Arrays.fill(p, 0);
            for (int c = 0; c < channels; c++) {
                for (int u = 0; u < fh; u++) {
                    for (int v = 0; v < fw; v++) {
                        double a = rng.nextGaussian() / (1 + u + v);
                        for (int y = 0; y < height; y++) {
                            double ay = a * cosY[u][y];
                            int row = c * plane + y * width;
                            for (int x = 0; x < width; x++) {
                                p[row + x] += ay * cosX[v][x];
                            }
                        }
                    }
                }
            }
            boolean independent = orthogonalize(p, orthonormal);
            double norm = Math.sqrt(dot(p, p));
            double[] unit = new double[size];
            for (int j = 0; j < size; j++) {
                unit[j] = norm > 0 ? p[j] / norm : 1 / Math.sqrt(size);
            }
            if (independent && norm > 0) {
                orthonormal.add(unit);
            }
            double scale = amplitude * Math.sqrt(size); // norm sqrt(size) * amplitude: RMS amplitude per pixel
            for (int j = 0; j < size; j++) {
                out[k][j] = (float) (unit[j] * scale);
            }
        }
        return out;
    }

    /**
     * Makes {@code p} orthogonal to the orthonormal vectors (Gram-Schmidt, twice for accuracy), so
     * that the prototypes lie equally far apart, and returns true; leaves {@code p} as it is and
     * returns false if it lies in their span (more classes than the prototype space has dimensions,
     * e.g. 1x1 images).
     */
    private static boolean orthogonalize(double[] p, List<double[]> orthonormal) {
        double before = Math.sqrt(dot(p, p));
        double[] q = p.clone();
        for (int pass = 0; pass < 2; pass++) {
            for (double[] e : orthonormal) {
                double d = dot(q, e);
                for (int i = 0; i < q.length; i++) {
                    q[i] -= d * e[i];
                }
            }
        }
        if (Math.sqrt(dot(q, q)) <= 1e-6 * before) {
            return false;
        }
        System.arraycopy(q, 0, p, 0, p.length);
        return true;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** {@code b[f][i] = cos(pi * f * (i + 0.5) / n)}, the DCT-II basis vectors of frequencies 0..count-1. */
    private static double[][] basis(int count, int n) {
        double[][] b = new double[count][n];
        for (int f = 0; f < count; f++) {
            for (int i = 0; i < n; i++) {
                b[f][i] = Math.cos(Math.PI * f * (i + 0.5) / n);
            }
        }
        return b;
    }

    private static Dataset samples(String name, Random rng, int n, float[][] prototypes, int channels, int height,
            int width) {
        int classes = prototypes.length;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % classes;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = labels[i];
            labels[i] = labels[j];
            labels[j] = t;
        }
        int size = channels * height * width;
        float[] images = new float[n * size];
        for (int i = 0; i < n; i++) {
            float[] proto = prototypes[labels[i]];
            int off = i * size;
            for (int k = 0; k < size; k++) {
                images[off + k] = (float) (proto[k] + rng.nextGaussian());
            }
        }
        return Dataset.owning(name, images, labels, channels, height, width, classes);
    }
}
