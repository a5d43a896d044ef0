package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.Pass;
import org.hbp.network.TorchLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code hbp bench --net model.onnx} reads the model as curvature does ({@link NetworkFileOptions}): its
 * initializers as the parameters and its batch norms' running statistics as data values, in hbp and in
 * the PyTorch program of {@code --torch}. The model (src/test/resources/torch/onnx_check.py bn2d: two
 * BatchNorm2d with running statistics away from 0 and 1, after a ReLU and after a MaxPool) and its loss
 * come from PyTorch itself.
 */
class BenchOnnxTest {
  @TempDir Path dir;

  @Test
  void benchTorchAgreesWithHbpOnAnOnnxNetWithBatchNorm() throws Exception {
    org.hbp.ExternalTools.runTorchScript("onnx_check.py", dir.toString(), "bn2d");
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.execute(new String[] {"bench", "--net", dir.resolve("model.onnx").toString(), "--loss", "crossentropy", "--batch", "4",
        "--backend", "cpu", "--repeat", "1", "--warmup", "0", "--strategies", "exact", "--directions", "1", "--torch"},
        new PrintWriter(out, true), new PrintWriter(err, true));
    String o = out.toString();
    assertEquals(0, code, o + "\n" + err);
    assertTrue(o.contains("generated code (hbp generate --target pytorch) for batchnorm2d"), o);
    Matcher m = Pattern.compile("PyTorch agrees with hbp: loss (\\S+), gradients (\\S+), exact ggn products \\(1 direction\\) (\\S+) ").matcher(o);
    assertTrue(m.find(), o);
    for (int i = 1; i <= 3; i++) assertTrue(Double.parseDouble(m.group(i)) <= 1e-10, m.group());
  }

  /**
   * The network bench builds from the ONNX file, and the PyTorch program of --torch with its data values, give the
   * loss that the PyTorch model gave on the script's batch (autograd_reference.py), so both use the running statistics.
   */
  @Test
  void benchsNetworkAndItsPytorchProgramGiveThePytorchModelsLoss() throws Exception {
    org.hbp.ExternalTools.runTorchScript("onnx_check.py", dir.toString(), "bn2d");
    NetworkFileOptions options = new NetworkFileOptions();
    options.loss = "crossentropy";
    Backend be = new CpuBackend();
    Network net = new Network(options.load(dir.resolve("model.onnx"), null), ModuleLibrary.forSpecs(), be);
    Map<String, double[]> data = options.bindData(net, null);
    assertEquals(4, data.size(), data.keySet().toString());
    TorchLayout layout = new TorchLayout(net);
    Map<String, Batch> params = layout.parametersOnly(options.parameterArrays(null), "model.onnx");
    Map<String, NdArray> batch = Npz.read(dir.resolve("batch.npz"));
    Batch x = layout.inputs(batch.get("x"), "batch.npz");
    Batch y = layout.targets(batch.get("y"), x.samples(), "batch.npz");
    double torchLoss = Npz.read(dir.resolve("ref.npz")).get("loss").data()[0];
    TorchBench.Run run = TorchBench.run(net, params, x, y, CurvatureKind.GGN, Map.of(), data, "float64", 1, 0, 1);
    assertEquals(torchLoss, run.loss(), 1e-10 * (1 + Math.abs(torchLoss)), "bench --torch's program");
    try (Pass pass = net.run(params, x, y)) {
      assertEquals(torchLoss, pass.loss(), 1e-10 * (1 + Math.abs(torchLoss)), "hbp");
      for (String name : net.parameterNames()) {
        double[] want = be.toArray(pass.gradient(name)), got = run.gradients().get(name);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-10, "gradient " + name + " entry " + i);
      }
    }
  }
}
