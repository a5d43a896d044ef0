package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CommandFiles}: outputs that are inputs or each other, however spelled, and existing outputs. */
class CommandFilesTest {
    @TempDir Path dir;

    private static String refused(CommandFiles f, String... parts) {
        UserError e = assertThrows(UserError.class, f::check);
        for (String p : parts) assertTrue(e.getMessage().contains(p), () -> "expected '" + p + "' in: " + e.getMessage());
        assertTrue(e.getMessage().lines().count() == 1, e.getMessage());
        return e.getMessage();
    }

    @Test
    void anOutputThatIsAnInputIsRefusedHoweverSpelled() throws IOException {
        Path in = Files.writeString(dir.resolve("p.npz"), "mine");
        Files.createDirectory(dir.resolve("sub"));
        Path link = Files.createSymbolicLink(dir.resolve("link.npz"), Path.of("p.npz"));
        Path linkToLink = Files.createSymbolicLink(dir.resolve("sub/l2.npz"), Path.of("../link.npz"));
        Path hard = Files.createLink(dir.resolve("hard.npz"), in);
        Path dirLink = Files.createSymbolicLink(dir.resolve("dl"), dir);
        for (Path out : List.of(in, dir.resolve("sub/../p.npz"), dir.resolve("./p.npz"), link, linkToLink, hard, dirLink.resolve("p.npz"),
                Path.of("").toAbsolutePath().relativize(in)))
            refused(new CommandFiles(true).input("--params", in).output("--dense", out), "--dense " + out, "--params " + in, "destroy that input");
        // and the other way round: the input through a link, the output plainly
        refused(new CommandFiles(true).input("--batch", link).output("--out", in), "--out " + in, "--batch " + link);
        // another file is fine
        assertDoesNotThrow(() -> new CommandFiles(true).input("--params", in).output("--dense", dir.resolve("q.npz")).check());
    }

    @Test
    void twoOutputsOfOneFileAreRefusedAlsoBeforeTheyExist() throws IOException {
        Files.createDirectory(dir.resolve("sub"));
        Path a = dir.resolve("net.hbp");
        refused(new CommandFiles(false).output("--out", a).output("--params-out", dir.resolve("sub/../net.hbp")),
                "--params-out", "--out " + a, "a file of its own");
        // a dangling link and the file it would create
        assertDoesNotThrow(() -> Files.createSymbolicLink(dir.resolve("dangling.npz"), Path.of("new.npz")));
        refused(new CommandFiles(false).output("--out", dir.resolve("new.npz")).output("--dense", dir.resolve("dangling.npz")),
                "--dense", "--out");
        // files in a folder that does not exist yet, spelled two ways
        refused(new CommandFiles(false).outputsIn("--out", dir.resolve("new/x/.."), List.of("batch_l2.npz"))
                .outputsIn("--dir", dir.resolve("new"), List.of("batch_l2.npz")), "--dir", "--out");
    }

    @Test
    void anExistingOutputIsRefusedUnlessOverwrite() throws IOException {
        Path out = Files.writeString(dir.resolve("out.npz"), "mine");
        refused(new CommandFiles(false).output("--out", out), "--out " + out + " already exists", "--overwrite");
        assertDoesNotThrow(() -> new CommandFiles(true).output("--out", out).check());
        assertDoesNotThrow(() -> new CommandFiles(false).output("--out", dir.resolve("fresh.npz")).check());
        // in a folder: one message naming the existing ones
        Path run = Files.createDirectory(dir.resolve("run"));
        Files.writeString(run.resolve("b.npz"), "mine");
        refused(new CommandFiles(false).outputsIn("--out", run, List.of("a.npz", "b.npz")), "--out " + run + " already holds b.npz of an earlier run",
                "--overwrite");
        assertDoesNotThrow(() -> new CommandFiles(true).outputsIn("--out", run, List.of("a.npz", "b.npz")).check());
        assertDoesNotThrow(() -> new CommandFiles(false).outputsIn("--out", dir.resolve("new/deeper"), List.of("a.npz")).check());
    }

    @Test
    void anOutputThatCannotBeWrittenIsRefusedBeforeTheWork() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("folder.npz"));
        IOException e = assertThrows(IOException.class, () -> new CommandFiles(true).output("--out", folder).check());
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        e = assertThrows(IOException.class, () -> new CommandFiles(true).output("--out", dir.resolve("missing/x.npz")).check());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    /**
     * A folder of outputs that is a file, or lies under one (a link to a file too), is refused by the check, which makes
     * nothing; a folder the file system will not make (in /proc) is refused by {@link
     * CommandFiles#makeFolders}, which makes the others.
     */
    @Test
    void aFolderOfOutputsThatCannotBeMadeIsRefusedBeforeTheWork() throws IOException {
        Path file = Files.writeString(dir.resolve("regular.txt"), "mine");
        Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        refused(new CommandFiles(true).outputsIn("--out", file, List.of("a.npz")), "--out " + file + " exists and is not a folder");
        refused(new CommandFiles(true).outputsIn("--out", file.resolve("sub/deeper"), List.of("a.npz")),
                "--out " + file.resolve("sub/deeper") + ": " + file + " is a file, not a folder");
        refused(new CommandFiles(true).outputsIn("--out", link.resolve("sub"), List.of("a.npz")), ": " + link + " is a file, not a folder");
        assertTrue(Files.readString(file).equals("mine") && !Files.exists(dir.resolve("sub")));
        Path fresh = dir.resolve("new/deeper");
        CommandFiles ok = new CommandFiles(false).outputsIn("--out", fresh, List.of("a.npz"));
        ok.check();
        assertTrue(!Files.exists(fresh), "the check makes nothing");
        ok.makeFolders();
        assertTrue(Files.isDirectory(fresh));
        // /proc takes no new folders, not even root's (the CI runs as root, which writes into read-only folders)
        assertTrue(Files.isDirectory(Path.of("/proc")), "a Linux /proc");
        Path virtual = Path.of("/proc/hbp-command-files-test/run");
        CommandFiles refusedByFs = new CommandFiles(false).outputsIn("--out", virtual, List.of("a.npz"));
        refusedByFs.check();
        UserError e = assertThrows(UserError.class, refusedByFs::makeFolders);
        assertTrue(e.getMessage().startsWith("--out " + virtual + ": cannot write into this folder (") && e.getMessage().lines().count() == 1,
                e.getMessage());
        // an existing folder that takes no files: refused by the probe file
        UserError existing = assertThrows(UserError.class, new CommandFiles(false).outputsIn("--out", Path.of("/proc"), List.of("a.npz"))::makeFolders);
        assertTrue(existing.getMessage().startsWith("--out /proc: cannot write into this folder ("), existing.getMessage());
        // a run that fails after making its folders removes them where they are still empty, and leaves the probe nowhere
        Path fresh2 = dir.resolve("made/a/b"), kept = dir.resolve("made2/c");
        CommandFiles two = new CommandFiles(false).outputsIn("--out", fresh2, List.of("x.npz")).outputsIn("--dir", kept, List.of("y.npz"));
        two.check();
        two.makeFolders();
        Files.writeString(kept.resolve("y.npz"), "written");
        two.removeMadeFolders();
        assertTrue(!Files.exists(dir.resolve("made")), "the empty folders made are gone");
        assertTrue(Files.exists(kept.resolve("y.npz")), "a folder with a file in it stays");
        try (var left = Files.list(fresh.getParent())) {
            assertTrue(left.noneMatch(q -> q.getFileName().toString().startsWith(".hbp-probe")), "no probe left");
        }
    }
}
