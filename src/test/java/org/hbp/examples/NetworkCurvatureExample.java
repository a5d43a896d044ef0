package org.hbp.examples;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.network.ConjugateGradient;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.NetworkSpec;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.hbp.network.TorchLayout;

/** Curvature of a network from Java (README, "Curvature of networks"): a Hessian block product and a damped Newton step. */
public final class NetworkCurvatureExample {
  private NetworkCurvatureExample() {}

  /** What the example computes for the first layer's weight "0.W" (each as {@code toArray} lays it out: column-major). */
  public record Result(double loss, double[] gradient, double[] direction, double[] hessianTimesDirection, double[] newtonStep, boolean cgConverged) {}

  /** {@code dir} holds params.npz and batch.npz, exported from PyTorch as the README shows. */
  public static Result run(Path dir) throws IOException {
    NetworkSpec spec = NetworkResolver.load(Path.of("networks/resnet.hbp"), null, ModuleLibrary.builtInSpecDirs());
    Network net = new Network(spec, ModuleLibrary.forSpecs(), new CpuBackend());
    TorchLayout io = new TorchLayout(net);
    Map<String, Batch> params = io.parameters(Npz.read(dir.resolve("params.npz")), "params.npz");
    Map<String, NdArray> b = Npz.read(dir.resolve("batch.npz"));                  // x: [N, 16]; y: [N] class indices
    Batch x = io.inputs(b.get("x"), "batch.npz"), y = io.targets(b.get("y"), x.samples(), "batch.npz");
    Pass pass = net.run(params, x, y);                                              // loss(), gradient(name)
    int[] shape = net.parameterShape("0.W");                                        // {32, 16}: linear(m = 32) of 16 features
    double[] entries = new double[shape[0] * shape[1]];
    for (int i = 0; i < entries.length; i++) entries[i] = Math.sin(i);
    Batch v = net.backend().fromArray(1, 1, shape[0], shape[1], entries);           // one direction in the parameter's shape
    Curvature h = pass.curvature(CurvatureKind.HESSIAN, Strategy.EXACT);           // exact, kfra, bda
    Batch hv = h.matProd("0.W", v);                                                 // the Hessian block of 0.W times v
    Curvature c = pass.curvature(CurvatureKind.PCH_ABS, Strategy.BDA);             // hessian, ggn, pch-abs, pch-clip
    ConjugateGradient.Result step = ConjugateGradient.solve(net.backend(), u -> c.matProd("0.W", u), 0.02,
        net.backend().scale(pass.gradient("0.W"), -1), ConjugateGradient.Settings.defaults());  // [0.02 I + 0.98 C] d = -g
    Result r = new Result(pass.loss(), net.backend().toArray(pass.gradient("0.W")), entries, net.backend().toArray(hv),
        net.backend().toArray(step.solution()), step.converged());
    pass.close();   // frees what the pass computed (native memory with the BLAS backends): use nothing of it afterwards
    return r;
  }

  public static void main(String[] args) throws IOException {
    Result r = run(Path.of(args.length > 0 ? args[0] : "."));
    System.out.println("loss " + r.loss() + ", CG converged: " + r.cgConverged());
  }
}
