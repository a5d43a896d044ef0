package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;

/** The synthetic token sequences: one-hot layout, labels by the offset rule, balance, determinism, errors. */
class TokenSequencesTest {
    static final int V = 12, T = 8, K = 4;

    /** The tokens of sample i, read back from its one-hot (1, V, T) image; fails unless each column is one-hot. */
    private static int[] tokens(Dataset d, int i) {
        float[] x = d.image(i);
        int v = d.height(), t = d.width();
        int[] ids = new int[t];
        for (int col = 0; col < t; col++) {
            int ones = 0;
            for (int row = 0; row < v; row++) {
                float e = x[row * t + col];
                assertTrue(e == 0f || e == 1f, "sample " + i + " entry (" + row + ", " + col + ") is " + e);
                if (e == 1f) {
                    ones++;
                    ids[col] = row;
                }
            }
            assertEquals(1, ones, "sample " + i + " column " + col + " is not one-hot");
        }
        return ids;
    }

    @Test
    void samplesAreOneHotSequencesLabelledByTheOffsetOfBFromA() {
        Split s = TokenSequences.create(5, 400, 100, V, T, K);
        for (Dataset d : List.of(s.train(), s.test())) {
            assertEquals(1, d.channels());
            assertEquals(V, d.height());
            assertEquals(T, d.width());
            assertEquals(K, d.classes());
            for (int i = 0; i < d.size(); i++) {
                int[] ids = tokens(d, i);
                int a = -1, b = -1, countA = 0, countB = 0;
                for (int t = 0; t < T; t++) {
                    if (ids[t] == 0) { a = t; countA++; }
                    if (ids[t] == 1) { b = t; countB++; }
                }
                assertEquals(1, countA, "one token A in sample " + i);
                assertEquals(1, countB, "one token B in sample " + i);
                // the rule written out for K = 4, independently of TokenSequences.label
                int expected = b == a + 1 ? 0 : b > a ? 1 : a == b + 1 ? 2 : 3;
                assertEquals(expected, d.label(i), "sample " + i + ": A at " + a + ", B at " + b);
            }
        }
        int[] counts = s.train().classCounts();
        for (int c : counts) assertEquals(100, c, "balanced classes");
    }

    @Test
    void fillersCoverTheRestOfTheVocabularyAndPositionsVary() {
        Dataset d = TokenSequences.create(1, 2000, 0, V, T, K).train();
        boolean[] seen = new boolean[V];
        int[] positionsOfA = new int[T];
        for (int i = 0; i < d.size(); i++) {
            int[] ids = tokens(d, i);
            for (int t = 0; t < T; t++) {
                seen[ids[t]] = true;
                if (ids[t] == 0) positionsOfA[t]++;
            }
        }
        for (int v = 0; v < V; v++) assertTrue(seen[v], "token " + v + " occurs");
        for (int t = 0; t < T; t++) assertTrue(positionsOfA[t] > 0, "A occurs at position " + t);
    }

    @Test
    void labelsForTwoAndSixClasses() {
        assertEquals(0, TokenSequences.label(3, 2));
        assertEquals(1, TokenSequences.label(-1, 2));
        assertEquals(0, TokenSequences.label(1, 6));
        assertEquals(2, TokenSequences.label(3, 6));
        assertEquals(2, TokenSequences.label(7, 6));
        assertEquals(4, TokenSequences.label(-2, 6));
    }

    @Test
    void deterministicFromTheSeedAndEachSetIndependentOfTheOthersSize() {
        Split a = TokenSequences.create(9, 300, 50, V, T, K);
        Split b = TokenSequences.create(9, 300, 80, V, T, K);
        Split c = TokenSequences.create(10, 300, 50, V, T, K);
        Split d = TokenSequences.create(9, 200, 50, V, T, K);
        boolean differs = false;
        for (int i = 0; i < 300; i++) {
            assertArrayEquals(a.train().image(i), b.train().image(i));
            assertEquals(a.train().label(i), b.train().label(i));
            differs |= a.train().label(i) != c.train().label(i);
        }
        for (int i = 0; i < 50; i++) {
            assertArrayEquals(a.test().image(i), d.test().image(i));
            assertEquals(a.test().label(i), d.test().label(i));
        }
        assertTrue(differs, "another seed gives other samples");
    }

    @Test
    void dataSetsShapesSequencesForTheNetworksMatrixInput() throws IOException {
        Split s = DataSets.forInput("sequences:64, 16", 2, List.of(V, T), K);
        assertEquals(64, s.train().size());
        assertEquals(16, s.test().size());
        assertEquals("1x12x8", s.train().shapeString());
        assertArrayEquals(TokenSequences.create(2, 64, 16, V, T, K).train().image(63), s.train().image(63));
        assertEquals(2000, DataSets.forInput("sequences", 2, List.of(V, T), K).train().size());
    }

    @Test
    void errorsNameTheDataAndTheShape() {
        for (List<Integer> in : List.of(List.of(1, 12, 8), List.of(96))) {
            String m = assertThrows(UserError.class, () -> DataSets.forInput("sequences:10,5", 0, in, K)).getMessage();
            assertEquals("data set 'sequences:10,5' holds one-hot token sequences, a matrix(V, T) per sample, but the network's"
                    + " input has shape " + in + "; give the network an input x: matrix(V, T) (e.g. networks/transformer.hbp)", m);
        }
        assertEquals("sequences data set: the classes (the network's outputs) must be an even number >= 2 (half for"
                + " 'A before B', half for 'B before A'), got 3",
                assertThrows(UserError.class, () -> DataSets.forInput("sequences", 0, List.of(V, T), 3)).getMessage());
        assertEquals("sequences data set: the vocabulary V = 2 must hold tokens A, B and at least one filler (V >= 3)",
                assertThrows(UserError.class, () -> TokenSequences.create(0, 10, 5, 2, T, K)).getMessage());
        assertEquals("sequences data set: 4 classes need offsets up to 2, so sequences of at least 3 tokens; got T = 2",
                assertThrows(UserError.class, () -> TokenSequences.create(0, 10, 5, V, 2, K)).getMessage());
        assertEquals("data set 'sequences:10': expected sequences:TRAIN,TEST with two sizes, e.g. sequences:2000,500"
                + " (accepted: " + DataSets.ACCEPTED_FORMS + ")",
                assertThrows(UserError.class, () -> DataSets.forInput("sequences:10", 0, List.of(V, T), K)).getMessage());
    }
}
