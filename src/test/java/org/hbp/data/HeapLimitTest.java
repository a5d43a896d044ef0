package org.hbp.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.hbp.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data larger than the Java heap can hold is refused with the estimate, not an OutOfMemoryError:
 * a JVM with a 64 MiB heap reads complete (sparse, so nothing is really written) files whose
 * arrays need about 70 MiB.
 */
class HeapLimitTest {
    @TempDir
    Path dir;

    /** Reads the file given as the first argument (.npy, or a CIFAR-10 folder) and prints the error. */
    public static void main(String[] args) throws IOException {
        Path p = Path.of(args[0]);
        try {
            if (Files.isDirectory(p)) {
                Cifar10.load(p);
            } else {
                Npy.read(p);
            }
            System.out.println("read");
        } catch (IOException | RuntimeException e) {
            System.out.println(e.getMessage());
        }
    }

    private static String probe(Path p) throws Exception {
        Process proc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), HeapLimitTest.class.getName(), p.toString())
                .redirectErrorStream(true).start();
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "the probe finished");
        return new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    }

    private static void sparse(Path p, byte[] head, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(head);
            f.setLength(size);
        }
    }

    @Test
    void anNpyArrayBeyondTheHeapIsRefusedWithTheEstimate() throws Exception {
        Path p = dir.resolve("big.npy");
        String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3000, 3000), }";
        h = h + " ".repeat(117 - h.length()) + "\n";
        byte[] head = new byte[128];
        System.arraycopy(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}, 0, head, 0, 10);
        System.arraycopy(h.getBytes(StandardCharsets.ISO_8859_1), 0, head, 10, 118);
        sparse(p, head, 128 + 4L * 3000 * 3000);
        String msg = probe(p);
        assertTrue(msg.startsWith(p + ": array of shape [3000, 3000] needs 0.07 GiB of memory (9000000 values as"
                + " float64), more than the Java heap's limit of 0.06 GiB (raise it with java -Xmx)"), msg);
    }

    @Test
    void cifarRecordsBeyondTheHeapAreRefusedWithTheEstimate() throws Exception {
        int perFile = 1200; // 6000 training records: 70 MiB as floats
        for (String f : Cifar10.TRAIN_FILES) {
            sparse(dir.resolve(f), new byte[0], (long) perFile * Cifar10.RECORD_BYTES);
        }
        sparse(dir.resolve(Cifar10.TEST_FILE), new byte[0], Cifar10.RECORD_BYTES);
        String msg = probe(dir);
        assertTrue(msg.startsWith("cifar10/train: 6000 records need 0.07 GiB of memory as floats, more than the Java"
                + " heap's limit of 0.06 GiB (raise it with java -Xmx)"), msg);
        assertEquals(1, msg.lines().count(), msg);
    }
}
