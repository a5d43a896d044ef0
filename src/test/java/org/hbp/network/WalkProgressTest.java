package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.dsl.Dsl;
import org.junit.jupiter.api.Test;

/**
 * The diagonals report their walk to a {@link WalkProgress}: one unit per layer per chunk of
 * samples, never backwards, each chunk starting at {@code chunk x layers}, the last report at the
 * total; and reporting changes no value.
 */
class WalkProgressTest {
  private record Report(long done, long total, String what) {}

  private static NetworkCurvatureTest.Setup setup(String source) {
    return new NetworkCurvatureTest.Setup(NetworkResolver.resolve(Dsl.parse(source, "net.hbp"), null, NetworkResolver.library(List.of(java.nio.file.Path.of("modules-spec")))), 5, 3, 2);
  }

  /** Checks the reports of a walk over {@code chunks} chunks of a net of {@code layers} layers (all visited). */
  private static void checkReports(List<Report> r, int chunks, int layers) {
    long total = (long) chunks * layers;
    assertEquals(chunks * layers + 1, r.size(), r.toString());
    for (int i = 0; i < r.size(); i++) {
      assertEquals(total, r.get(i).total(), r.toString());
      assertEquals(i, r.get(i).done(), "one unit per layer, in order: " + r);
    }
    assertEquals(new Report(total, total, "done"), r.get(r.size() - 1));
    // the first report of each chunk names the top layer, and says which chunk where there are several
    for (int c = 0; c < chunks; c++) {
      String what = r.get(c * layers).what();
      assertTrue(what.startsWith("layer " + (layers - 1) + " ("), what); // layers are numbered from 0
      assertTrue(chunks == 1 ? !what.contains("chunk") : what.endsWith(", chunk " + (c + 1) + "/" + chunks), what);
    }
  }

  private static void assertSame(Map<String, Batch> a, Map<String, Batch> b, Network net) {
    assertEquals(a.keySet(), b.keySet());
    for (String p : a.keySet()) assertArrayEquals(net.backend().toArray(a.get(p)), net.backend().toArray(b.get(p)), 0, p);
  }

  @Test
  void theGgnDiagonalReportsEachLayerOfEachChunk() {
    NetworkCurvatureTest.Setup s = setup(TorchCrossCheckTest.FC); // 5 layers: linear, sigmoid, linear, tanh, linear
    Pass pass = s.pass();
    List<Report> whole = new ArrayList<>(), chunked = new ArrayList<>();
    Map<String, Batch> a = GgnDiagonal.exact(pass, 5, (d, t, w) -> whole.add(new Report(d, t, w)));
    Map<String, Batch> b = GgnDiagonal.exact(pass, 2, (d, t, w) -> chunked.add(new Report(d, t, w)));
    checkReports(whole, 1, 5);
    checkReports(chunked, 3, 5); // 5 samples in chunks of 2: 3 chunks
    assertSame(GgnDiagonal.exact(pass, 5), a, s.net);
    assertSame(GgnDiagonal.exact(pass, 2), b, s.net);
  }

  @Test
  void theHessianDiagonalReportsEachLayerOfEachChunk() {
    NetworkCurvatureTest.Setup s = setup(TorchCrossCheckTest.FC);
    Pass pass = s.pass();
    List<Report> r = new ArrayList<>();
    Map<String, Batch> d = HessianDiagonal.exact(pass, 1L << 30, 3, (done, t, w) -> r.add(new Report(done, t, w)));
    checkReports(r, 2, 5);
    assertSame(HessianDiagonal.exact(pass, 1L << 30, 3), d, s.net);
  }

  /** A graph (a skip connection joined by concatenation): each layer with parameters once per chunk, in order, ending at the total. */
  @Test
  void aGraphsDiagonalsReportWithinEachChunk() {
    NetworkCurvatureTest.Setup s = setup(GraphKfacTorchCheckTest.SKIPCAT);
    Pass pass = s.pass();
    int layers = s.net.layers().size();
    for (boolean hessian : new boolean[] {false, true}) {
      List<Report> r = new ArrayList<>();
      WalkProgress record = (d, t, w) -> r.add(new Report(d, t, w));
      Map<String, Batch> d = hessian ? HessianDiagonal.exact(pass, 1L << 30, 2, record) : GgnDiagonal.exact(pass, 2, record);
      long total = 3L * layers; // 5 samples in chunks of 2
      assertEquals(new Report(total, total, "done"), r.get(r.size() - 1));
      for (int i = 0; i + 1 < r.size(); i++) {
        assertEquals(total, r.get(i).total());
        assertTrue(r.get(i).done() < r.get(i + 1).done(), "every unit once, in order: " + r);
      }
      for (int c = 0; c < 3; c++) {
        int chunk = c;
        long inChunk = r.stream().filter(x -> x.done() >= chunk * layers && x.done() < (chunk + 1) * layers).count();
        assertTrue(inChunk >= 2, "the chunk's layers with parameters: " + r);
      }
      assertSame(hessian ? HessianDiagonal.exact(pass, 1L << 30, 2) : GgnDiagonal.exact(pass, 2), d, s.net);
    }
  }
}
