package org.hbp.cli;

import org.hbp.network.GgnRoute;
import picocli.CommandLine.Option;

/** The {@code --ggn-route} option of the commands that take exact GGN products (curvature, spectrum, train, bench). */
final class GgnRouteOption {
  @Option(names = "--ggn-route", defaultValue = "network", paramLabel = "R",
      description = "With --curvature ggn and --strategy exact: network (each product carries its directions from the block's layer through "
          + "the rest of the network to the loss Hessian and back) or factored (the loss factor's r columns carried back once per batch; "
          + "each parameter keeps J'S of its own, N*r*P numbers, where P <= r*|z| of its layer's output z, else the columns at z; a block's "
          + "product is then M (M' v) per sample, with no trip). With --scope net (curvature, spectrum) factored keeps J'S of every "
          + "parameter. The same curvature either way; factored pays where several directions or products are taken of one batch "
          + "(default: ${DEFAULT-VALUE}).")
  String label;

  /** The route, or a {@code UserError} naming the choices. */
  GgnRoute route() {
    return GgnRoute.parse(label);
  }
}
