package org.hbp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PyTorch references run in one Python process ({@code worker.py}, {@link ExternalTools#runTorchScript}):
 * each script must write what it writes when started alone. The scripts below change the state a process
 * keeps: layer_steps.py imports layer_blocks.py, which imports network_products.py, which does its work when
 * imported (a worker that kept the modules would skip it the second time); each sets torch's seed and its
 * default dtype to float64, and onnx_classifier.py, run after them, needs the float32 default of a new process
 * (its exported model's weights are float32). Every file they write is compared: .npz arrays entry by entry
 * (the archives hold their time of writing), other files byte by byte.
 */
class TorchWorkerTest {
  @TempDir Path dir;

  /** A script, its output folder's name, and its arguments, OUT for the folder. */
  private static final List<List<String>> RUNS = List.of(
      List.of("layer_steps.py", "steps", "fc", "OUT", "0.3"),
      List.of("layer_blocks.py", "blocks", "cnn", "OUT"),
      List.of("network_products.py", "products", "fc", "OUT"),
      List.of("kfac_reference.py", "kfac", "cnn", "OUT"),
      List.of("onnx_classifier.py", "classifier", "OUT", "6", "5", "4"),
      List.of("onnx_check.py", "onnx", "OUT", "mlp"));

  @Test
  void eachScriptWritesInTheWorkerWhatItWritesAlone() throws Exception {
    for (String where : new String[] {"worker", "alone"})
      for (List<String> run : RUNS) {
        Path out = Files.createDirectories(dir.resolve(where).resolve(run.get(1)));
        String[] args = run.subList(2, run.size()).stream().map(a -> a.equals("OUT") ? out.toString() : a).toArray(String[]::new);
        if (where.equals("worker")) ExternalTools.runTorchScript(run.get(0), args);
        else ExternalTools.runTorchScriptAlone(run.get(0), args);
      }
    int arrays = 0;
    for (List<String> run : RUNS) {
      Path worker = dir.resolve("worker").resolve(run.get(1)), alone = dir.resolve("alone").resolve(run.get(1));
      List<Path> files;
      try (Stream<Path> s = Files.list(alone)) {
        files = s.sorted().toList();
      }
      try (Stream<Path> s = Files.list(worker)) {
        assertEquals(files.stream().map(Path::getFileName).toList(), s.sorted().map(Path::getFileName).toList(), run + ": the files written");
      }
      assertTrue(!files.isEmpty(), run + " wrote nothing");
      for (Path f : files) {
        if (!f.toString().endsWith(".npz")) {
          assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(worker.resolve(f.getFileName())), run + " " + f.getFileName());
          continue;
        }
        Map<String, NdArray> want = Npz.read(f), got = Npz.read(worker.resolve(f.getFileName()));
        assertEquals(want.keySet(), got.keySet(), run + " " + f.getFileName());
        for (String key : want.keySet()) {
          String what = run + " " + f.getFileName() + " " + key;
          assertArrayEquals(want.get(key).shape(), got.get(key).shape(), what);
          assertArrayEquals(want.get(key).data(), got.get(key).data(), 0, what); // bitwise: same process state
          arrays++;
        }
      }
    }
    assertTrue(arrays > 20, arrays + " arrays compared");
  }

  @Test
  void aFailingScriptFailsWithItsTracebackAndTheNextRuns() throws Exception {
    AssertionError e = assertThrows(AssertionError.class,
        () -> ExternalTools.runTorchScript("network_products.py", "nosuchnet", dir.toString()));
    assertTrue(e.getMessage().contains("network_products.py") && e.getMessage().contains("KeyError: 'nosuchnet'"), e.getMessage());
    ExternalTools.runTorchScript("network_products.py", "fc", dir.toString());
    assertTrue(Files.exists(dir.resolve("ref.npz")));
  }
}
