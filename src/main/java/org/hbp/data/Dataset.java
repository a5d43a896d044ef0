package org.hbp.data;

import java.util.Arrays;
import java.util.Objects;
import org.hbp.UserError;
import org.hbp.io.DType;
import org.hbp.io.NdArray;

/**
 * An image classification data set held in memory: {@code N} images of shape {@code (c, h, w)}
 * and their labels in {@code [0, classes)}.
 *
 * <p>Images are stored as {@code float}s (a Fashion-MNIST training set takes 60000 &times; 784
 * &times; 4 bytes = 188 MB, CIFAR-10's 50000 &times; 3072 &times; 4 bytes = 614 MB), in PyTorch's
 * layout: each image row-major in {@code (c, h, w)} order, image {@code i} at offset
 * {@code i * c * h * w}. {@link #images(int[])} hands mini-batches to the network as
 * {@code float64} {@link NdArray}s of shape {@code [n, c, h, w]}.
 *
 * <p>Instances are immutable. The public constructor copies its arrays; the loaders of this
 * package hand theirs over without a copy.
 */
public final class Dataset {
    private final String name;
    private final float[] images;
    private final int[] labels;
    private final int channels;
    private final int height;
    private final int width;
    private final int classes;
    private final int imageSize;

    /** Per-channel mean and population standard deviation, computed on first use. */
    private volatile float[][] channelStats;

    /**
     * A data set from images and labels (both copied).
     *
     * @param name a name for messages, e.g. {@code "fashion-mnist/train"}
     * @param images {@code N * channels * height * width} values; image {@code i} starts at
     *     {@code i * channels * height * width} and is row-major in {@code (c, h, w)} order
     * @param labels {@code N} class indices, each in {@code [0, classes)}
     * @throws UserError if a dimension or {@code classes} is not positive, if
     *     {@code images.length} is not {@code labels.length * channels * height * width}, if a label
     *     is out of range (the message names its index and value) or if a pixel is NaN or infinite
     *     (the message names the image and the pixel)
     */
    public Dataset(String name, float[] images, int[] labels, int channels, int height, int width, int classes) {
        this(name, Objects.requireNonNull(images, "images").clone(),
                Objects.requireNonNull(labels, "labels").clone(), channels, height, width, classes, true);
    }

    /** Takes ownership of the arrays (no copy); validates as the public constructor does. */
    private Dataset(String name, float[] images, int[] labels, int channels, int height, int width, int classes,
            boolean validate) {
        this.name = Objects.requireNonNull(name, "name");
        if (channels < 1 || height < 1 || width < 1) {
            throw new UserError(name + ": image shape (c, h, w) must be positive, got ("
                    + channels + ", " + height + ", " + width + ")");
        }
        if (classes < 1) {
            throw new UserError(name + ": the number of classes must be positive, got " + classes);
        }
        long size = (long) channels * height * width;
        if (size > NdArray.MAX_NUMEL) {
            throw new UserError(name + ": image shape (" + channels + ", " + height + ", " + width
                    + ") has " + size + " values, more than a Java array holds");
        }
        this.images = images;
        this.labels = labels;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.classes = classes;
        this.imageSize = (int) size;
        if (validate) {
            validate();
        }
    }

    /** A data set that owns the given arrays (no copy), validated; for the loaders of this package. */
    static Dataset owning(String name, float[] images, int[] labels, int channels, int height, int width,
            int classes) {
        return new Dataset(name, images, labels, channels, height, width, classes, true);
    }

