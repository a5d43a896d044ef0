package org.hbp.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.hbp.UserError;

/**
 * CIFAR-10 (Krizhevsky, 2009) in its binary version ({@code cifar-10-binary.tar.gz} from
 * <a href="https://www.cs.toronto.edu/~kriz/cifar.html">https://www.cs.toronto.edu/~kriz/cifar.html</a>):
 * {@code data_batch_1.bin} .. {@code data_batch_5.bin} (training, in that order) and
 * {@code test_batch.bin}.
 *
 * <p>Each file is a sequence of 3073-byte records: one label byte (0..9), then 3072 pixel bytes, the
 * red, green and blue 32&times;32 planes in that order, each row-major, which is exactly PyTorch's
 * {@code (c, h, w)} layout. The official files hold 10000 records each (50000 training, 10000 test
 * images); files of any whole number of records are accepted. Pixels are scaled to {@code [0, 1]}
 * as {@code byte / 255} in float precision (torchvision's {@code ToTensor()}); no normalization is
 * applied (see {@link Split#normalized()}).
 *
 * <p>Class labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
 * 9 truck.
 */
public final class Cifar10 {
    /** Channels, height and width of an image. */
    public static final int CHANNELS = 3;
    /** Image side in pixels. */
    public static final int SIDE = 32;
    /** Number of classes. */
    public static final int CLASSES = 10;
    /** Pixel bytes of an image, 3 * 32 * 32. */
    public static final int IMAGE_BYTES = CHANNELS * SIDE * SIDE;
    /** Bytes of a record: 1 label byte and {@link #IMAGE_BYTES} pixel bytes. */
    public static final int RECORD_BYTES = 1 + IMAGE_BYTES;
    /** The class names, indexed by label. */
    public static final List<String> CLASS_NAMES = List.of("airplane", "automobile", "bird", "cat", "deer", "dog",
            "frog", "horse", "ship", "truck");
    /** The name of the folder the official archive extracts to. */
    public static final String ARCHIVE_FOLDER = "cifar-10-batches-bin";

    static final List<String> TRAIN_FILES =
            List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin");
    static final String TEST_FILE = "test_batch.bin";

    private static final String DOWNLOAD_HINT = "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
            + " and extract it (tar xzf), then pass --data cifar10:DIR";

    private Cifar10() {}

    /**
     * Loads the training set ({@code "cifar10/train"}: the five data batches, concatenated in order)
     * and the test set ({@code "cifar10/test"}).
     *
     * @param dir the directory holding the six {@code .bin} files, or its parent holding
     *     {@code cifar-10-batches-bin/}
     * @throws IOException if the directory or files are missing (the message lists them), if a
     *     file's size is not a positive multiple of 3073 bytes, or if a label byte is above 9 (the
     *     message names the file, the record and its byte offset)
     */
    public static Split load(Path dir) throws IOException {
        Path root = locate(dir);
        List<Path> train = new ArrayList<>();
        for (String f : TRAIN_FILES) {
            train.add(root.resolve(f));
        }
        return new Split(read(train, "cifar10/train"), read(List.of(root.resolve(TEST_FILE)), "cifar10/test"));
    }

