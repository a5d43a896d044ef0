package org.hbp.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Seeded mini-batches of an epoch, and seeded subsets. */
public final class MiniBatches {
    private MiniBatches() {}

    /**
     * The mini-batches of one epoch: a permutation of {@code [0, size)}, drawn by Fisher-Yates
     * with {@code new Random(seed * 1_000_003L + epoch)} (for {@code i} from {@code size - 1} down to
     * 1, swap {@code i} with {@code nextInt(i + 1)}), cut into consecutive batches of {@code batch}
     * indices. The last batch is shorter if {@code batch} does not divide {@code size}; it is kept
     * unless {@code dropLast}.
     *
     * <p>The same {@code (seed, epoch)} gives the same batches; different epochs give different
     * orders.
     *
     * @return an unmodifiable list of the batches (empty if {@code size == 0}, or if
     *     {@code dropLast} and {@code size < batch})
     * @throws IllegalArgumentException if {@code size < 0} or {@code batch < 1}
     */
    public static List<int[]> epoch(int size, int batch, long seed, int epoch, boolean dropLast) {
        if (size < 0) {
            throw new IllegalArgumentException("data set size must be >= 0, got " + size);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        }
        int[] perm = permutation(size, new Random(seed * 1_000_003L + epoch));
        List<int[]> out = new ArrayList<>(size / batch + 1);
        for (int start = 0; start < size; start += batch) {
            int end = Math.min(size, start + batch);
            if (end - start < batch && dropLast) {
                break;
            }
            out.add(Arrays.copyOfRange(perm, start, end));
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * {@code count} distinct indices of {@code [0, size)} drawn uniformly without replacement with
     * {@code new Random(seed)} (the first {@code count} steps of a Fisher-Yates shuffle), returned
     * in ascending order; e.g. the fixed subset of the training set on which the training loss is
     * evaluated. If {@code count >= size}, all indices {@code 0 .. size-1}.
     *
     * @throws IllegalArgumentException if {@code size < 0} or {@code count < 0}
     */
    public static int[] sample(int size, int count, long seed) {
        if (size < 0 || count < 0) {
            throw new IllegalArgumentException("sample needs size >= 0 and count >= 0, got size " + size
                    + " and count " + count);
        }
        int[] all = new int[size];
        for (int i = 0; i < size; i++) {
            all[i] = i;
        }
        if (count >= size) {
            return all;
        }
        Random rng = new Random(seed);
        for (int i = 0; i < count; i++) {
            int j = i + rng.nextInt(size - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] out = Arrays.copyOf(all, count);
        Arrays.sort(out);
        return out;
    }

    private static int[] permutation(int size, Random rng) {
        int[] p = new int[size];
        for (int i = 0; i < size; i++) {
            p[i] = i;
        }
        for (int i = size - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