    private void validate() {
        long expected = (long) labels.length * imageSize;
        if (images.length != expected) {
            throw new UserError(name + ": " + labels.length + " labels need " + labels.length
                    + " x " + shapeString() + " = " + expected + " image values, got " + images.length
                    + (images.length % imageSize == 0
                            ? " (" + images.length / imageSize + " images)"
                            : " (not a whole number of " + shapeString() + " images)"));
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new UserError(name + ": label of sample " + i + " is " + labels[i]
                        + ", outside the class range [0, " + classes + ")");
            }
        }
        for (int k = 0; k < images.length; k++) {
            float v = images[k];
            if (!Float.isFinite(v)) {
                int i = k / imageSize;
                int r = k % imageSize;
                int c = r / (height * width);
                int y = (r / width) % height;
                int x = r % width;
                throw new UserError(name + ": image " + i + " has the non-finite value " + v
                        + " at (c, h, w) = (" + c + ", " + y + ", " + x + ")");
            }
        }
    }

    /** The name given at construction, e.g. {@code "fashion-mnist/train"}. */
    public String name() {
        return name;
    }

    /** The number of samples {@code N}. */
    public int size() {
        return labels.length;
    }

    /** Channels {@code c} of each image. */
    public int channels() {
        return channels;
    }

    /** Height {@code h} of each image. */
    public int height() {
        return height;
    }

    /** Width {@code w} of each image. */
    public int width() {
        return width;
    }

    /** Values per image, {@code c * h * w}. */
    public int imageSize() {
        return imageSize;
    }

    /** The number of classes; labels lie in {@code [0, classes)}. */
    public int classes() {
        return classes;
    }

    /** The label of sample {@code i}. */
    public int label(int i) {
        checkIndex(i, -1);
        return labels[i];
    }

    /** The pixels of sample {@code i} in {@code (c, h, w)} row-major order (a copy). */
    public float[] image(int i) {
        checkIndex(i, -1);
        return Arrays.copyOfRange(images, i * imageSize, (i + 1) * imageSize);
    }

    /** How many samples each class has: entry {@code k} counts the labels equal to {@code k}. */
    public int[] classCounts() {
        int[] counts = new int[classes];
        for (int label : labels) {
            counts[label]++;
        }
        return counts;
    }

    /**
     * The images of the given samples, in that order, as a {@link DType#FLOAT64} array of shape
     * {@code [n, c, h, w]} (row-major: pixel {@code (ch, y, x)} of the {@code j}-th listed sample is
     * at flat position {@code ((j * c + ch) * h + y) * w + x}).
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, size())}
     * @throws UserError if the batch would hold more values than a Java array
     */
    public NdArray images(int[] indices) {
        double[] out = new double[values(indices.length, "a batch", "; use smaller batches")];
        for (int j = 0; j < indices.length; j++) {
            int i = indices[j];
            checkIndex(i, j);
            int src = i * imageSize;
            int dst = j * imageSize;
            for (int k = 0; k < imageSize; k++) {
                out[dst + k] = images[src + k];
            }
        }
        return NdArray.of(out, DType.FLOAT64, indices.length, channels, height, width);
    }

    /**
     * The number of values of {@code count} images, or a {@link UserError} if they do not fit in a
     * Java array; {@code what} ("a batch") and {@code advice} complete its message.
     */
    private int values(int count, String what, String advice) {
        long total = (long) count * imageSize;
        if (total > NdArray.MAX_NUMEL) {
            throw new UserError(name + ": " + what + " of " + count + " images of " + shapeString() + " has " + total
                    + " values, more than a Java array holds" + advice);
        }
        return (int) total;
    }

    /**
     * The labels of the given samples, in that order, as a {@link DType#INT64} array of shape
     * {@code [n]} (class indices held as doubles, as every {@link NdArray}).
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, size())}
     */
    public NdArray labels(int[] indices) {
        double[] out = new double[indices.length];
        for (int j = 0; j < indices.length; j++) {
            checkIndex(indices[j], j);
            out[j] = labels[indices[j]];
        }
        return NdArray.of(out, DType.INT64, indices.length);
    }

    /**
     * A new data set of the given samples, in that order (an index may repeat), with the same name,
     * shape and classes.
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, size())}
     */
    public Dataset subset(int[] indices) {
        float[] img = new float[values(indices.length, "a subset", "")];
        int[] lab = new int[indices.length];
        for (int j = 0; j < indices.length; j++) {
            int i = indices[j];
            checkIndex(i, j);
            System.arraycopy(images, i * imageSize, img, j * imageSize, imageSize);
            lab[j] = labels[i];
        }
        return new Dataset(name, img, lab, channels, height, width, classes, false);
    }

    /**
     * The mean of each channel over all pixels of all images (accumulated in double precision).
     *
     * @throws IllegalStateException if the data set is empty
     */
    public float[] channelMeans() {
        return stats()[0].clone();
    }

    /**
     * The population standard deviation ({@code 1/M}, not {@code 1/(M-1)}) of each channel over all
     * {@code M = N * h * w} pixels of all images (two passes in double precision).
     *
     * @throws IllegalStateException if the data set is empty
     */
    public float[] channelStds() {
        return stats()[1].clone();
    }

    private float[][] stats() {
        float[][] s = channelStats;
        if (s == null) {
            s = computeStats();
            channelStats = s;
        }
        return s;
    }

    private float[][] computeStats() {
        if (labels.length == 0) {
            throw new IllegalStateException(name + ": channel statistics of an empty data set are undefined");
        }
        int plane = height * width;
        double count = (double) labels.length * plane;
        double[] sum = new double[channels];
        for (int i = 0; i < labels.length; i++) {
            for (int c = 0; c < channels; c++) {
                int off = i * imageSize + c * plane;
                double s = 0;
                for (int k = 0; k < plane; k++) {
                    s += images[off + k];
                }
                sum[c] += s;
            }
        }
        double[] mean = new double[channels];
        for (int c = 0; c < channels; c++) {
            mean[c] = sum[c] / count;
        }
        double[] sq = new double[channels];
        for (int i = 0; i < labels.length; i++) {
            for (int c = 0; c < channels; c++) {
                int off = i * imageSize + c * plane;
                double m = mean[c];
                double s = 0;
                for (int k = 0; k < plane; k++) {
                    double d = images[off + k] - m;
                    s += d * d;
                }
                sq[c] += s;
            }
        }
        float[] means = new float[channels];
        float[] stds = new float[channels];
        for (int c = 0; c < channels; c++) {
            means[c] = (float) mean[c];
            stds[c] = (float) Math.sqrt(sq[c] / count);
        }
        return new float[][] {means, stds};
    }

    /**
     * A new data set with every pixel of channel {@code c} replaced by
     * {@code (x - mean[c]) / std[c]} (computed in double precision, stored as float); a channel
     * whose {@code std} is 0 is divided by 1 instead. Name, labels, shape and classes are kept.
     *
     * @throws UserError if an array's length is not {@link #channels()}, a value is
     *     not finite, or a {@code std} is negative
     */
    public Dataset normalized(float[] mean, float[] std) {
        if (mean.length != channels || std.length != channels) {
            throw new UserError(name + ": normalization needs one mean and one std per channel ("
                    + channels + "), got " + mean.length + " means and " + std.length + " stds");
        }
        double[] m = new double[channels];
        double[] s = new double[channels];
        for (int c = 0; c < channels; c++) {
            if (!Float.isFinite(mean[c]) || !Float.isFinite(std[c]) || std[c] < 0) {
                throw new UserError(name + ": channel " + c + " has mean " + mean[c] + " and std "
                        + std[c] + "; a finite mean and a finite std >= 0 are required");
            }
            m[c] = mean[c];
            s[c] = std[c] == 0 ? 1 : std[c];
        }
        int plane = height * width;
        float[] out = new float[images.length];
        for (int i = 0; i < labels.length; i++) {
            for (int c = 0; c < channels; c++) {
                int off = i * imageSize + c * plane;
                double mc = m[c];
                double sc = s[c];
                for (int k = 0; k < plane; k++) {
                    out[off + k] = (float) ((images[off + k] - mc) / sc);
                }
            }
        }
        // Validated: a tiny std can overflow a float, which the finiteness check reports.
        return new Dataset(name, out, labels, channels, height, width, classes, true);
    }

    /** Whether {@code other} has the same image shape and number of classes. */
    public boolean sameShapeAs(Dataset other) {
        return channels == other.channels && height == other.height && width == other.width
                && classes == other.classes;
    }

    /** The image shape as {@code "c x h x w"}, e.g. {@code "1x28x28"}. */
    public String shapeString() {
        return channels + "x" + height + "x" + width;
    }

    private void checkIndex(int i, int position) {
        if (i < 0 || i >= labels.length) {
            throw new IndexOutOfBoundsException(name + ": sample index " + i
                    + (position >= 0 ? " (at position " + position + " of the index list)" : "")
                    + " is outside [0, " + labels.length + ")");
        }
    }

    /** E.g. {@code "fashion-mnist/train: 60000 images 1x28x28, 10 classes"}. */
    @Override
    public String toString() {
        return name + ": " + labels.length + " images " + shapeString() + ", " + classes + " classes";
    }
}
