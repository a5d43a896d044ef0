package org.hbp.cli;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
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

  /**
   * The curvature a command computes: {@code --curvature} where the command line gives it; otherwise
   * {@code implied}, the one the chosen method is defined for (the Hessian for {@code --strategy
   * diag-hessian}, the GGN for the Kronecker-factored strategies and the GGN diagonals:
   * {@link Strategy#fixedCurvature}), or the option's default {@code kind} where it implies none.
   * A given {@code --curvature} is kept, so that the strategy's own check names it when it does not apply.
   */
  static CurvatureKind curvature(picocli.CommandLine.Model.CommandSpec spec, CurvatureKind kind, CurvatureKind implied) {
    return implied == null || spec.commandLine().getParseResult().hasMatchedOption("--curvature") ? kind : implied;
  }

  /** "a", "a or b", "a, b or c". */
  static String alternatives(List<String> labels) {
    int n = labels.size();
    return n == 1 ? labels.get(0) : String.join(", ", labels.subList(0, n - 1)) + " or " + labels.get(n - 1);
  }

  /**
   * An enum of a choice option whose command-line names are its constants' names in lower case
   * with '-' for '_' ({@code CG_NEWTON}: cg-newton).
   */
  interface Choice {
    String name();

    /** The command-line name. */
    default String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /** A converter of one choice option: {@link #choose} over its enum's values. */
  abstract static class Converter<E> implements ITypeConverter<E> {
    private final String noun;
    private final E[] values;
    private final Function<E, String> label;

    Converter(String noun, E[] values, Function<E, String> label) {
      this.noun = noun;
      this.values = values;
      this.label = label;
    }

    @Override
    public E convert(String text) {
      return choose(noun, text, values, label);
    }
  }

  /** {@code --curvature}: hessian, ggn, pch-abs, pch-clip. */
  static final class CurvatureKinds extends Converter<CurvatureKind> {
    CurvatureKinds() {
      super("curvature", CurvatureKind.values(), CurvatureKind::label);
    }
  }

  /** {@code --strategy}: exact, kfra, bda. */
  static final class Strategies extends Converter<Strategy> {
    Strategies() {
      super("strategy", Strategy.values(), Strategy::label);
    }
  }

  /** Every strategy's label, in {@link Strategy}'s order: the {@code ${COMPLETION-CANDIDATES}} of a --strategy that takes them all. */
  static final class StrategyNames extends java.util.ArrayList<String> {
    StrategyNames() {
      super(Arrays.stream(Strategy.values()).map(Strategy::label).toList());
    }
  }

  /** {@code hbp train --optimizer}: cg-newton, sgd, adam. */
  static final class Optimizers extends Converter<TrainCommand.OptimizerKind> {
    Optimizers() {
      super("optimizer", TrainCommand.OptimizerKind.values(), TrainCommand.OptimizerKind::label);
    }
  }

  /** {@code hbp derive --format}: text, latex, json. */
  static final class OutputFormats extends Converter<DeriveCommand.OutputFormat> {
    OutputFormats() {
      super("format", DeriveCommand.OutputFormat.values(), DeriveCommand.OutputFormat::label);
    }
  }
}
