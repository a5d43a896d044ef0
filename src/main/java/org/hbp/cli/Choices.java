package org.hbp.cli;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.hbp.UserError;
import org.hbp.network.CurvatureKind;
import org.hbp.network.Strategy;
import picocli.CommandLine.ITypeConverter;

/**
 * Converters of choice options to their enums: an unknown value is a {@link UserError} listing the
 * choices ({@code unknown curvature 'fisher'; expected hessian, ggn, pch-abs or pch-clip}), which
 * {@link Main} prints as one line with exit status 2 while the command line is read.
 */
final class Choices {
  private Choices() {}

  /** The value whose label is {@code text}. */
  static <E> E choose(String noun, String text, E[] values, Function<E, String> label) {
    for (E v : values) if (label.apply(v).equals(text)) return v;
    List<String> labels = Arrays.stream(values).map(label).toList();
    throw new UserError("unknown " + noun + " '" + text + "'; expected " + alternatives(labels));
  }

  /** "a", "a or b", "a, b or c". */
  static String alternatives(List<String> labels) {
    int n = labels.size();
    return n == 1 ? labels.get(0) : String.join(", ", labels.subList(0, n - 1)) + " or " + labels.get(n - 1);
  }

  /** {@code --curvature}: hessian, ggn, pch-abs, pch-clip. */
  static final class CurvatureKinds implements ITypeConverter<CurvatureKind> {
    @Override
    public CurvatureKind convert(String text) {
      return choose("curvature", text, CurvatureKind.values(), CurvatureKind::label);
    }
  }

  /** {@code --strategy}: exact, kfra, bda. */
  static final class Strategies implements ITypeConverter<Strategy> {
    @Override
    public Strategy convert(String text) {
      return choose("strategy", text, Strategy.values(), Strategy::label);
    }
  }

  /** {@code hbp train --optimizer}: cg-newton, sgd, adam. */
  static final class Optimizers implements ITypeConverter<TrainCommand.OptimizerKind> {
    @Override
    public TrainCommand.OptimizerKind convert(String text) {
      return choose("optimizer", text, TrainCommand.OptimizerKind.values(), TrainCommand.OptimizerKind::label);
    }
  }

  /** {@code hbp derive --format}: text, latex, json. */
  static final class OutputFormats implements ITypeConverter<DeriveCommand.OutputFormat> {
    @Override
    public DeriveCommand.OutputFormat convert(String text) {
      return choose("format", text, DeriveCommand.OutputFormat.values(), DeriveCommand.OutputFormat::label);
    }
  }
}
