package org.hbp.cli;

import org.hbp.network.GgnRoute;
import picocli.CommandLine.Option;

/** The {@code --ggn-route} option of the commands that take exact GGN products (curvature, spectrum, train, bench). */
final class GgnRouteOption {
  @Option(names = "--ggn-route", defaultValue = "network", paramLabel = "R",
      description = "How the exact strategy computes GGN products: network (each block's product carries its directions through the rest "
          + "of the network to the loss Hessian and back) or factored (the loss factor's r columns S carried back once per batch and kept "
          + "at every layer's output, N*r numbers per output entry; then a block's product is its own layer's two Jacobian products and "
          + "two with S; spectrum --scope net keeps J'S of every parameter instead, N*r*P numbers). The same curvature either way; "
          + "factored pays where several directions or products are taken of one batch (default: ${DEFAULT-VALUE}).")
  String label;

  /** The route, or a {@code UserError} naming the choices. */
  GgnRoute route() {
    return GgnRoute.parse(label);
  }
}
