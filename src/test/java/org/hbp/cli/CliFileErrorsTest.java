package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File paths given to flags: one line naming the path and saying what was expected, exit status 2. */
class CliFileErrorsTest {
  @TempDir Path dir;

  private CliRun derive(String at, String out) {
    return hbp("derive", "-e", "x'*x", "--var", "x:vector(n)", "--wrt", "x", "--at", "x=" + at, "--out", out);
  }

  @Test
  void atADirectorySaysANpyFileWasExpected() throws Exception {
    Path d = Files.createDirectory(dir.resolve("adir"));
    CliRun r = derive(d.toString(), dir.resolve("o.npy").toString());
    assertEquals(2, r.code());
    assertEquals("hbp: " + d + ": is a directory; expected a .npy file\n", r.err());
  }

  @Test
  void outThatIsADirectoryOrTheRootIsNamed() throws Exception {
    Path v = dir.resolve("v.npy");
    Npy.write(v, NdArray.of(new double[] {1, 2, 3}, 3));
    CliRun r = derive(v.toString(), "/");
    assertEquals(2, r.code());
    assertEquals("hbp: cannot write /: it is a directory (expected a file path)\n", r.err());
    r = derive(v.toString(), dir.toString());
    assertEquals("hbp: cannot write " + dir + ": it is a directory (expected a file path)\n", r.err());
  }

  @Test
  void outThroughALinkToADeviceIsRefusedAndTheLinkKept() throws Exception {
    Path v = dir.resolve("v.npy");
    Npy.write(v, NdArray.of(new double[] {1, 2, 3}, 3));
    Path link = Files.createSymbolicLink(dir.resolve("full.npy"), Path.of("/dev/null"));
    CliRun r = derive(v.toString(), link.toString());
    assertEquals("hbp: cannot write " + link + " (a link to /dev/null): it is a character device, not a regular"
        + " file; refusing to replace it (expected a regular file or a new path)\n", r.err());
    assertTrue(Files.isSymbolicLink(link));
  }

  @Test
  void aHugeShapeInATinyFileIsRefusedAsTruncated() throws Exception {
    Path big = dir.resolve("big.npy");
    String h = "{'descr': '<f8', 'fortran_order': False, 'shape': (46340, 46340), }";
    h = h + " ".repeat(117 - h.length()) + "\n";
    byte[] head = h.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    b.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) head.length, 0});
    b.write(head);
    b.write(new byte[64]);
    Files.write(big, b.toByteArray());
    CliRun r = derive(big.toString(), dir.resolve("o.npy").toString());
    assertEquals("hbp: " + big + ": truncated data: expected 17179164800 bytes (2147395600 x <f8 for shape [46340,"
        + " 46340]), found 64\n", r.err());
  }

  /** Before: "hbp: afile" (a FileAlreadyExistsException's bare path). */
  @Test
  void trainOutAnExistingFileSaysWhatIsWrong() throws Exception {
    Path afile = Files.writeString(dir.resolve("afile"), "keep");
    CliRun r = hbp("train", "--net", "networks/fc.hbp", "--data", "synthetic:10,10", "--batch", "5", "--epochs", "1",
        "--backend", "cpu", "--out", afile.toString());
    r.assertExit(2);
    assertEquals("hbp: " + afile + " is not a folder; --out names the run folder", r.err().strip());
    assertEquals("keep", Files.readString(afile));
  }
}
