package org.hbp.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import org.hbp.UserError;

/**
 * The files one command reads and writes, declared before it does any work and checked together
 * by {@link #check}, so that no output of a command destroys a file of the user:
 *
 * <ul>
 *   <li>an output that is the same file as an input, or as another output, is refused, naming both
 *       options and the path. "The same file" compares what the paths lead to: symbolic links are
 *       followed (as {@link AtomicFiles} writes through them), relative spellings, {@code ..} and
 *       hard links are seen through (existing files compare by their device and inode, else by
 *       their real path); a path that does not exist yet compares by the real path of its
 *       deepest existing folder and the rest, normalized;
 *   <li>an output that exists already is refused unless the command was given {@code --overwrite}
 *       (one policy for every command); with it, the file is replaced atomically when written;
 *   <li>an output path that {@link AtomicFiles} would refuse later (a folder, a FIFO or device,
 *       a missing folder to write into, a loop of links) is refused now, before the work; so is a
 *       folder of outputs that is a file, or lies under one, and {@link #makeFolders} makes the
 *       missing folders of outputs before the work, so that one the file system refuses is refused
 *       then too.
 * </ul>
 *
 * <p>The writes themselves go through {@link AtomicFiles} with the same policy
 * ({@link AtomicFiles.Existing#REPLACE} with {@code --overwrite}, else {@link AtomicFiles.Existing#KEEP}):
 * a reader never sees a half-written file, and without {@code --overwrite} a file that appears at
 * an output path between this check and the write (a second run writing the same output) is kept
 * and the write fails. {@link #check} itself only reads the file system (attributes, links); it
 * writes nothing.
 */
public final class CommandFiles {
    /** One declared file: the option that names it (e.g. {@code --params}) and its path as given. */
    private record Entry(String option, Path path) {
        String describe() {
            return option + " " + path;
        }
    }

    /** Files written into one folder (e.g. {@code --out DIR}): the folder may not exist yet. */
    private record Folder(String option, Path dir, List<String> names) {
    }

    private final boolean overwrite;
    private final List<Entry> inputs = new ArrayList<>();
    private final List<Entry> outputs = new ArrayList<>();
    private final List<Folder> folders = new ArrayList<>();
    /** The topmost folders {@link #makeFolders} made (each with what it made under it). */
    private final List<Path> made = new ArrayList<>();

    /**
     * An empty declaration.
     *
     * @param overwrite whether existing outputs may be replaced (the command's {@code --overwrite})
     */
    public CommandFiles(boolean overwrite) {
        this.overwrite = overwrite;
    }

    /** Declares an input file named by {@code option}; a null path (option not given) is ignored. Returns this. */
    public CommandFiles input(String option, Path path) {
        if (path != null) inputs.add(new Entry(option, path));
        return this;
    }

    /** Declares an output file named by {@code option}; a null path (option not given) is ignored. Returns this. */
    public CommandFiles output(String option, Path path) {
        if (path != null) outputs.add(new Entry(option, path));
        return this;
    }

    /**
     * Declares the files {@code names} that the command writes into the folder {@code dir} (named by
     * {@code option}, made if missing). An existing file of these is refused as one message naming
     * them all. Returns this.
     */
    public CommandFiles outputsIn(String option, Path dir, List<String> names) {
        folders.add(new Folder(option, dir, List.copyOf(names)));
        for (String n : names) outputs.add(new Entry(option, dir.resolve(n)));
        return this;
    }

    /**
     * Checks the declared files; changes nothing on disk.
     *
     * @throws UserError if an output is the same file as an input or as an earlier output, or if
     *     outputs exist already and {@code overwrite} is false; one line naming the options and paths
     * @throws IOException if an output path cannot be written at all (see {@link AtomicFiles#write}):
     *     a folder or special file there, its folder missing, or a loop of links
     */
    public void check() throws IOException {
        for (Folder f : folders) checkFolder(f);
        List<Object> inputKeys = new ArrayList<>();
        for (Entry in : inputs) inputKeys.add(key(in.path()));
        List<Object> outputKeys = new ArrayList<>();
        for (Entry out : outputs) {
            // a folder, FIFO, missing folder, link loop: refused now, not after the work (a folder of outputs is made if missing)
            if (!isInFolder(out) || Files.isDirectory(out.path().toAbsolutePath().getParent())) AtomicFiles.resolveTarget(out.path());
            Object k = key(out.path());
            for (int i = 0; i < inputs.size(); i++)
                if (k.equals(inputKeys.get(i)))
                    throw new UserError(sameFile(out, inputs.get(i)) + "; writing it would destroy that input: choose another output file");
            for (int i = 0; i < outputKeys.size(); i++)
                if (k.equals(outputKeys.get(i)))
                    throw new UserError(sameFile(out, outputs.get(i)) + "; each output needs a file of its own");
            outputKeys.add(k);
        }
        if (overwrite) return;
        for (Folder f : folders) {
            List<String> existing = f.names().stream().filter(n -> exists(f.dir().resolve(n))).toList();
            if (!existing.isEmpty())
                throw new UserError(f.option() + " " + f.dir() + " already holds " + String.join(", ", existing)
                        + " of an earlier run; choose another " + f.option() + ", remove them, or pass --overwrite");
        }
        for (Entry out : outputs)
            if (!isInFolder(out) && exists(out.path()))
                throw new UserError(out.describe() + " already exists; choose another file, remove it, or pass --overwrite");
    }

