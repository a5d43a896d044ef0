package org.hbp.examples;

import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.CurvatureKind;
import org.hbp.network.ResidualPolicy;
import org.hbp.runtime.BuiltInOperators;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;

/** The PCH-abs residual of the gated unit z = (W1*x) .* sigmoid(W2*x) with respect to x (README, "Generated operators"). */
public final class GatedPchExample {
  private GatedPchExample() {}

  /** The 4x4 PSD residual of each of 2 samples, as {@link Backend#toArray} lays it out (sample 1's matrix, then sample 2's; column-major). */
  public static double[] pchResidual() {
    Backend be = new CpuBackend();
    ModuleOperator gated = BuiltInOperators.module("gated", be, Map.of("n", 4, "m", 3));
    // fromArray(samples, directions, rows, cols, entries): each item column-major, items sample by sample
    Batch x = be.fromArray(2, 1, 4, 1, new double[] {0.5, -1, 2, 0, /* sample 2: */ 1, 0.3, -0.7, 1.5});
    Batch w1 = be.fromArray(1, 1, 3, 4, new double[] {   // 1 sample: one 3x4 matrix shared by all samples
        0.2, -0.1, 0.4, /* column 2: */ 0.3, 0.5, -0.2, /* column 3: */ -0.6, 0.1, 0.2, /* column 4: */ 0.1, 0.3, -0.4});
    Batch w2 = be.fromArray(1, 1, 3, 4, new double[] {0.7, 0.2, -0.3, -0.5, 0.4, 0.1, 0.2, -0.8, 0.6, 0.3, 0.1, -0.2});
    Batch dz = be.fromArray(2, 1, 3, 1, new double[] {1, -2, 0.5, /* sample 2: */ 0.3, 1, -1});   // gradient flowing into z
    ForwardCache c = gated.forward(Map.of("x", x, "W1", w1, "W2", w2));
    Batch pch = ResidualPolicy.of(CurvatureKind.PCH_ABS).dense(gated, c, "x", dz);   // [2 samples] 4x4, PSD
    return be.toArray(pch);
  }

  public static void main(String[] args) {
    System.out.println(java.util.Arrays.toString(pchResidual()));
  }
}
