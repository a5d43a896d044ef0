package org.hbp.codegen;

import org.hbp.UserError;

/** A derived rule that cannot be compiled into backend calls (names the expression). */
public final class CodegenException extends UserError {
  public CodegenException(String message) {
    super(message);
  }
}
