package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp experiment}'s refusals of options that would select nothing or the wrong data, each in
 * one line before anything is loaded or trained, and a help that names the data it takes.
 */
class ExperimentOptionsCliTest {
  @TempDir Path dir;

  private static final String FIG5 = "(its configurations: SGD, Adam, CG-Newton GGN, alpha 1e-4, CG-Newton GGN, alpha 1e-3, CG-Newton PCH-abs, "
      + "CG-Newton PCH-clip)";

  @Test
  void onlyEntriesThatSelectNothingAreRefused() {
    Path out = dir.resolve("exp");
    CliRun r = hbp("experiment", "fig5", "--only", "GGN,nope", "--out", out.toString());
    r.assertExit(2);
    assertEquals("hbp: --only 'nope' matches no configuration of fig5 " + FIG5, r.err().strip());
    r = hbp("experiment", "fig5", "--only", "", "--out", out.toString());
    r.assertExit(2);
    assertEquals("hbp: --only has an empty entry; name configurations of fig5 " + FIG5, r.err().strip());
    r = hbp("experiment", "fig5", "--only", "SGD,", "--out", out.toString());
    r.assertExit(2);
    assertEquals("hbp: --only has an empty entry; name configurations of fig5 " + FIG5, r.err().strip());
    assertFalse(Files.exists(out));
  }

  @Test
  void dataTheNetsCannotTrainOnIsRefusedAndTheHelpSaysWhatIsTaken() {
    Path out = dir.resolve("exp");
    for (String d : new String[] {"cifar10:" + dir, "sequences", "mnist"}) {
      CliRun r = hbp("experiment", "fig4", "--data", d, "--out", out.toString());
      r.assertExit(2);
      assertEquals("hbp: --data '" + d + "': an experiment trains its Fashion-MNIST nets on fashion-mnist, fashion-mnist:DIR, synthetic or "
          + "synthetic:TRAIN,TEST", r.err().strip());
    }
    assertFalse(Files.exists(out));
    CliRun help = hbp("experiment", "--help");
    help.assertExit(0);
    String flat = help.out().replaceAll("\\s+", " ");
    assertTrue(flat.contains("fashion-mnist (default), fashion-mnist:DIR, or synthetic[:TRAIN,TEST]"), help.out());
  }
}
