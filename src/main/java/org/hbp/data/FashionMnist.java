package org.hbp.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Fashion-MNIST (Xiao, Rasul &amp; Vollgraf, 2017) from its four IDX files:
 * {@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte},
 * {@code t10k-images-idx3-ubyte} and {@code t10k-labels-idx1-ubyte}, each either plain or gzip
 * compressed with the suffix {@code .gz} (the {@code .gz} file is preferred when both exist).
 *
 * <p>60000 training and 10000 test images of 1&times;28&times;28 pixels, 10 classes (0 T-shirt/top,
 * 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot).
 * Pixels are scaled to {@code [0, 1]} as {@code byte / 255} in float precision, exactly what
 * torchvision's {@code ToTensor()} gives; no normalization is applied (see
 * {@link Split#normalized()}).
 *
 * <p>The directory may be the one holding the files, or a torchvision root holding them in
 * {@code FashionMNIST/raw/}.
 */
public final class FashionMnist {
    /** Where Debian's package {@code dataset-fashion-mnist} installs the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** Image side in pixels. */
    public static final int SIDE = 28;
    /** Number of classes. */
    public static final int CLASSES = 10;
    /** The class names, indexed by label. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    static final String TEST_LABELS = "t10k-labels-idx1-ubyte";

    /** What every "not found" message ends with. */
    static final String INSTALL_HINT =
            "install Debian's package: apt-get install dataset-fashion-mnist, or pass --data fashion-mnist:DIR";

    private FashionMnist() {}

    /**
     * Loads the training set ({@code "fashion-mnist/train"}, from the {@code train-*} files) and the
     * test set ({@code "fashion-mnist/test"}, from the {@code t10k-*} files).
     *
     * @param dir the directory holding the four files (or a torchvision root holding
     *     {@code FashionMNIST/raw/}), e.g. {@link #DEFAULT_DIR}
     * @throws IOException if the directory or a file is missing (the message names the paths looked
     *     at and how to install the data), if a file is not a well-formed IDX file of 28&times;28
     *     images or labels 0..9, if the gzip data are corrupt, or if an image file and its label file
     *     hold different numbers of records
     */
    public static Split load(Path dir) throws IOException {
        Path root = locate(dir);
        Dataset train = read(root, TRAIN_IMAGES, TRAIN_LABELS, "fashion-mnist/train");
        Dataset test = read(root, TEST_IMAGES, TEST_LABELS, "fashion-mnist/test");
        return new Split(train, test);
    }

    /** The directory holding the files: {@code dir}, or {@code dir/FashionMNIST/raw} if only that has them. */
    private static Path locate(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("Fashion-MNIST directory " + dir
                    + (Files.exists(dir) ? " is not a directory" : " does not exist") + "; " + INSTALL_HINT);
        }
        List<String> names = List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS);
        List<String> missing = missing(dir, names);
        if (missing.isEmpty()) {
            return dir;
        }
        Path torchvision = dir.resolve("FashionMNIST").resolve("raw");
        if (missing.size() == names.size() && Files.isDirectory(torchvision) && missing(torchvision, names).isEmpty()) {
            return torchvision;
        }
        throw new IOException("Fashion-MNIST file" + (missing.size() == 1 ? "" : "s") + " missing: "
                + String.join("; ", missing) + "; " + INSTALL_HINT);
    }

    /** For each name with neither {@code name.gz} nor {@code name} in dir: "looked for A and B". */
    private static List<String> missing(Path dir, List<String> names) {
        List<String> out = new ArrayList<>();
        for (String name : names) {
            if (file(dir, name) == null) {
                out.add("neither " + dir.resolve(name + ".gz") + " nor " + dir.resolve(name) + " exists");
            }
        }
        return out;
    }

    /**
     * {@code name.gz} if it exists, else {@code name} if that exists, else null. Whatever exists is
     * taken (a directory there is reported by the reader, not passed over).
     */
    private static Path file(Path dir, String name) {
        Path gz = dir.resolve(name + ".gz");
        if (Files.exists(gz)) {
            return gz;
        }
        Path plain = dir.resolve(name);
        return Files.exists(plain) ? plain : null;
    }

    private static Dataset read(Path dir, String imagesName, String labelsName, String name) throws IOException {
        Path imageFile = file(dir, imagesName);
        Path labelFile = file(dir, labelsName);
        if (imageFile == null || labelFile == null) { // removed since locate() looked
            throw new IOException("Fashion-MNIST file missing: "
                    + missing(dir, List.of(imagesName, labelsName)).get(0) + "; " + INSTALL_HINT);
        }
        int[] labels = Idx.readLabels(labelFile, CLASSES);
        Idx.Images images = Idx.readImages(imageFile, SIDE, SIDE);
        if (images.count() != labels.length) {
            throw new IOException("Fashion-MNIST: " + imageFile + " holds " + images.count() + " images but "
                    + labelFile + " holds " + labels.length + " labels; the counts must agree");
        }
        int pixels = SIDE * SIDE;
        float[] x = new float[images.count() * pixels];
        byte[] data = images.data();
        for (int k = 0; k < x.length; k++) {
            x[k] = Pixels.of(data[Idx.IMAGE_HEADER + k]);
        }
        return Dataset.owning(name, x, labels, 1, SIDE, SIDE, CLASSES);
    }
}
