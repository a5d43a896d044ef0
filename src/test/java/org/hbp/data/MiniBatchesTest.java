package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class MiniBatchesTest {
    private static int[] concat(List<int[]> batches) {
        return batches.stream().flatMapToInt(IntStream::of).toArray();
    }

    private static void assertPermutation(int size, int[] order) {
        assertEquals(size, order.length);
        int[] sorted = order.clone();
        Arrays.sort(sorted);
        assertArrayEquals(IntStream.range(0, size).toArray(), sorted);
    }

    @Test
    void anEpochIsAPermutationCutIntoBatches() {
        List<int[]> batches = MiniBatches.epoch(103, 10, 5, 0, false);
        assertEquals(11, batches.size());
        for (int b = 0; b < 10; b++) {
            assertEquals(10, batches.get(b).length);
        }
        assertEquals(3, batches.get(10).length);
        assertPermutation(103, concat(batches));
    }

    @Test
    void dropLastDropsOnlyAShortBatch() {
        List<int[]> kept = MiniBatches.epoch(103, 10, 5, 0, false);
        List<int[]> dropped = MiniBatches.epoch(103, 10, 5, 0, true);
        assertEquals(10, dropped.size());
        assertArrayEquals(Arrays.copyOf(concat(kept), 100), concat(dropped));
        assertEquals(10, MiniBatches.epoch(100, 10, 5, 0, true).size());
        assertEquals(0, MiniBatches.epoch(7, 10, 5, 0, true).size());
        assertEquals(1, MiniBatches.epoch(7, 10, 5, 0, false).size());
        assertEquals(0, MiniBatches.epoch(0, 10, 5, 0, false).size());
    }

    @Test
    void sameSeedAndEpochGiveTheSameBatches() {
        List<int[]> a = MiniBatches.epoch(50, 8, 3, 4, false);
        List<int[]> b = MiniBatches.epoch(50, 8, 3, 4, false);
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i), b.get(i));
        }
    }

    @Test
    void epochsAndSeedsDiffer() {
        int[] e0 = concat(MiniBatches.epoch(50, 8, 3, 0, false));
        int[] e1 = concat(MiniBatches.epoch(50, 8, 3, 1, false));
        int[] other = concat(MiniBatches.epoch(50, 8, 4, 0, false));
        assertFalse(Arrays.equals(e0, e1));
        assertFalse(Arrays.equals(e0, other));
        assertPermutation(50, e1);
    }

    @Test
    void theOrderIsTheDocumentedFisherYates() {
        long seed = 17;
        int epoch = 3;
        Random r = new Random(seed * 1_000_003L + epoch);
        int[] p = IntStream.range(0, 20).toArray();
        for (int i = 19; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        assertArrayEquals(p, concat(MiniBatches.epoch(20, 6, seed, epoch, false)));
    }

    @Test
    void batchesAreUnmodifiable() {
        List<int[]> batches = MiniBatches.epoch(10, 3, 0, 0, false);
        assertThrows(UnsupportedOperationException.class, () -> batches.add(new int[0]));
    }

    @Test
    void epochRejectsBadArguments() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MiniBatches.epoch(10, 0, 0, 0, false));
        assertEquals("batch size must be >= 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MiniBatches.epoch(-1, 1, 0, 0, false));
        assertEquals("data set size must be >= 0, got -1", e.getMessage());
    }

    @Test
    void sampleDrawsDistinctSortedIndices() {
        int[] s = MiniBatches.sample(1000, 100, 9);
        assertEquals(100, s.length);
        for (int i = 0; i < s.length; i++) {
            assertTrue(s[i] >= 0 && s[i] < 1000);
            if (i > 0) {
                assertTrue(s[i] > s[i - 1], "sorted and distinct");
            }
        }
        assertArrayEquals(s, MiniBatches.sample(1000, 100, 9));
        assertFalse(Arrays.equals(s, MiniBatches.sample(1000, 100, 10)));
        // not just the first indices
        assertTrue(s[s.length - 1] > 500);
    }

    @Test
    void sampleOfAtLeastTheSizeIsEverything() {
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, MiniBatches.sample(5, 5, 1));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, MiniBatches.sample(5, 50, 1));
        assertArrayEquals(new int[0], MiniBatches.sample(5, 0, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MiniBatches.sample(5, -1, 1));
        assertEquals("sample needs size >= 0 and count >= 0, got size 5 and count -1", e.getMessage());
    }

    @Test
    void sampleIsUniform() {
        // each index of [0, 10) is drawn with probability 3/10: over 2000 seeds about 600 times
        int[] hits = new int[10];
        for (long seed = 0; seed < 2000; seed++) {
            for (int i : MiniBatches.sample(10, 3, seed)) {
                hits[i]++;
            }
        }
        for (int i = 0; i < 10; i++) {
            assertTrue(Math.abs(hits[i] - 600) < 90, "index " + i + " drawn " + hits[i] + " times");
        }
    }
}
