package org.hbp.cli;

import org.hbp.UserError;
import picocli.CommandLine.ITypeConverter;

/**
 * {@code --blocks} of {@code hbp curvature}, {@code hbp spectrum} and {@code hbp train}: {@code parameter} (one block per
 * parameter, the paper's), {@code layer} (one joint block per layer over all its parameters, cross
 * terms included: a departure from the paper, for the exact strategy), or a number K of row groups
 * per parameter (the block-diagonal part of each parameter's block; {@code 1} is {@code parameter}).
 */
record BlockChoice(boolean layer, int rowGroups) {
  static final String PARAMETER = "parameter";
  static final String LAYER = "layer";

  static BlockChoice parse(String s) {
    if (s.equals(PARAMETER)) return new BlockChoice(false, 1);
    if (s.equals(LAYER)) return new BlockChoice(true, 1);
    try {
      int k = Integer.parseInt(s);
      if (k >= 1) return new BlockChoice(false, k);
    } catch (NumberFormatException e) {
      // below
    }
    throw new UserError("--blocks " + s + ": expected parameter, layer, or a number of row groups per parameter (at least 1)");
  }

  /** How the command line says it. */
  String label() {
    return layer ? LAYER : rowGroups == 1 ? PARAMETER : Integer.toString(rowGroups);
  }

  /** picocli's converter. */
  static final class Converter implements ITypeConverter<BlockChoice> {
    @Override
    public BlockChoice convert(String value) {
      return parse(value);
    }
  }
}
