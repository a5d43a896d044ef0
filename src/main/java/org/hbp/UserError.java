package org.hbp;

/**
 * An error in what the user gave hbp (a flag, a spec, a data or NumPy file, a run folder), as
 * opposed to a bug: its message is one line naming the place and what was expected, and the
 * command line reports it as {@code hbp: MESSAGE} with exit status 2. Input errors of particular
 * kinds extend it ({@code DslException}, {@code NpyException}, {@code CodegenException},
 * {@code DivergedException}); {@link IllegalArgumentException} and {@link IllegalStateException}
 * are left for broken invariants inside hbp.
 */
public class UserError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UserError(String message) {
    super(message);
  }

  public UserError(String message, Throwable cause) {
    super(message, cause);
  }
}
