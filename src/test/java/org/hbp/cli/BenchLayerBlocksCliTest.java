package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code hbp bench --blocks}: per-layer joint blocks' products beside or instead of the
 * per-parameter ones (no timings asserted), and the one-line refusals; the FLOP count of the
 * per-layer products against the per-parameter count it halves the trips of.
 */
class BenchLayerBlocksCliTest {
  private static String[] bench(String... more) {
    String[] base = {"bench", "--net", "networks/resnet.hbp", "--batch", "3", "--repeat", "1", "--warmup", "0", "--directions", "1,2"};
    String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  @Test
  void timesLayerBlocksBesideOrInsteadOfParameterBlocks() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(bench("--strategies", "exact", "--blocks", "parameter,layer", "--curvature", "hessian"), new PrintWriter(out, true),
        new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    for (String row : List.of("exact products, layer blocks, 1 direction", "exact products, layer blocks, 2 directions",
        "exact products, all blocks, 2 directions"))
      assertTrue(out.toString().contains(row), row + ":\n" + out);
    out = new StringWriter();
    code = Main.execute(bench("--strategies", "exact", "--blocks", "layer"), new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("exact products, layer blocks, 2 directions"), out.toString());
    assertFalse(out.toString().contains("exact products, all blocks"), out.toString());
  }

  @Test
  void refusesLayerBlocksWhereTheyAreNotDefined() {
    for (String[] args : List.of(bench("--blocks", "layer"), bench("--strategies", "exact", "--blocks", "layer", "--curvature", "pch-abs"),
        bench("--strategies", "exact", "--blocks", "layers"))) {
      StringWriter out = new StringWriter(), err = new StringWriter();
      int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
      String e = err.toString().strip();
      assertTrue(code != 0 && e.contains("--blocks") && e.lines().count() == 1, String.join(" ", args) + ": " + e);
    }
    StringWriter err = new StringWriter();
    Main.execute(bench("--blocks", "layer"), new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
    assertTrue(err.toString().contains("--strategies exact only, not kfra"), err.toString());
  }

  /** 4 sum_k k f_k against 4 sum_k (2k - 1) f_k: on three layers of equal size f, 24 f against 36 f. */
  @Test
  void theFlopCountOfLayerBlocks() {
    assertEquals(4.0 * (1 * 10 + 2 * 20 + 3 * 30), ProductFlops.exactLayerBlocksPerColumn(List.of(10L, 20L, 30L)));
    assertEquals(24.0, ProductFlops.exactLayerBlocksPerColumn(List.of(1L, 1L, 1L)));
    assertEquals(36.0, ProductFlops.exactBlocksPerColumn(List.of(1L, 1L, 1L)));
  }
}
