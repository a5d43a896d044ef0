package org.hbp.cli;

import org.hbp.network.KfacOptions;
import org.hbp.network.LossFactorColumns;
import picocli.CommandLine.Option;

/** The options of the Monte-Carlo strategies (kfac's and diag-ggn-mc's vectors), shared by {@code curvature}, {@code train} and {@code spectrum}. */
final class KfacOptionsMixin {
  @Option(names = "--mc-samples", defaultValue = "1", paramLabel = "K",
      description = "Monte-Carlo vectors per sample: kfac's for the factor G, diag-ggn-mc's (and curvature's --diagonal mc's) "
          + "(default: ${DEFAULT-VALUE}).")
  int mcSamples;

  @Option(names = "--fisher", defaultValue = "mc", paramLabel = "F",
      description = "kfac: mc (S_n xi, xi standard normal, S_n S_n' the loss Hessian) or sampled (the loss gradient at labels "
          + "drawn from softmax(f); crossentropy only) (default: ${DEFAULT-VALUE}).")
  String fisher;

  KfacOptions options(long seed) {
    return new KfacOptions(KfacOptions.Fisher.parse(fisher), mcSamples, seed, LossFactorColumns.derived());
  }
}
