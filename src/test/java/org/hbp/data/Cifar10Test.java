package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.hbp.UserError;
import org.hbp.io.NdArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Small CIFAR-10 binary files (7 records each) written with {@link Cifar10#write}. */
class Cifar10Test {
    private static final int RECORDS = 7;
    private static final String[] TRAIN_FILES =
            {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};

    @TempDir
    Path dir;

    /** labels[f][r] and images[f][r] of file f (0..4 training, 5 test), from a fixed seed. */
    private final int[][] labels = new int[6][RECORDS];
    private final byte[][][] images = new byte[6][RECORDS][3072];

    private void writeAll(Path where) throws IOException {
        Random r = new Random(11);
        Files.createDirectories(where);
        for (int f = 0; f < 6; f++) {
            for (int i = 0; i < RECORDS; i++) {
                labels[f][i] = r.nextInt(10);
                r.nextBytes(images[f][i]);
            }
            Cifar10.write(where.resolve(f < 5 ? TRAIN_FILES[f] : "test_batch.bin"), labels[f], images[f]);
        }
    }

    private void assertLoaded(Split s) {
        assertEquals(5 * RECORDS, s.train().size());
        assertEquals(RECORDS, s.test().size());
        assertEquals("cifar10/train", s.train().name());
        assertEquals("3x32x32", s.train().shapeString());
        assertEquals(10, s.train().classes());
        for (int f = 0; f < 6; f++) {
            Dataset d = f < 5 ? s.train() : s.test();
            for (int r = 0; r < RECORDS; r++) {
                int i = (f < 5 ? f * RECORDS : 0) + r;
                assertEquals(labels[f][r], d.label(i));
                float[] img = d.image(i);
                for (int k = 0; k < 3072; k++) {
                    assertEquals((images[f][r][k] & 0xff) / 255f, img[k], "file " + f + " record " + r + " byte " + k);
                }
            }
        }
        // (c, h, w) order through the network's view: channel c, row y, column x is byte 1 + 1024 c + 32 y + x
        NdArray x = s.train().images(new int[] {RECORDS + 3});
        byte[] rec = images[1][3];
        for (int c = 0; c < 3; c++) {
            for (int y : new int[] {0, 5, 31}) {
                for (int xx : new int[] {0, 17, 31}) {
                    assertEquals((rec[1024 * c + 32 * y + xx] & 0xff) / 255f, (float) x.get(0, c, y, xx));
                }
            }
        }
    }

    /** The message of loading {@code dir}, which must fail with an IOException. */
    private String loadError() {
        return assertThrows(IOException.class, () -> Cifar10.load(dir)).getMessage();
    }

    @Test
    void loadsTheRecordsInOrderAsBytesOver255() throws IOException {
        writeAll(dir);
        assertLoaded(Cifar10.load(dir));
    }

    @Test
    void acceptsTheParentOfTheArchiveFolder() throws IOException {
        writeAll(dir.resolve("cifar-10-batches-bin"));
        assertLoaded(Cifar10.load(dir));
    }

    @Test
    void writeProducesTheBinaryLayout() throws IOException {
        byte[] img = new byte[3072];
        img[0] = 1;
        img[3071] = (byte) 200;
        Path p = dir.resolve("one.bin");
        Cifar10.write(p, new int[] {7}, new byte[][] {img});
        byte[] bytes = Files.readAllBytes(p);
        assertEquals(3073, bytes.length);
        assertEquals(7, bytes[0]);
        assertEquals(1, bytes[1]);
        assertEquals((byte) 200, bytes[3072]);
    }

    @Test
    void writeRejectsBadArguments() {
        Path p = dir.resolve("x.bin");
        UserError e = assertThrows(UserError.class,
                () -> Cifar10.write(p, new int[] {1}, new byte[][] {new byte[3071]}));
        assertEquals(p + ": image 0 has 3071 bytes, expected 3072 (3 x 32 x 32)", e.getMessage());
        e = assertThrows(UserError.class,
                () -> Cifar10.write(p, new int[] {1, 256}, new byte[][] {new byte[3072], new byte[3072]}));
        assertEquals(p + ": label 256 of record 1 does not fit a byte 0..255", e.getMessage());
        e = assertThrows(UserError.class, () -> Cifar10.write(p, new int[2], new byte[1][]));
        assertEquals(p + ": 2 labels but 1 images", e.getMessage());
    }

    @Test
    void missingFilesAreListed() throws IOException {
        writeAll(dir);
        Files.delete(dir.resolve("data_batch_3.bin"));
        Files.delete(dir.resolve("test_batch.bin"));
        assertEquals("CIFAR-10 binary files missing in " + dir + ": data_batch_3.bin, test_batch.bin (expected"
                + " data_batch_1.bin .. data_batch_5.bin and test_batch.bin in DIR or in DIR/cifar-10-batches-bin);"
                + " download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it (tar xzf),"
                + " then pass --data cifar10:DIR", loadError());
    }

    @Test
    void missingDirectory() {
        Path nowhere = dir.resolve("nowhere");
        IOException e = assertThrows(IOException.class, () -> Cifar10.load(nowhere));
        assertEquals("CIFAR-10 directory " + nowhere + " does not exist; download"
                + " https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it (tar xzf), then pass"
                + " --data cifar10:DIR", e.getMessage());
    }

    @Test
    void truncatedFile() throws IOException {
        writeAll(dir);
        Path p = dir.resolve("data_batch_4.bin");
        byte[] bytes = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(bytes, bytes.length - 5));
        assertEquals(p + ": size 21506 bytes is not a multiple of the 3073-byte CIFAR-10 record (1 label byte + 3072"
                + " pixel bytes): 6 whole records and 3068 bytes over; the file is truncated or not CIFAR-10 binary",
                loadError());
    }

    @Test
    void emptyFile() throws IOException {
        writeAll(dir);
        Path p = dir.resolve("test_batch.bin");
        Files.write(p, new byte[0]);
        assertEquals(p + ": empty file; expected CIFAR-10 binary records of 3073 bytes (1 label byte + 3072 pixel"
                + " bytes)", loadError());
    }

    @Test
    void labelAboveNine() throws IOException {
        writeAll(dir);
        labels[1][4] = 10;
        Path p = dir.resolve("data_batch_2.bin");
        Cifar10.write(p, labels[1], images[1]);
        assertEquals(p + ": record 4 (byte offset 12292) has label byte 10, expected a class 0..9; the file is"
                + " corrupt or not CIFAR-10 binary (CIFAR-100 records have 2 label bytes)", loadError());
    }

    @Test
    void loadsThroughDataSetsWithItsOwnShape() throws IOException {
        writeAll(dir);
        Split s = DataSets.load("cifar10:" + dir, 0, 1, 28, 28, 10);
        assertArrayEquals(new int[] {3, 32, 32},
                new int[] {s.train().channels(), s.train().height(), s.train().width()});
        assertEquals(35, s.train().size());
    }
}
