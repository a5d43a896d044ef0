package org.hbp.data;

import java.util.Random;
import org.hbp.UserError;

/**
 * A seeded synthetic sequence classification problem whose label depends on where two tokens
 * stand relative to each other, for transformers; no files.
 *
 * <p>A sequence has {@code T} tokens from a vocabulary of {@code V}: token {@code A = 0} once,
 * token {@code B = 1} once, every other position a filler drawn uniformly from {@code 2..V-1}.
 * With the offset {@code d = pos(B) - pos(A)} (nonzero) and {@code K} classes ({@code K} even),
 * the label is
 * <pre>
 *   label = min(|d|, K/2) - 1 + (d &lt; 0 ? K/2 : 0),
 * </pre>
 * i.e. for {@code K = 4}: 0 = A right before B, 1 = A before B with tokens between them, 2 = B right
 * before A, 3 = B before A with tokens between. Every sequence holds the same tokens A and B once, so
 * the token counts say nothing: the label depends on both positions jointly. It is still linear in the
 * one-hot (token, position) pairs (given the order, adjacency is a threshold on
 * {@code pos(B) - pos(A)}; a multinomial logistic regression on one-hot {@code pos(A)} and
 * {@code pos(B)} separates the classes), so a network with position embeddings can learn it without
 * comparing tokens; it is not a test that attention is needed.
 *
 * <p>A sample is the sequence's one-hot matrix {@code X: matrix(V, T)} (column {@code t} the unit
 * vector of token {@code t}), stored as a {@code (1, V, T)} image, row-major: entry {@code (v, t)} at
 * offset {@code v * T + t}, PyTorch's {@code one_hot(ids, V).T}; the network's
 * {@code input x: matrix(V, T)} reads it so (see {@code modules-spec/embedding.hbp}).
 *
 * <p>Labels are balanced (class counts differ by at most one) and shuffled; given its label, the
 * pair of positions is uniform among the pairs of that class, and the fillers are independent.
 * Training and test samples come from separate {@link Random} streams derived from the seed, so
 * each set depends only on the seed, its size and the shape.
 */
public final class TokenSequences {
    /** Token A's id. */
    public static final int A = 0;
    /** Token B's id. */
    public static final int B = 1;

    private TokenSequences() {}

    /**
     * The problem for sequences of {@code length} tokens from a vocabulary of {@code vocabulary};
     * training set {@code "sequences/train"}, test set {@code "sequences/test"}.
     *
     * @throws UserError if {@code trainSize < 1}, {@code testSize < 0}, {@code vocabulary < 3} (A, B
     *     and a filler), {@code classes} is odd or below 2, or {@code length < classes / 2 + 1} (then
     *     some offset class cannot occur)
     */
    public static Split create(long seed, int trainSize, int testSize, int vocabulary, int length, int classes) {
        if (trainSize < 1 || testSize < 0) {
            throw new UserError("sequences data set: need at least 1 training and 0 test samples, got "
                    + trainSize + " and " + testSize);
        }
        if (vocabulary < 3) {
            throw new UserError("sequences data set: the vocabulary V = " + vocabulary
                    + " must hold tokens A, B and at least one filler (V >= 3)");
        }
        if (classes < 2 || classes % 2 != 0) {
            throw new UserError("sequences data set: the classes (the network's outputs) must be an even"
                    + " number >= 2 (half for 'A before B', half for 'B before A'), got " + classes);
        }
        if (length < classes / 2 + 1) {
            throw new UserError("sequences data set: " + classes + " classes need offsets up to "
                    + classes / 2 + ", so sequences of at least " + (classes / 2 + 1) + " tokens; got T = "
                    + length);
        }
        if ((long) Math.max(trainSize, testSize) * vocabulary * length > Integer.MAX_VALUE - 8) {
            throw new UserError("sequences data set: " + Math.max(trainSize, testSize) + " samples of "
                    + vocabulary + "x" + length + " are more values than a Java array holds");
        }
        Dataset train = samples("sequences/train", new Random(mix(seed, 1)), trainSize, vocabulary, length, classes);
        Dataset test = samples("sequences/test", new Random(mix(seed, 2)), testSize, vocabulary, length, classes);
        return new Split(train, test);
    }

    /**
     * The label of offset {@code d = pos(B) - pos(A)}: {@code min(|d|, K/2) - 1}, plus {@code K/2}
     * if B comes first.
     */
    public static int label(int offset, int classes) {
        if (offset == 0) throw new IllegalArgumentException("A and B share a position");
        int half = classes / 2;
        return Math.min(Math.abs(offset), half) - 1 + (offset < 0 ? half : 0);
    }

    /** A seed for stream {@code stream}, decorrelated from the user's seed (SplitMix64 finalizer). */
    private static long mix(long seed, int stream) {
        long z = seed + 0x9E3779B97F4A7C15L * (stream + 7);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static Dataset samples(String name, Random rng, int n, int vocabulary, int length, int classes) {
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % classes;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = labels[i];
            labels[i] = labels[j];
            labels[j] = t;
        }
        int size = vocabulary * length;
        float[] images = new float[n * size];
        int[] tokens = new int[length];
        for (int i = 0; i < n; i++) {
            sequence(rng, labels[i], vocabulary, classes, tokens);
            for (int t = 0; t < length; t++) images[i * size + tokens[t] * length + t] = 1f;
        }
        return Dataset.owning(name, images, labels, 1, vocabulary, length, classes);
    }

    /**
     * Fills {@code tokens} with a sequence of class {@code label}: positions {@code (pos(A), pos(B))}
     * uniform among the pairs of that class (by rejection), fillers uniform in {@code 2..V-1}.
     */
    private static void sequence(Random rng, int label, int vocabulary, int classes, int[] tokens) {
        int length = tokens.length;
        int a, b;
        do {
            a = rng.nextInt(length);
            b = rng.nextInt(length);
        } while (a == b || label(b - a, classes) != label);
        for (int t = 0; t < length; t++) tokens[t] = t == a ? A : t == b ? B : 2 + rng.nextInt(vocabulary - 2);
    }
}
