package org.hbp.calculus;

/** An internal shape invariant was violated while building the IR. */
public class ShapeException extends RuntimeException {
  public ShapeException(String message) {
    super(message);
  }
}
