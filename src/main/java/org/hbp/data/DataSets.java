package org.hbp.data;

import java.io.IOException;
import java.nio.file.Path;
import org.hbp.UserError;

/** Loads a data set by the name the command line gives ({@code --data SPEC}). */
public final class DataSets {
    /** The accepted forms of a spec, for help texts and error messages. */
    public static final String ACCEPTED_FORMS =
            "fashion-mnist, fashion-mnist:DIR, cifar10:DIR, synthetic, synthetic:TRAIN,TEST";

    /** Training size of plain {@code "synthetic"}. */
    public static final int SYNTHETIC_TRAIN = 2000;
    /** Test size of plain {@code "synthetic"}. */
    public static final int SYNTHETIC_TEST = 500;

    private DataSets() {}

    /**
     * The data set a spec names:
     * <ul>
     *   <li>{@code fashion-mnist}: {@link FashionMnist} from {@link FashionMnist#DEFAULT_DIR};
     *   <li>{@code fashion-mnist:DIR}: {@link FashionMnist} from {@code DIR};
     *   <li>{@code cifar10:DIR}: {@link Cifar10} from {@code DIR} (or {@code DIR/cifar-10-batches-bin});
     *   <li>{@code synthetic}: {@link Synthetic} with 2000 training and 500 test samples;
     *   <li>{@code synthetic:TRAIN,TEST}: {@link Synthetic} with the given sizes.
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
                String[] sizes = arg.split(",", -1);
                if (sizes.length != 2) {
                    throw new UserError("data set '" + spec + "': expected synthetic:TRAIN,TEST with"
                            + " two sizes, e.g. synthetic:2000,500 (accepted: " + ACCEPTED_FORMS + ")");
                }
                return Synthetic.create(seed, size(spec, sizes[0], "TRAIN"), size(spec, sizes[1], "TEST"),
                        channels, height, width, classes);
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

    private static int size(String spec, String text, String what) {
        try {
            return Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            throw new UserError("data set '" + spec + "': " + what + " size '" + text
                    + "' is not an integer (expected synthetic:TRAIN,TEST, e.g. synthetic:2000,500)");
        }
    }
}
