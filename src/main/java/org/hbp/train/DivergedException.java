package org.hbp.train;

/** Training stopped because the loss became NaN or infinite; the message says where and what to try. */
public final class DivergedException extends RuntimeException {
  public DivergedException(String message) {
    super(message);
  }
}
