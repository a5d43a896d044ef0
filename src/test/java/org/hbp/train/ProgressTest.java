package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** The progress bar's drawing: a shorter line leaves no stale characters; logs get plain lines. */
class ProgressTest {
  /** What a terminal shows on its last line after {@code written}: {@code \r} returns to column 0, characters overwrite. */
  static String screen(String written) {
    String last = written.substring(written.lastIndexOf('\n') + 1);
    StringBuilder line = new StringBuilder();
    int column = 0;
    for (char c : last.toCharArray()) {
      if (c == '\r') {
        column = 0;
        continue;
      }
      if (column < line.length()) line.setCharAt(column, c);
      else line.append(c);
      column++;
    }
    return line.toString();
  }

  @Test
  void redrawPadsOverTheLongerLineBefore() {
    assertEquals("\rETA 0:14  ", Progress.redraw(10, "ETA 0:14"));
    assertEquals("\rETA 1:46:00", Progress.redraw(8, "ETA 1:46:00"));
    assertEquals("\rabc", Progress.redraw(0, "abc"));
    // the reported case: "ETA 0:146" was "ETA 0:14" drawn over "ETA 1:46"'s longer line
    assertEquals("ETA 0:14", screen("\rloss 0.1  ETA 1:46:00" + Progress.redraw(21, "loss 0.1  ETA 0:14")).strip().replace("loss 0.1  ", ""));
  }

  @Test
  void aBarThatShortensLeavesOnlyItsNewLineOnTheTerminal() throws Exception {
    StringWriter w = new StringWriter();
    Progress bar = Progress.steps(new PrintWriter(w, true), true, "bench", 3);
    bar.step(0, "kfra products, all blocks, 10 directions: warm-up 1/2");
    Thread.sleep(250); // the bar redraws at most five times a second
    bar.step(1, "bda: run 1/5");
    String shown = screen(w.toString());
    assertTrue(shown.stripTrailing().matches("bench \\[#{8}\\.{16}\\]  33% 1/3  bda: run 1/5  ETA \\d+:\\d\\d"), "'" + shown + "'");
    assertFalse(shown.contains("directions"), "stale characters of the longer line: '" + shown + "'");
    assertTrue(Progress.lineOpen());
    bar.close();
    assertFalse(Progress.lineOpen());
    assertTrue(w.toString().endsWith("\n"));
  }

  @Test
  void clearBlanksTheLineForOtherOutput() {
    StringWriter w = new StringWriter();
    Progress bar = Progress.steps(new PrintWriter(w, true), true, "verify", 2);
    bar.step(0, "modules-spec/linear.hbp");
    bar.clear();
    assertEquals("", screen(w.toString()).strip());
    assertFalse(Progress.lineOpen());
  }

  @Test
  void inALogAStepBarPrintsALinePerStepAndTheEpochBarQuarters() {
    StringWriter w = new StringWriter();
    Progress steps = Progress.steps(new PrintWriter(w, true), false, "verify", 3);
    for (int i = 0; i < 3; i++) {
      steps.step(i, "spec " + i);
      steps.step(i, "spec " + i + " again"); // same step: no new line
    }
    steps.step(3, "done");
    assertEquals(4, w.toString().lines().count(), w.toString());
    assertFalse(w.toString().contains("\r"));
    assertTrue(w.toString().lines().findFirst().orElseThrow().startsWith("verify [........................]   0% 0/3  spec 0  ETA ?"), w.toString());

    StringWriter e = new StringWriter();
    Progress epoch = new Progress(new PrintWriter(e, true), false, "epoch 1/1", 100);
    for (int i = 1; i <= 100; i++) epoch.update(i, 0.5, 10L * i);
    assertEquals(4, e.toString().lines().count(), e.toString());
  }

  @Test
  void aLineFitsTheTerminalWidthBarFirstThenCut() {
    Progress bar = Progress.steps(new PrintWriter(new StringWriter()), true, "bench", 4);
    String tail = "exact products, all blocks, 10 directions: run 2/5  ETA 1:05";
    String full = bar.fit(1, tail, 0);
    assertEquals("bench [######..................]  25% 1/4  " + tail, full);
    assertEquals(full, bar.fit(1, tail, full.length() + 1), "fits as it is");
    String narrower = bar.fit(1, tail, full.length() - 9);
    assertEquals("bench [###...........]  25% 1/4  " + tail, narrower); // a bar of 24 - 10 = 14
    String cut = bar.fit(1, tail, 60);
    assertEquals(59, cut.length());
    assertEquals("bench [##......]  25% 1/4  exact products, all blocks, 10 d", cut); // the narrowest bar, then 59 characters
  }

  @Test
  void noneDrawsNothing() {
    Progress none = Progress.none();
    none.step(0, "x");
    none.clear();
    none.close();
    assertFalse(Progress.lineOpen());
  }
}
