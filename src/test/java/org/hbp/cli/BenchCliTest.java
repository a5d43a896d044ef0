package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code hbp bench} runs every measurement and writes its JSON (what it measures is not asserted: no timed tests). */
class BenchCliTest {
  @TempDir Path dir;

  @Test
  void benchRunsEveryPassOnEveryBackendAndWritesJson() throws Exception {
    for (String backend : new String[] {"cpu", "blas-f64", "blas-f32"}) {
      Path json = dir.resolve(backend + ".json");
      StringWriter out = new StringWriter(), err = new StringWriter();
      int code = Main.execute(new String[] {"bench", "--net", "networks/resnet.hbp", "--batch", "4", "--backend", backend, "--repeat", "1", "--warmup",
          "0", "--directions", "1,2", "--out", json.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
      assertEquals(0, code, out + "\n" + err);
      String o = out.toString();
      for (String what : new String[] {"gradient pass", "exact products, all blocks, 2 directions", "curvature pass kfra", "curvature pass bda",
          "bda products, all blocks, 1 direction"})
        assertTrue(o.contains(what), backend + " prints " + what + ":\n" + o);
      String j = Files.readString(json);
      assertTrue(j.contains("\"backend\": \"" + backend + "\""), j);
      assertTrue(j.contains("\"what\": \"kfra products, all blocks, 2 directions\""), j);
    }
  }

  @Test
  void refusedStrategiesAreReportedNotFatal() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--net", "networks/resnet.hbp", "--batch", "2", "--repeat", "1", "--warmup", "0", "--strategies",
        "kfra", "--directions", "1", "--memory-limit", "0.0000001"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().matches("(?s).*curvature pass kfra\\s+refused: layer 0 \\(linear\\): the explicit batch-averaged Hessian.*"), out.toString());
  }

  @Test
  void unknownBackendIsAClearError() {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--backend", "cuda"}, new PrintWriter(out, true), new PrintWriter(err, true));
    assertEquals(2, code);
    assertEquals("hbp: unknown backend 'cuda'; expected one of [cpu, blas-f64, blas-f32, opencl-f32, opencl-f64]\n", err.toString());
  }
}
