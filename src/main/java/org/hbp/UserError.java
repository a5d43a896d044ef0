package org.hbp;

/**
 * An error in what the user gave hbp (a flag, a spec, a data or NumPy file, a run folder), as
 * opposed to a bug: its message is one line naming the place and what was expected, and the
 * command line reports it as {@code hbp: MESSAGE} with exit status 2. Input errors of particular
 * kinds extend it ({@code DslException}, {@code NpyException}, {@code CodegenException},
 * {@code DivergedException}).
 *
 * <p>It is an {@link IllegalArgumentException}, so a library caller that catches the standard
 * type for a bad argument still catches it; but only a {@code UserError} counts as the user's
 * error on the command line: a plain {@link IllegalArgumentException} or
 * {@link IllegalStateException} is a broken invariant inside hbp (exit status 1, "internal
 * error").
 */
public class UserError extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public UserError(String message) {
    super(message);
  }

  public UserError(String message, Throwable cause) {
    super(message, cause);
  }
}
