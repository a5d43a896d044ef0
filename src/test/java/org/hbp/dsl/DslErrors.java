package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.provider.Arguments;

/** The error tables of the DSL tests: rows of input and the exact message, and the check of one row. */
public final class DslErrors {
  private DslErrors() {}

  /** One row of an error table: the input and the whole message it must give. */
  public static Arguments row(String input, String message) {
    return Arguments.of(input, message);
  }

  /**
   * {@code parse} throws a {@link DslException} whose message is exactly {@code message}, and whose
   * message is its location {@code source:line:col} followed by its detail.
   */
  public static DslException assertDslError(Executable parse, String message) {
    DslException e = assertThrows(DslException.class, parse);
    assertEquals(message, e.getMessage());
    assertEquals(e.getMessage(), e.source() + ":" + e.line() + ":" + e.column() + ": " + e.detail());
    return e;
  }
}
