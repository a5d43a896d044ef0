package org.hbp.codegen;

/** A derived rule that cannot be compiled into backend calls (names the expression). */
public final class CodegenException extends RuntimeException {
  public CodegenException(String message) {
    super(message);
  }
}
