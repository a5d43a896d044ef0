package org.hbp.dsl;

import org.hbp.UserError;

/** A syntax or semantic error in DSL input, located at {@code source:line:col}. */
public class DslException extends UserError {
  private final String source;
  private final int line;
  private final int column;
  private final String detail;

  public DslException(String source, int line, int column, String detail) {
    super(source + ":" + line + ":" + column + ": " + detail);
    this.source = source;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }

  public String source() {
    return source;
  }

  public int line() {
    return line;
  }

  /** 1-based column. */
  public int column() {
    return column;
  }

  /** The message without the location. */
  public String detail() {
    return detail;
  }
}
