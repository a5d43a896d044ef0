package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * hbp generate refuses empty input as derive and verify do (exit 2, one line naming the folder or
 * file and what was expected), for both targets, and writes nothing: an empty folder, an empty
 * .hbp file, a file that declares only a network. These once wrote empty packages with exit 0.
 */
class GenerateEmptyInputCliTest {
  @TempDir Path dir;

  private void assertRefused(Path specs, String message) {
    for (String target : new String[] {"java", "pytorch"}) {
      Path out = dir.resolve("out-" + target);
      CliRun r = hbp("generate", "--target", target, "--specs", specs.toString(), "--out", out.toString());
      r.assertExit(2);
      r.assertNoStackTrace();
      assertEquals("hbp: " + specs + ": " + message, r.err().strip(), target);
      assertFalse(Files.exists(out), target + ": nothing is written");
    }
  }

  @Test
  void anEmptyFolder() throws Exception {
    assertRefused(Files.createDirectories(dir.resolve("empty")), "no .hbp spec files in this folder");
  }

  @Test
  void anEmptyFile() throws Exception {
    Path f = Files.writeString(dir.resolve("e.hbp"), "");
    assertRefused(f, "no module or loss to generate (the file declares none; expected 'module NAME { ... }' or 'loss NAME { ... }')");
  }

  @Test
  void aFolderOfNetworksOnly() throws Exception {
    Path d = Files.createDirectories(dir.resolve("nets"));
    Files.writeString(d.resolve("n.hbp"), "network a {\n  input x: vector(4);\n  linear(m = 2);\n  loss crossentropy;\n}\n");
    assertRefused(d, "no module or loss to generate (its spec files declare only networks; expected 'module NAME { ... }' or 'loss NAME { ... }')");
    assertRefused(d.resolve("n.hbp"),
        "no module or loss to generate (the file declares only networks; expected 'module NAME { ... }' or 'loss NAME { ... }')");
  }
}