    private static Path locate(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("CIFAR-10 directory " + dir
                    + (Files.exists(dir) ? " is not a directory" : " does not exist") + "; " + DOWNLOAD_HINT);
        }
        Path root = dir;
        Path nested = dir.resolve(ARCHIVE_FOLDER);
        if (missing(dir).size() == TRAIN_FILES.size() + 1 && Files.isDirectory(nested)) {
            root = nested;
        }
        List<String> missing = missing(root);
        if (!missing.isEmpty()) {
            throw new IOException("CIFAR-10 binary file" + (missing.size() == 1 ? "" : "s") + " missing in " + root
                    + ": " + String.join(", ", missing) + " (expected data_batch_1.bin .. data_batch_5.bin and "
                    + TEST_FILE + " in DIR or in DIR/" + ARCHIVE_FOLDER + "); " + DOWNLOAD_HINT);
        }
        return root;
    }

    private static List<String> missing(Path dir) {
        List<String> out = new ArrayList<>();
        List<String> all = new ArrayList<>(TRAIN_FILES);
        all.add(TEST_FILE);
        for (String f : all) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                out.add(f);
            }
        }
        return out;
    }

    /** Reads and concatenates the records of the given files (sizes checked before anything is read). */
    private static Dataset read(List<Path> files, String name) throws IOException {
        long records = 0;
        for (Path f : files) {
            long size = Files.size(f);
            if (size == 0) {
                throw new IOException(f + ": empty file; expected CIFAR-10 binary records of " + RECORD_BYTES
                        + " bytes (1 label byte + " + IMAGE_BYTES + " pixel bytes)");
            }
            if (size % RECORD_BYTES != 0) {
                throw new IOException(f + ": size " + size + " bytes is not a multiple of the " + RECORD_BYTES + "-byte CIFAR-10 record (1 label byte + " + IMAGE_BYTES
                        + " pixel bytes): " + size / RECORD_BYTES + " whole records and " + size % RECORD_BYTES
                        + " bytes over; the file is truncated or not CIFAR-10 binary");
            }
            records += size / RECORD_BYTES;
        }
        if (records * IMAGE_BYTES > Integer.MAX_VALUE - 8) {
            throw new IOException(name + ": " + records + " records are more than one float array can hold");
        }
        long largestFile = 0;
        for (Path f : files) {
            largestFile = Math.max(largestFile, Files.size(f));
        }
        // the images as floats, the labels, and one file's bytes at a time
        long needed = 4L * records * IMAGE_BYTES + 4L * records + largestFile;
        if (needed > Runtime.getRuntime().maxMemory()) {
            throw new IOException(heapMessage(name, records, needed, "more than the Java heap's limit of "
                    + gib(Runtime.getRuntime().maxMemory())));
        }
        float[] images;
        int[] labels;
        try {
            images = new float[(int) (records * IMAGE_BYTES)];
            labels = new int[(int) records];
        } catch (OutOfMemoryError e) {
            throw new IOException(heapMessage(name, records, needed, "more than the Java heap has free"));
        }
        int i = 0;
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            if (bytes.length % RECORD_BYTES != 0) { // changed since its size was checked
                throw new IOException(f + ": size changed while reading to " + bytes.length + " bytes, not a multiple"
                        + " of the " + RECORD_BYTES + "-byte CIFAR-10 record");
            }
            int n = bytes.length / RECORD_BYTES;
            if (i + n > labels.length) {
                throw new IOException(f + ": grew while reading (" + n + " records)");
            }
            for (int r = 0; r < n; r++, i++) {
                int off = r * RECORD_BYTES;
                int label = bytes[off] & 0xff;
                if (label >= CLASSES) {
                    throw new IOException(f + ": record " + r + " (byte offset " + off + ") has label byte " + label
                            + ", expected a class 0.." + (CLASSES - 1) + "; the file is corrupt or not CIFAR-10 binary"
                            + " (CIFAR-100 records have 2 label bytes)");
                }
                labels[i] = label;
                int dst = i * IMAGE_BYTES;
                for (int k = 0; k < IMAGE_BYTES; k++) {
                    images[dst + k] = Pixels.of(bytes[off + 1 + k]);
                }
            }
        }
        if (i != labels.length) {
            throw new IOException(name + ": files shrank while reading: " + i + " records instead of " + labels.length);
        }
        return Dataset.owning(name, images, labels, CHANNELS, SIDE, SIDE, CLASSES);
    }

    private static String heapMessage(String name, long records, long needed, String limit) {
        return name + ": " + records + " records need " + gib(needed) + " of memory as floats, " + limit
                + " (raise it with java -Xmx)";
    }

    private static String gib(long bytes) {
        return String.format("%.2f GiB", bytes / (double) (1L << 30));
    }

    /**
     * Writes records in the CIFAR-10 binary format: for each {@code i}, the byte {@code labels[i]},
     * then the 3072 bytes of {@code images[i]} (R, G, B planes of 32&times;32, row-major). Used by
     * tests and to make small files; a label may be any byte value 0..255 (so that invalid files
     * can be made on purpose), while {@link #load} accepts 0..9 only.
     *
     * @throws UserError if the arrays differ in length, an image is not 3072 bytes,
     *     or a label is outside 0..255
     */
    public static void write(Path file, int[] labels, byte[][] images) throws IOException {
        if (labels.length != images.length) {
            throw new UserError(file + ": " + labels.length + " labels but " + images.length + " images");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] > 255) {
                throw new UserError(file + ": label " + labels[i] + " of record " + i
                        + " does not fit a byte 0..255");
            }
            if (images[i] == null || images[i].length != IMAGE_BYTES) {
                throw new UserError(file + ": image " + i + " has "
                        + (images[i] == null ? "no bytes (null)" : images[i].length + " bytes")
                        + ", expected " + IMAGE_BYTES + " (3 x 32 x 32)");
            }
        }
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            for (int i = 0; i < labels.length; i++) {
                out.write(labels[i]);
                out.write(images[i]);
            }
        }
    }
}
