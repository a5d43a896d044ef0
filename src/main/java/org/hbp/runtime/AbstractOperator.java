package org.hbp.runtime;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/** What every generated operator, module or loss, has: its backend, and the checks of its arguments against the declared variables. */
public abstract class AbstractOperator implements Operator {
  protected final Backend be;

  protected AbstractOperator(Backend backend) {
    this.be = Objects.requireNonNull(backend, "backend");
  }

  @Override
  public Backend backend() {
    return be;
  }

  /** Checks that directions have numel(variable) entries per item and gives them its shape. */
  protected final Batch shaped(Batch v, String variable, String what) {
    return OperatorSupport.shaped(be, name(), v, variable, itemShape(variable), what);
  }

  /** Checks the values given to forward: every declared variable present with its item shape. */
  protected final void checkForwardValues(Map<String, Batch> values, List<String> required) {
    OperatorSupport.checkForwardValues(name(), this::itemShape, values, required);
  }
}