    /**
     * Makes the declared folders of outputs that are missing (and their missing parents), and
     * writes and deletes a probe file in each: after {@link #check}, before the work, so that a
     * folder the file system refuses (a read-only or virtual file system, no permission) is an
     * error now, not after the work. A run that fails later calls {@link #removeMadeFolders}.
     *
     * @throws UserError one line naming the option, the folder and the file system's reason; the
     *     folders made by this call are removed again
     */
    public void makeFolders() {
        for (Folder f : folders) {
            Path abs = f.dir().toAbsolutePath().normalize(), top = null;
            for (Path p = abs; p != null && !Files.exists(p); p = p.getParent()) top = p;
            try {
                Files.createDirectories(abs);
                if (top != null) made.add(top);
                Files.delete(Files.createTempFile(abs, ".hbp-probe-", ".tmp"));
            } catch (IOException e) {
                removeMadeFolders();
                throw new UserError(f.option() + " " + f.dir() + ": cannot write into this folder (" + IoErrors.describe(e) + ")");
            }
        }
    }

    /**
     * Removes the folders {@link #makeFolders} made where they are still empty (a run refused or
     * failed after making them leaves nothing behind); a folder with anything in it stays.
     */
    public void removeMadeFolders() {
        for (Path top : made) {
            try (var walk = Files.walk(top)) {
                List<Path> deepestFirst = walk.sorted(java.util.Comparator.reverseOrder()).toList();
                for (Path p : deepestFirst) if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.delete(p);
            } catch (IOException e) {
                // not empty (or gone): left as it is
            }
        }
        made.clear();
    }

    /**
     * Refuses a folder of outputs that cannot be one (read only): the folder itself, or where it is
     * missing its deepest existing parent, must be a folder (links followed).
     */
    private static void checkFolder(Folder f) {
        Path abs = f.dir().toAbsolutePath();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null || Files.isDirectory(existing)) return;
        throw new UserError(f.option() + " " + f.dir() + (existing.equals(abs) ? " exists and is not a folder; " + f.option() + " names a folder"
                : ": " + existing + " is a file, not a folder, so no folder can be made under it"));
    }

    private boolean isInFolder(Entry e) {
        for (Folder f : folders)
            if (f.option().equals(e.option()) && e.path().getParent() != null && e.path().getParent().equals(f.dir())) return true;
        return false;
    }

    /** "--out a.npz is the same file as --params b.npz (/real/b.npz)": the real path where the spellings differ. */
    private static String sameFile(Entry a, Entry b) {
        String where = a.path().equals(b.path()) ? "" : " (" + shown(b.path()) + ")";
        return a.describe() + " is the same file as " + b.describe() + where;
    }

    /** The real path of an existing file, else the normalized absolute path. */
    private static String shown(Path p) {
        try {
            return p.toRealPath().toString();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize().toString();
        }
    }

    /** Whether something is at {@code p} or at the end of its links (a dangling link is nothing yet). */
    private static boolean exists(Path p) {
        return Files.exists(p);
    }

    /**
     * What {@code p} leads to: for an existing file its file key (device and inode, so hard links
     * match) or, where the platform has none, its real path; else the real path of its deepest
     * existing folder joined with the rest of the path, normalized (after following a dangling
     * link to where it points).
     */
    static Object key(Path p) throws IOException {
        Path end = p.toAbsolutePath();
        for (int links = 0; links <= AtomicFiles.MAX_LINKS && Files.isSymbolicLink(end) && !Files.exists(end); links++)
            end = end.getParent().resolve(Files.readSymbolicLink(end)); // a dangling link: the path it would create
        if (Files.exists(end)) {
            Object fileKey = Files.readAttributes(end, BasicFileAttributes.class).fileKey();
            return fileKey != null ? fileKey : end.toRealPath();
        }
        Path existing = end.getParent();
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return end.normalize();
        return existing.toRealPath().resolve(existing.relativize(end)).normalize();
    }
}
