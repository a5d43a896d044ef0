package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an atomic write does with the path it is given: links are written through to their final
 * target, special files and directories are refused, and every error names the target.
 */
class AtomicWriteTargetTest {
    @TempDir
    Path dir;

    private List<String> names(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void writesThroughASymlinkAndKeepsTheLink() throws IOException {
        Path real = dir.resolve("real.txt");
        Files.writeString(real, "old");
        Path link = Files.createSymbolicLink(dir.resolve("link.txt"), real.getFileName());
        AtomicFiles.writeString(link, "new");
        assertTrue(Files.isSymbolicLink(link), "the link must stay a link");
        assertEquals("new", Files.readString(real));
        assertEquals(List.of("link.txt", "real.txt"), names(dir));
    }

    @Test
    void followsAChainOfLinksAcrossDirectoriesAndPutsTheTemporaryBesideTheFinalTarget() throws IOException {
        Path other = Files.createDirectory(dir.resolve("other"));
        Path real = other.resolve("real.npy");
        Npy.write(real, NdArray.scalar(1));
        Path hop = Files.createSymbolicLink(other.resolve("hop.npy"), Path.of("real.npy")); // relative to other/
        Path link = Files.createSymbolicLink(dir.resolve("out.npy"), hop);
        List<String> seenDuringWrite = new ArrayList<>();
        AtomicFiles.write(link, out -> {
            seenDuringWrite.addAll(names(other));
            Npy.write(out, NdArray.scalar(2));
        });
        assertEquals(NdArray.scalar(2), Npy.read(real));
        assertTrue(Files.isSymbolicLink(link) && Files.isSymbolicLink(hop));
        assertEquals(3, seenDuringWrite.size(), "temporary beside real.npy: " + seenDuringWrite);
        assertTrue(seenDuringWrite.stream().anyMatch(n -> n.startsWith(".real.npy.") && n.endsWith(".tmp")),
                seenDuringWrite.toString());
        assertEquals(List.of("hop.npy", "real.npy"), names(other));
        assertEquals(List.of("other", "out.npy"), names(dir));
    }

    @Test
    void aDanglingLinkCreatesItsTarget() throws IOException {
        Path link = Files.createSymbolicLink(dir.resolve("link.txt"), Path.of("made.txt"));
        AtomicFiles.writeString(link, "x");
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("x", Files.readString(dir.resolve("made.txt")));
    }

    @Test
    void aLinkLoopIsRefusedByName() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.createSymbolicLink(a, b.getFileName());
        Files.createSymbolicLink(b, a.getFileName());
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.writeString(a, "x"));
        assertEquals("cannot write " + a + ": too many levels of symbolic links (more than 40)", e.getMessage());
        assertEquals(List.of("a", "b"), names(dir));
    }

    @Test
    void aFifoIsRefusedAndLeftInPlace() throws Exception {
        Path fifo = dir.resolve("pipe.npy");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assumeTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "mkfifo is available");
        IOException e = assertThrows(IOException.class, () -> Npy.write(fifo, NdArray.scalar(1)));
        assertEquals("cannot write " + fifo + ": it is a FIFO (named pipe), not a regular file;"
                + " refusing to replace it (expected a regular file or a new path)", e.getMessage());
        assertTrue(Files.readAttributes(fifo, java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS).isOther(), "the FIFO must stay a FIFO");
        assertEquals(List.of("pipe.npy"), names(dir));
    }

    @Test
    void aLinkToAFifoIsRefusedNamingBoth() throws Exception {
        Path fifo = dir.resolve("pipe");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assumeTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "mkfifo is available");
        Path link = Files.createSymbolicLink(dir.resolve("out.npy"), fifo);
        IOException e = assertThrows(IOException.class, () -> Npy.write(link, NdArray.scalar(1)));
        assertEquals("cannot write " + link + " (a link to " + fifo + "): it is a FIFO (named pipe), not a regular"
                + " file; refusing to replace it (expected a regular file or a new path)", e.getMessage());
        assertTrue(Files.isSymbolicLink(link));
    }

    /** Only classifies the device (never writes to it), so a regression cannot harm /dev/null. */
    @Test
    void aDeviceIsRefusedBeforeAnythingIsWritten() {
        Path dev = Path.of("/dev/null");
        assumeTrue(Files.exists(dev));
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.resolveTarget(dev));
        assertEquals("cannot write /dev/null: it is a character device, not a regular file; refusing to replace it"
                + " (expected a regular file or a new path)", e.getMessage());
    }

    @Test
    void aDirectoryIsRefusedByName() throws IOException {
        Path d = Files.createDirectory(dir.resolve("taken.npy"));
        IOException e = assertThrows(IOException.class, () -> Npy.write(d, NdArray.scalar(1)));
        assertEquals("cannot write " + d + ": it is a directory (expected a file path)", e.getMessage());
    }

    @Test
    void theRootDirectoryIsRefusedClearly() {
        IOException e = assertThrows(IOException.class, () -> Npy.write(Path.of("/"), NdArray.scalar(1)));
        assertEquals("cannot write /: it is a directory (expected a file path)", e.getMessage());
    }

    @Test
    void aMissingDirectoryIsNamed() {
        Path target = dir.resolve("no/such/a.npy");
        IOException e = assertThrows(IOException.class, () -> Npy.write(target, NdArray.scalar(1)));
        assertEquals("cannot write " + target + ": the directory " + dir.resolve("no/such") + " does not exist",
                e.getMessage());
    }

    @Test
    void aFileInPlaceOfTheDirectoryIsNamed() throws IOException {
        Files.writeString(dir.resolve("afile"), "keep");
        Path target = dir.resolve("afile/a.npy");
        IOException e = assertThrows(IOException.class, () -> Npy.write(target, NdArray.scalar(1)));
        assertEquals("cannot write " + target + ": " + dir.resolve("afile") + " is not a directory", e.getMessage());
        assertEquals("keep", Files.readString(dir.resolve("afile")));
    }

    @Test
    void aFullDiskNamesTheTargetNotTheTemporary() throws IOException {
        Path target = dir.resolve("out.npy");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[1000]);
            throw new IOException("No space left on device"); // what FileChannel.write reports
        }));
        assertEquals("cannot write " + target + ": No space left on device", e.getMessage());
        assertEquals(List.of(), names(dir));
    }

    @Test
    void replacingAFileKeepsItsPermissions() throws IOException {
        Path target = dir.resolve("secret.txt");
        Files.writeString(target, "old");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
        AtomicFiles.writeString(target, "new");
        assertEquals("new", Files.readString(target));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    }

    /** Two writers of one file: every reader sees one complete version, never a mix or a partial file. */
    @Test
    void concurrentWritersLeaveOneCompleteVersion() throws Exception {
        Path target = dir.resolve("shared.txt");
        int size = 200_000;
        Thread[] writers = new Thread[2];
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int w = 0; w < writers.length; w++) {
            String text = String.valueOf((char) ('a' + w)).repeat(size);
            writers[w] = new Thread(() -> {
                try {
                    for (int i = 0; i < 20; i++) {
                        AtomicFiles.writeString(target, text);
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
            writers[w].start();
        }
        int reads = 0;
        while (writers[0].isAlive() || writers[1].isAlive() || reads == 0) {
            if (Files.exists(target)) {
                String s = Files.readString(target);
                assertEquals(size, s.length());
                assertTrue(s.chars().allMatch(c -> c == s.charAt(0)), "a mixed file");
                reads++;
            }
        }
        for (Thread t : writers) {
            t.join();
        }
        assertEquals(List.of(), failures);
        assertEquals(List.of("shared.txt"), names(dir));
        assertFalse(Files.readString(target).isEmpty());
    }
}
