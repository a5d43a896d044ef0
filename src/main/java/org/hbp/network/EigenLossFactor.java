package org.hbp.network;

import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/** {@link LossFactorColumns#eigen()}: {@code S_n = Q_n sqrt(max(Λ_n, 0))}, on the host per sample. */
final class EigenLossFactor implements LossFactorColumns {
  static final EigenLossFactor INSTANCE = new EigenLossFactor();

  private EigenLossFactor() {}

  @Override
  public Batch columns(Pass pass) {
    Network net = pass.net;
    Backend be = net.be;
    int[] item = net.loss.op.itemShape(net.loss.input);
    int d = item[0] * item[1], n = pass.samples;
    Batch h = net.loss.op.hessian(pass.lossCache, net.loss.input);
    double[] hs = be.toArray(h);
    be.release(h);
    boolean shared = hs.length == d * d; // a Hessian that does not depend on the sample (square loss)
    double[] s = new double[n * d * d];
    for (int k = 0; k < n; k++) {
      SymmetricEigen e = SymmetricEigen.of(hs, shared ? 0 : k * d * d, d, "the loss Hessian of sample " + k);
      // direction c of sample k is column c of S_k: q_c sqrt(max(λ_c, 0))
      for (int c = 0; c < d; c++) {
        double root = Math.sqrt(Math.max(e.values()[c], 0));
        for (int i = 0; i < d; i++) s[(k * d + c) * d + i] = e.q().get(i, c) * root;
      }
    }
    return be.fromArray(n, d, item[0], item[1], s);
  }
}
