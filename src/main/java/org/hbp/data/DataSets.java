package org.hbp.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.hbp.UserError;

/** Loads a data set by the name the command line gives ({@code --data SPEC}). */
public final class DataSets {
    /** The accepted forms of a spec, for help texts and error messages. */
    public static final String ACCEPTED_FORMS =
            "fashion-mnist, fashion-mnist:DIR, cifar10:DIR, synthetic, synthetic:TRAIN,TEST, sequences,"
                    + " sequences:TRAIN,TEST";

    /** Training size of plain {@code "synthetic"}. */
    public static final int SYNTHETIC_TRAIN = 2000;
    /** Test size of plain {@code "synthetic"}. */
    public static final int SYNTHETIC_TEST = 500;

    private DataSets() {}

    /**
     * The data set a spec names, shaped for a network's input: a 3-d input {@code (c, h, w)} gets
     * images of that shape, a {@code sequences} spec needs a matrix input {@code (V, T)} (one-hot
     * tokens, {@link TokenSequences}), any other input of {@code n} entries gets {@code (1, 1, n)}
     * images; then as {@link #load}.
     *
     * @throws UserError as {@link #load}, or for a {@code sequences} spec and a network whose input
     *     is not a matrix (the message names both)
     * @throws IOException as {@link #load}
     */
    public static Split forInput(String spec, long seed, List<Integer> inputShape, int classes) throws IOException {
        boolean sequences = kind(spec).equals("sequences");
        if (sequences && inputShape.size() != 2) {
            throw new UserError("data set '" + spec + "' holds one-hot token sequences, a matrix(V, T) per"
                    + " sample, but the network's input has shape " + inputShape
                    + "; give the network an input x: matrix(V, T) (e.g. networks/transformer.hbp)");
        }
        if (sequences) {
            return load(spec, seed, 1, inputShape.get(0), inputShape.get(1), classes);
        }
        if (inputShape.size() == 3) {
            return load(spec, seed, inputShape.get(0), inputShape.get(1), inputShape.get(2), classes);
        }
        int n = inputShape.stream().reduce(1, (a, b) -> a * b);
        return load(spec, seed, 1, 1, n, classes);
    }

    private static String kind(String spec) {
        String s = spec == null ? "" : spec.strip();
        int colon = s.indexOf(':');
        return colon < 0 ? s : s.substring(0, colon);
    }

    /**
     * The data set a spec names:
     * <ul>
     *   <li>{@code fashion-mnist}: {@link FashionMnist} from {@link FashionMnist#DEFAULT_DIR};
     *   <li>{@code fashion-mnist:DIR}: {@link FashionMnist} from {@code DIR};
     *   <li>{@code cifar10:DIR}: {@link Cifar10} from {@code DIR} (or {@code DIR/cifar-10-batches-bin});
     *   <li>{@code synthetic}: {@link Synthetic} with 2000 training and 500 test samples;
     *   <li>{@code synthetic:TRAIN,TEST}: {@link Synthetic} with the given sizes;
     *   <li>{@code sequences}, {@code sequences:TRAIN,TEST}: {@link TokenSequences} (as many samples
     *       as {@code synthetic}), vocabulary {@code height}, length {@code width}; needs
     *       {@code channels = 1}.
     * </ul>
     * A synthetic set takes the given image shape and number of classes (the network's) and the
     * seed; the file data sets have their own shape and 10 classes and ignore these arguments:
     * checking that they fit the network is the caller's job (nothing is reshaped here).
     *
     * @throws UserError for an unknown or malformed spec (the message lists the
     *     accepted forms) or invalid synthetic sizes
     * @throws IOException if a data set's files are missing or malformed
     */
    public static Split load(String spec, long seed, int channels, int height, int width, int classes)
            throws IOException {
        String s = spec == null ? "" : spec.strip();
        int colon = s.indexOf(':');
        String kind = colon < 0 ? s : s.substring(0, colon);
        String arg = colon < 0 ? null : s.substring(colon + 1);
        switch (kind) {
            case "fashion-mnist":
                return FashionMnist.load(arg == null ? FashionMnist.DEFAULT_DIR : Path.of(nonEmpty(spec, arg)));
            case "cifar10":
                if (arg == null) {
                    throw new UserError("data set '" + spec + "': CIFAR-10 needs its directory,"
                            + " cifar10:DIR (accepted: " + ACCEPTED_FORMS + ")");
                }
                return Cifar10.load(Path.of(nonEmpty(spec, arg)));
            case "synthetic":
                if (arg == null) {
                    return Synthetic.create(seed, SYNTHETIC_TRAIN, SYNTHETIC_TEST, channels, height, width, classes);
                }
                int[] sizes = sizes(spec, arg, "synthetic");
                return Synthetic.create(seed, sizes[0], sizes[1], channels, height, width, classes);
            case "sequences":
                if (channels != 1) {
                    throw new UserError("data set '" + spec + "' holds one-hot token sequences (1, V, T),"
                            + " not images of " + channels + " channels");
                }
                if (arg == null) {
                    return TokenSequences.create(seed, SYNTHETIC_TRAIN, SYNTHETIC_TEST, height, width, classes);
                }
                int[] n = sizes(spec, arg, "sequences");
                return TokenSequences.create(seed, n[0], n[1], height, width, classes);
            default:
                throw new UserError("unknown data set '" + spec + "' (accepted: " + ACCEPTED_FORMS
                        + ")");
        }
    }

    private static String nonEmpty(String spec, String dir) {
        if (dir.isBlank()) {
            throw new UserError("data set '" + spec + "': the directory after ':' is empty"
                    + " (accepted: " + ACCEPTED_FORMS + ")");
        }
        return dir;
    }

    /** The TRAIN and TEST sizes of {@code KIND:TRAIN,TEST}. */
    private static int[] sizes(String spec, String arg, String kind) {
        String[] sizes = arg.split(",", -1);
        if (sizes.length != 2) {
            throw new UserError("data set '" + spec + "': expected " + kind + ":TRAIN,TEST with"
                    + " two sizes, e.g. " + kind + ":2000,500 (accepted: " + ACCEPTED_FORMS + ")");
        }
        return new int[] {size(spec, sizes[0], "TRAIN", kind), size(spec, sizes[1], "TEST", kind)};
    }

    private static int size(String spec, String text, String what, String kind) {
        try {
            return Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            String t = text.strip();
            String problem = t.matches("\\+?[0-9]+") ? "is too large: a size is at most " + Integer.MAX_VALUE
                    : t.matches("-[0-9]+") ? "is out of range: a size is from 0 to " + Integer.MAX_VALUE
                    : "is not an integer";
            throw new UserError("data set '" + spec + "': " + what + " size '" + text + "' " + problem
                    + " (expected " + kind + ":TRAIN,TEST, e.g. " + kind + ":2000,500)");
        }
    }
}
