package com.example;

import com.example.ops.SoftsignLayerOperator;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ResidualPolicy;
import org.hbp.runtime.ForwardCache;

/** Uses the operator that `hbp generate --specs my-specs --package com.example.ops` wrote (README, "Authoring a new module"). */
public final class SoftsignExample {
  private SoftsignExample() {}

  /** For x of 2 samples of 3 entries and dz: {dx, |residual diagonal|}, each as toArray lays it out (sample 1, then sample 2). */
  public static double[][] run() {
    Backend be = new CpuBackend();
    SoftsignLayerOperator op = new SoftsignLayerOperator(be, Map.of("n", 3));
    Batch x = be.fromArray(2, 1, 3, 1, new double[] {-2, 0.5, 1, /* sample 2: */ 3, -1, 0});   // 2 samples of vector(3)
    Batch dz = be.fromArray(2, 1, 3, 1, new double[] {1, -1, 2, /* sample 2: */ 0.5, 1, -3});  // gradient flowing into z
    ForwardCache c = op.forward(Map.of("x", x));
    Batch dx = op.backward(c, "x", dz);                                              // softsign'(x) .* dz
    Batch r = ResidualPolicy.of(CurvatureKind.PCH_ABS).diagonal(op, c, "x", dz);     // |dz .* softsign''(x)|
    return new double[][] {be.toArray(dx), be.toArray(r)};
  }

  public static void main(String[] args) {
    double[][] r = run();
    System.out.println(java.util.Arrays.toString(r[0]) + " " + java.util.Arrays.toString(r[1]));
  }
}
