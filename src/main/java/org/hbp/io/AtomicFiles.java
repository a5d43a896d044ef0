package org.hbp.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files atomically: the content goes to a temporary file ({@code .NAME.XXXXXXXX.tmp}) in
 * the directory of the file that will be replaced, which is flushed to disk and then renamed over
 * it with {@link StandardCopyOption#ATOMIC_MOVE}. If anything fails, the temporary file is deleted
 * and an existing file is left as it was.
 *
 * <p><b>The target.</b> A symbolic link (or a chain of up to {@value #MAX_LINKS} links) is written
 * through: the file it finally points to is replaced (or created, for a dangling link) and the
 * links stay as they are. A directory, FIFO, device or socket is refused before anything is
 * written, so that no special file is ever replaced by a regular one. Replacing a file keeps its
 * permission bits.
 *
 * <p><b>Concurrent writers.</b> Each writer has its own temporary file and the final rename is
 * atomic, so a reader always sees one complete version (the last one renamed), never a mixture;
 * no lock is needed for that.
 *
 * <p><b>Existing files.</b> {@link Existing#REPLACE} (the default) renames over a file at the
 * target. {@link Existing#KEEP} publishes the temporary only where no file is there at that very
 * moment: by a hard link ({@code link(2)} fails if the name exists, atomically, so of two runs
 * meeting at one new path the second is refused instead of replacing the first one's file), or,
 * on a file system without hard links, by a rename after a last check.
 *
 * <p><b>Errors</b> are {@link IOException}s whose message names the target as the caller gave it
 * (never the hidden temporary) and says what happened, e.g.
 * {@code cannot write out.npy: No space left on device}.
 */
public final class AtomicFiles {
    /** The most symbolic links followed from the target (Linux's own limit is 40). */
    static final int MAX_LINKS = 40;

    /** What a write does with a file that exists at the target. */
    public enum Existing {
        /** Replace it atomically. */
        REPLACE,
        /** Keep it: the write fails, naming the target, and writes nothing. */
        KEEP
    }

    /** Produces the file's content. */
    @FunctionalInterface
    public interface Writer {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Writes UTF-8 text atomically, replacing an existing file. */
    public static void writeString(Path target, String text) throws IOException {
        writeString(target, Existing.REPLACE, text);
    }

    /** Writes UTF-8 text atomically; an existing file at the target is replaced or kept as {@code existing} says. */
    public static void writeString(Path target, Existing existing, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        write(target, existing, out -> out.write(bytes));
    }

    /** {@link #write(Path, Existing, Writer)} replacing an existing file. */
    public static void write(Path target, Writer writer) throws IOException {
        write(target, Existing.REPLACE, writer);
    }

    /**
     * Writes the content produced by {@code writer} atomically to {@code target} (or, if it is a
     * symbolic link, to the file it points to).
     *
     * @param existing what to do with a file at the target: replace it, or keep it and fail
     * @throws IOException naming {@code target} if it is a directory, special file or link loop,
     *     if its directory is missing, if {@code existing} is KEEP and a file is there when the
     *     new one would be published, or if writing fails; the target is then unchanged
     */
    public static void write(Path target, Existing existing, Writer writer) throws IOException {
        Path resolved = resolveTarget(target);
        Path tmp;
        try {
            tmp = createTemp(resolved);
        } catch (IOException e) {
            throw failure(target, resolved, e, null);
        }
        try {
            keepPermissions(resolved, tmp);
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16)) {
                writer.writeTo(out);
                out.flush();
                channel.force(true);
            }
            if (existing == Existing.REPLACE) {
                Files.move(tmp, resolved, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                publishNew(target, resolved, tmp);
            }
        } catch (KeptException e) {
            deleteQuietly(tmp, e);
            throw new IOException(e.getMessage());
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw failure(target, resolved, e, tmp);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
        syncDirectory(resolved.getParent());
    }

    /**
     * The absolute path of the file a write to {@code target} replaces or creates: {@code target}
     * itself, or the end of its chain of symbolic links. Writes nothing.
     *
     * @throws IOException naming {@code target} if the final path is a directory or a special
     *     file, if the links loop, or if its directory is missing or not a directory
     */
    static Path resolveTarget(Path target) throws IOException {
        Path p = target.toAbsolutePath();
        for (int links = 0; ; links++) {
            if (p.getFileName() == null) { // the root directory
                throw refused(target, p, "it is a directory (expected a file path)");
            }
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                checkDirectory(target, p);
                return p;
            } catch (FileSystemException e) {
                checkDirectory(target, p); // e.g. "Not a directory" for afile/x.npy
                throw failure(target, p, e, null);
            }
            if (a.isSymbolicLink()) {
                if (links >= MAX_LINKS) {
                    throw new IOException("cannot write " + target + ": too many levels of symbolic links (more than "
                            + MAX_LINKS + ")");
                }
                p = p.getParent().resolve(Files.readSymbolicLink(p)); // not normalized: ".." stays physical
            } else if (a.isDirectory()) {
                throw refused(target, p, "it is a directory (expected a file path)");
            } else if (a.isOther()) {
                throw refused(target, p, "it is a " + specialKind(p) + ", not a regular file; refusing to replace it"
                        + " (expected a regular file or a new path)");
            } else {
                return p;
            }
        }
    }

    /** The target existed at publishing time with {@link Existing#KEEP}: its message is final. */
    private static final class KeptException extends IOException {
        private static final long serialVersionUID = 1L;

        KeptException(String message) {
            super(message);
        }
    }

    /**
     * Gives the finished temporary the name {@code resolved} only if nothing has that name now:
     * by a hard link (atomic: {@code link(2)} fails on an existing name), then removes the
     * temporary's own name; on a file system without hard links, by a rename after a last check.
     */
    private static void publishNew(Path target, Path resolved, Path tmp) throws IOException {
        try {
            Files.createLink(resolved, tmp);
        } catch (FileAlreadyExistsException e) {
            throw kept(target, resolved);
        } catch (UnsupportedOperationException | FileSystemException e) {
            if (e instanceof FileSystemException && Files.exists(resolved, LinkOption.NOFOLLOW_LINKS)) throw kept(target, resolved);
            // no hard links here (e.g. FAT, some network file systems): the rename after a last look
            if (Files.exists(resolved, LinkOption.NOFOLLOW_LINKS)) throw kept(target, resolved);
            Files.move(tmp, resolved, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        try {
            Files.delete(tmp); // the file is published under its name; the temporary name goes
        } catch (IOException e) {
            // a hidden .tmp name left beside the published file; a later run's cleanup or the user removes it
        }
    }

    private static KeptException kept(Path target, Path resolved) {
        return new KeptException("cannot write " + describe(target, resolved) + ": a file appeared there during the run (another run "
                + "writing the same output?); it is kept and this result is not written: run again with another output, or with --overwrite");
    }

    /** Checks that the directory a new file {@code p} would go into exists. */
    private static void checkDirectory(Path target, Path p) throws IOException {
        Path parent = p.getParent();
        if (Files.isDirectory(parent)) {
            return;
        }
        throw refused(target, p, Files.exists(parent) ? parent + " is not a directory"
                : "the directory " + parent + " does not exist");
    }

    /** "FIFO (named pipe)", "character device", ... from the file's mode bits. */
    private static String specialKind(Path p) {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            switch (mode & 0170000) {
                case 0010000: return "FIFO (named pipe)";
                case 0020000: return "character device";
                case 0060000: return "block device";
                case 0140000: return "socket";
                default: break;
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            // not a Unix file system: fall through to the generic word
        }
        return "special file";
    }

    private static IOException refused(Path target, Path resolved, String why) {
        return new IOException("cannot write " + describe(target, resolved) + ": " + why);
    }

    /** {@code target}, and where it leads if that is elsewhere (a link). */
    private static String describe(Path target, Path resolved) {
        return target.toAbsolutePath().equals(resolved) ? target.toString()
                : target + " (a link to " + resolved + ")";
    }

    /**
     * An error naming the target: {@code cannot write T: REASON}, where the reason of a
     * {@link FileSystemException} is given without its file names (which may be the temporary's).
     */
    private static IOException failure(Path target, Path resolved, IOException e, Path tmp) {
        String reason;
        if (e instanceof FileSystemException fse) {
            reason = fse.getReason() != null ? fse.getReason()
                    : e instanceof AccessDeniedException ? "permission denied"
                    : e instanceof NoSuchFileException ? "no such file or directory"
                    : e instanceof FileAlreadyExistsException ? "file already exists"
                    : e instanceof NotDirectoryException ? "not a directory"
                    : e.getClass().getSimpleName();
            if (e instanceof AccessDeniedException) {
                reason += " (in " + resolved.getParent() + ")";
            }
        } else {
            reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        if (tmp != null) {
            reason = reason.replace(tmp.toString(), resolved.toString());
        }
        return new IOException("cannot write " + describe(target, resolved) + ": " + reason, e);
    }

    /** Gives the temporary file the permission bits of the file it will replace, if any. */
    private static void keepPermissions(Path resolved, Path tmp) throws IOException {
        if (!Files.isRegularFile(resolved, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try {
            Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(resolved, LinkOption.NOFOLLOW_LINKS));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: the temporary keeps the default permissions
        }
    }

    private static void deleteQuietly(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }

    /** Flushes the directory entry of the rename to disk, where the platform allows it. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort: the data itself was forced before the rename
        }
    }

    /**
     * Creates an empty temporary file next to {@code target}. (Not {@link Files#createTempFile},
     * which would give the final file owner-only permissions instead of the usual umask ones.)
     */
    private static Path createTemp(Path target) throws IOException {
        Path dir = target.getParent();
        String name = target.getFileName().toString();
        // at most 255 bytes in all on common file systems: a long name is shortened in the temporary
        String base = "." + (name.length() > 200 ? name.substring(0, 200) : name) + ".";
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve(base + String.format("%08x", ThreadLocalRandom.current().nextInt()) + ".tmp");
            try {
                Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 100) {
                    throw e;
                }
            }
        }
    }
}
