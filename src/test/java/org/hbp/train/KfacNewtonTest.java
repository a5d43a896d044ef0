package org.hbp.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.network.Curvature;
import org.hbp.network.CurvatureKind;
import org.hbp.network.KfacOptions;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.Pass;
import org.hbp.network.Strategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --optimizer kfac}: eq. 10 with a Kronecker-factored block solved in closed form. */
class KfacNewtonTest {
  @TempDir Path dir;
  private final Backend be = new CpuBackend();

  private Network net() throws Exception {
    Path f = dir.resolve("small.hbp");
    Files.writeString(f, "network small {\n  input x: vector(6);\n  linear(m = 5);\n  sigmoid;\n  linear(m = 3);\n  loss crossentropy;\n}\n");
    return new Network(NetworkResolver.load(f, null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), be);
  }

  private Pass pass(Network net, Map<String, Batch> p) {
    Random rng = new Random(5);
    double[] x = rng.doubles(8 * 6, -1, 1).toArray(), y = new double[8 * 3];
    for (int i = 0; i < 8; i++) y[i * 3 + rng.nextInt(3)] = 1;
    return net.run(p, be.fromArray(8, 1, 6, 1, x), be.fromArray(8, 1, 3, 1, y));
  }

  /**
   * One step moves every parameter by {@code -γ [α I + (1 - α) C]^-1 g}, C the strategy's dense block,
   * solved here by EJML; with α = 1 it is a gradient step.
   */
  @Test
  void aStepIsTheDampedNewtonStepOfTheDenseBlock() throws Exception {
    Network net = net();
    for (Strategy st : new Strategy[] {Strategy.KFLR, Strategy.EKFAC, Strategy.KFAC})
      for (double alpha : new double[] {0.3, 1}) {
        Map<String, Batch> p = Initialization.xavierNormal(net, 2), before = new LinkedHashMap<>(p);
        Pass pass = pass(net, p);
        KfacOptions options = KfacOptions.defaults().withSeed(9);
        Curvature c = Curvature.of(pass, CurvatureKind.GGN, st, options, 1L << 30);
        new KfacNewton(net, new KfacNewton.Settings(0.4, alpha, st, options, 1L << 30)).step(pass, p);
        for (String name : net.parameterNames()) {
          int n = net.parameterSize(name);
          double[] dense = be.toArray(c.dense(name, 1, 1L << 30)), g = be.toArray(pass.gradient(name));
          DMatrixRMaj m = new DMatrixRMaj(n, n), rhs = new DMatrixRMaj(n, 1), d = new DMatrixRMaj(n, 1);
          for (int i = 0; i < n; i++) {
            rhs.set(i, -g[i]);
            for (int j = 0; j < n; j++) m.set(i, j, (1 - alpha) * dense[i + n * j] + (i == j ? alpha : 0));
          }
          assertTrue(CommonOps_DDRM.solve(m, rhs, d));
          double[] old = be.toArray(before.get(name)), now = be.toArray(p.get(name));
          for (int i = 0; i < n; i++) assertEquals(old[i] + 0.4 * d.get(i), now[i], 1e-10, st + " alpha " + alpha + " " + name + "[" + i + "]");
        }
      }
  }

  /**
   * With diag-hessian a step is {@code -γ g / (α + (1 - α) h)} entrywise, h the Hessian's diagonal, here by central
   * differences of the gradient (independent of the HBP diagonal the step uses).
   */
  @Test
  void aDiagonalHessianStepDividesByTheDampedHessianDiagonal() throws Exception {
    Network net = net();
    Map<String, Batch> p = Initialization.xavierNormal(net, 3), before = new LinkedHashMap<>(p);
    double alpha = 0.5, gamma = 0.4, h = 1e-5;
    Pass pass = pass(net, p);
    Map<String, double[]> g = new LinkedHashMap<>();
    for (String name : net.parameterNames()) g.put(name, be.toArray(pass.gradient(name)));
    new KfacNewton(net, new KfacNewton.Settings(gamma, alpha, Strategy.DIAG_HESSIAN, KfacOptions.defaults(), 1L << 30)).step(pass, p);
    for (String name : net.parameterNames()) {
      double[] theta = be.toArray(before.get(name)), old = theta.clone(), now = be.toArray(p.get(name));
      for (int i = 0; i < theta.length; i++) {
        double[] grad = new double[2];
        for (int side = 0; side < 2; side++) {
          double[] shifted = old.clone();
          shifted[i] += side == 0 ? h : -h;
          Map<String, Batch> q = new LinkedHashMap<>(before);
          Batch b = before.get(name);
          q.put(name, be.fromArray(b.samples(), b.directions(), b.rows(), b.cols(), shifted));
          grad[side] = be.toArray(pass(net, q).gradient(name))[i];
        }
        double hii = (grad[0] - grad[1]) / (2 * h);
        assertEquals(old[i] - gamma * g.get(name)[i] / (alpha + (1 - alpha) * hii), now[i], 1e-7, name + "[" + i + "], h_ii " + hii);
      }
    }
  }

  @Test
  void refusesAStrategyWithoutAClosedFormInverse() {
    UserError e = assertThrows(UserError.class, () -> new KfacNewton.Settings(0.1, 0.1, Strategy.BDA, KfacOptions.defaults(), 1L << 30));
    assertTrue(e.getMessage().contains("use --strategy kfac, kflr, ekfac, diag-ggn, diag-ggn-mc or diag-hessian, not bda"), e.getMessage());
  }
}
