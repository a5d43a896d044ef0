package org.hbp.train;

import org.hbp.UserError;

/** Training stopped because the loss became NaN or infinite; the message says where and what to try. */
public final class DivergedException extends UserError {
  public DivergedException(String message) {
    super(message);
  }
}
