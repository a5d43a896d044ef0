package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataSetsTest {
    private static final String ACCEPTED =
            "(accepted: fashion-mnist, fashion-mnist:DIR, cifar10:DIR, synthetic, synthetic:TRAIN,TEST, sequences,"
            + " sequences:TRAIN,TEST)";

    @TempDir
    Path dir;

    private static String error(String spec) {
        return assertThrows(UserError.class, () -> DataSets.load(spec, 0, 1, 4, 4, 3)).getMessage();
    }

    @Test
    void syntheticTakesTheNetworksShapeAndTheDefaultSizes() throws IOException {
        Split s = DataSets.load("synthetic", 8, 2, 5, 6, 7);
        assertEquals(2000, s.train().size());
        assertEquals(500, s.test().size());
        assertEquals("2x5x6", s.train().shapeString());
        assertEquals(7, s.train().classes());
        Split same = Synthetic.create(8, 2000, 500, 2, 5, 6, 7);
        assertArrayEquals(same.test().image(499), s.test().image(499));
    }

    @Test
    void syntheticWithSizes() throws IOException {
        Split s = DataSets.load("synthetic:120, 30", 1, 1, 3, 3, 4);
        assertEquals(120, s.train().size());
        assertEquals(30, s.test().size());
    }

    @Test
    void unknownAndMalformedSpecs() {
        assertEquals("unknown data set 'mnist' " + ACCEPTED, error("mnist"));
        assertEquals("unknown data set 'CIFAR10:/x' " + ACCEPTED, error("CIFAR10:/x"));
        assertEquals("unknown data set '' " + ACCEPTED, error(""));
        assertEquals("data set 'cifar10': CIFAR-10 needs its directory, cifar10:DIR " + ACCEPTED, error("cifar10"));
        assertEquals("data set 'fashion-mnist:': the directory after ':' is empty " + ACCEPTED,
                error("fashion-mnist:"));
        assertEquals("data set 'synthetic:100': expected synthetic:TRAIN,TEST with two sizes, e.g. synthetic:2000,500 "
                + ACCEPTED, error("synthetic:100"));
        assertEquals("data set 'synthetic:100,x': TEST size 'x' is not an integer (expected synthetic:TRAIN,TEST,"
                + " e.g. synthetic:2000,500)", error("synthetic:100,x"));
        // a whole number beyond an int is too large, not "not an integer"
        assertEquals("data set 'synthetic:3000000000,10': TRAIN size '3000000000' is too large: a size is at most 2147483647"
                + " (expected synthetic:TRAIN,TEST, e.g. synthetic:2000,500)", error("synthetic:3000000000,10"));
        assertEquals("data set 'sequences:10,-3000000000': TEST size '-3000000000' is out of range: a size is from 0 to"
                + " 2147483647 (expected sequences:TRAIN,TEST, e.g. sequences:2000,500)", error("sequences:10,-3000000000"));
        assertEquals("synthetic data set: need at least 1 training and 0 test samples, got 0 and 5",
                error("synthetic:0,5"));
    }

    @Test
    void fileDataSetsReportMissingDirectories() {
        Path nowhere = dir.resolve("none");
        IOException e = assertThrows(IOException.class, () -> DataSets.load("fashion-mnist:" + nowhere, 0, 1, 28, 28, 10));
        assertTrue(e.getMessage().startsWith("Fashion-MNIST directory " + nowhere + " does not exist; install"),
                e.getMessage());
        e = assertThrows(IOException.class, () -> DataSets.load("cifar10:" + nowhere, 0, 3, 32, 32, 10));
        assertTrue(e.getMessage().startsWith("CIFAR-10 directory " + nowhere + " does not exist; download"),
                e.getMessage());
    }
}
