package org.hbp.runtime;

import org.hbp.UserError;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/** The parts of {@link LossOperator} that follow from the generated products. */
public abstract class AbstractLossOperator implements LossOperator {
  protected final Backend be;

  protected AbstractLossOperator(Backend backend) {
    this.be = java.util.Objects.requireNonNull(backend, "backend");
  }

  @Override
  public Backend backend() {
    return be;
  }

  @Override
  public Batch hessian(ForwardCache cache, String wrt) {
    int[] s = itemShape(wrt);
    int n = s[0] * s[1];
    Batch e = be.reshape(be.columnsAsDirections(be.eye(n)), s[0], s[1]);
    Batch columns = hessianMatProd(cache, wrt, e);
    // a product that does not depend on its direction (one broadcast direction) is linear and constant: zero
    if (columns.directions() == 1 && n > 1) return be.fill(n, n, 0);
    return be.directionsAsColumns(be.reshape(columns, n, 1), n);
  }

  protected final Batch shaped(Batch v, String variable, String what) {
    return Operators.shaped(be, name(), v, variable, itemShape(variable), what);
  }

  protected final UserError unknown(String variable) {
    return new UserError(name() + ": no input named '" + variable + "'; it has " + inputs());
  }

  protected final void checkForwardValues(Map<String, Batch> values, java.util.List<String> required) {
    Operators.checkForwardValues(name(), this::itemShape, values, required);
  }
}
