package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes either complete the target file or leave everything as it was, with no temporaries. */
class AtomicWriteTest {
    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void failureMidWriteLeavesNoTargetAndNoTemporary() throws IOException {
        Path target = dir.resolve("a.npy");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            Npy.write(out, NdArray.of(new double[10_000], 100, 100)); // some bytes reach the disk
            throw new IOException("disk full (simulated)");
        }));
        assertEquals("cannot write " + target + ": disk full (simulated)", e.getMessage());
        assertEquals(List.of(), names());
    }

    @Test
    void keepRefusesAFileThatAppearsDuringTheWriteAndPublishesANewOne() throws IOException {
        Path target = dir.resolve("out.npz");
        // another run creates the output while this one is writing: it is kept, this write fails, no temporary stays
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, AtomicFiles.Existing.KEEP, out -> {
            out.write(new byte[1000]);
            Files.writeString(target, "the other run's");
        }));
        assertTrue(e.getMessage().startsWith("cannot write " + target + ": a file appeared there during the run"), e.getMessage());
        assertTrue(e.getMessage().contains("--overwrite"), e.getMessage());
        assertEquals("the other run's", Files.readString(target));
        assertEquals(List.of("out.npz"), names());
        // through a dangling link, the file it points to: kept the same way
        Path link = Files.createSymbolicLink(dir.resolve("link.npz"), Path.of("new.npz"));
        assertThrows(IOException.class, () -> AtomicFiles.write(link, AtomicFiles.Existing.KEEP, out -> Files.writeString(dir.resolve("new.npz"), "x")));
        assertEquals("x", Files.readString(dir.resolve("new.npz")));
        Files.delete(dir.resolve("new.npz"));
        // nothing there: written whole, under its name only, through the link
        AtomicFiles.writeString(link, AtomicFiles.Existing.KEEP, "mine");
        assertEquals("mine", Files.readString(dir.resolve("new.npz")));
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(List.of("link.npz", "new.npz", "out.npz"), names());
        // and REPLACE renames over an existing file
        AtomicFiles.writeString(target, AtomicFiles.Existing.REPLACE, "replaced");
        assertEquals("replaced", Files.readString(target));
    }

    @Test
    void failureMidWriteKeepsThePreviousFile() throws IOException {
        Path target = dir.resolve("a.npz");
        Npz.write(target, Map.of("x", NdArray.scalar(1)));
        byte[] before = Files.readAllBytes(target);
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[100_000]);
            throw new IllegalStateException("bug (simulated)");
        }));
        assertEquals(List.of("a.npz"), names());
        assertEquals(Map.of("x", NdArray.scalar(1)), Npz.read(target));
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(target)));
    }

    @Test
    void failedMoveLeavesNoTemporary() throws IOException {
        // The target is a directory, so the final rename fails after the temporary was written.
        Path target = dir.resolve("taken.npy");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep.txt"), "x");
        assertThrows(IOException.class, () -> Npy.write(target, NdArray.scalar(1)));
        assertThrows(IOException.class, () -> Npz.write(target, Map.of("a", NdArray.scalar(1))));
        assertEquals(List.of("taken.npy"), names());
        assertTrue(Files.isDirectory(target));
        assertEquals("x", Files.readString(target.resolve("keep.txt")));
    }

    @Test
    void missingDirectoryFailsCleanly() {
        Path target = dir.resolve("no/such/dir/a.npy");
        assertThrows(IOException.class, () -> Npy.write(target, NdArray.scalar(1)));
        assertFalse(Files.exists(dir.resolve("no")));
    }

    @Test
    void temporaryGoesIntoTheTargetsDirectory() throws IOException {
        Path target = dir.resolve("sub").resolve("a.npy");
        Files.createDirectory(dir.resolve("sub"));
        Npy.write(target, NdArray.scalar(2));
        try (Stream<Path> s = Files.list(dir.resolve("sub"))) {
            assertEquals(List.of(target), s.collect(Collectors.toList()));
        }
    }
}
