package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File-system errors whose Java message is a bare path get a description of what happened. */
class IoErrorsTest {
    @TempDir
    Path dir;

    @Test
    void aFileWhereADirectoryIsCreatedSaysSo() throws IOException {
        Path f = Files.writeString(dir.resolve("afile"), "x");
        IOException e = assertThrows(IOException.class, () -> Files.createDirectories(f));
        assertEquals(f.toString(), e.getMessage()); // what hbp printed before: "hbp: afile"
        assertEquals(f + ": already exists and is not a directory (expected a directory, or a path that does not"
                + " exist yet)", IoErrors.describe(e));
    }

    @Test
    void aMissingFileSaysSo() {
        Path f = dir.resolve("nope.npy");
        IOException e = assertThrows(IOException.class, () -> Files.newInputStream(f));
        assertEquals(f + ": no such file or directory", IoErrors.describe(e));
    }

    @Test
    void messagesWithAReasonAndOtherErrorsAreKept() {
        Path f = dir.resolve("afile/sub");
        assertEquals("disk full", IoErrors.describe(new IOException("disk full")));
        assertEquals(f + ": Not a directory",
                IoErrors.describe(new java.nio.file.FileSystemException(f.toString(), null, "Not a directory")));
    }
}
