package org.hbp.cli;

import org.hbp.UserError;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * Options that apply only in some runs of a command (an optimizer's settings, the CG tolerances of
 * a solve): given on a command line where they do not apply, they are refused in one line saying
 * where they do, instead of being ignored. Only options the user gave count, not their defaults.
 *
 * <pre>{@code
 * OptionScope.of(spec).onlyWhen(solve != null, "with --solve", "--cg-tol", "--cg-atol", "--cg-maxiter");
 * }</pre>
 */
final class OptionScope {
  private final ParseResult given;

  private OptionScope(ParseResult given) {
    this.given = given;
  }

  /** The options given on the command line of {@code spec}'s command (its mixins' included). */
  static OptionScope of(CommandSpec spec) {
    return new OptionScope(spec.commandLine().getParseResult());
  }

  /** Whether the user gave {@code option} (by any of its names). */
  boolean given(String option) {
    return given != null && given.hasMatchedOption(option);
  }

  /**
   * Refuses each of {@code options} the user gave unless {@code applies}; {@code where} says when
   * they apply, e.g. "with --solve" or "to --optimizer sgd".
   *
   * @return this, for the next rule
   */
  OptionScope onlyWhen(boolean applies, String where, String... options) {
    if (applies) return this;
    for (String o : options)
      if (given(o)) throw new UserError(o + " applies only " + where + "; drop it or change the run");
    return this;
  }
}
