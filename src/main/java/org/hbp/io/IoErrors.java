package org.hbp.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;

/**
 * One-line descriptions of I/O errors for users. Java's {@link FileSystemException}s often carry
 * only a path as their message ({@code Files.createDirectories("afile")} on an existing file
 * throws a {@link FileAlreadyExistsException} whose message is just {@code afile}); this adds
 * what happened.
 */
public final class IoErrors {
    private IoErrors() {
    }

    /**
     * {@code FILE: WHAT HAPPENED} for a file-system error, e.g.
     * {@code afile: already exists and is not a directory (expected a directory, or a path that
     * does not exist yet)}; other errors' own message.
     */
    public static String describe(IOException e) {
        if (!(e instanceof FileSystemException f) || f.getReason() != null || f.getFile() == null) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        String where = f.getFile() + (f.getOtherFile() == null ? "" : " -> " + f.getOtherFile());
        return where + ": " + reason(f);
    }

    private static String reason(FileSystemException f) {
        if (f instanceof FileAlreadyExistsException) {
            // in hbp these come from Files.createDirectories, i.e. a non-directory is in the way
            return Files.isDirectory(Path.of(f.getFile())) ? "already exists"
                    : "already exists and is not a directory (expected a directory, or a path that does not exist yet)";
        }
        if (f instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (f instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (f instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (f instanceof DirectoryNotEmptyException) {
            return "the directory is not empty";
        }
        if (f instanceof NotLinkException) {
            return "not a symbolic link";
        }
        return f.getClass().getSimpleName();
    }
}
