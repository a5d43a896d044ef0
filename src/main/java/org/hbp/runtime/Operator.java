package org.hbp.runtime;

import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * What every generated operator, module or loss, has: its spec, dims and variables, and a
 * forward pass over a batch (see {@link ModuleOperator} for the batch conventions).
 */
public interface Operator {
  /** The module's or loss's name in its spec. */
  String name();

  /** The spec file it was generated from, e.g. {@code modules-spec/linear.hbp}. */
  String specSource();

  Backend backend();

  /** The evaluated dims, including derived ones, by name. */
  Map<String, Integer> dims();

  /** The differentiated inputs. */
  List<String> inputs();

  /** Data, index and target variables (given to forward, not differentiated). */
  List<String> constants();

  String outputName();

  /** The item shape {rows, cols} of a variable or of the output. */
  int[] itemShape(String variable);

  /** Entries per item of a variable or of the output. */
  default int numel(String variable) {
    int[] s = itemShape(variable);
    return s[0] * s[1];
  }

  /** Computes the output from all inputs, parameters and constants, by name; checks their shapes. */
  ForwardCache forward(Map<String, Batch> values);

  /** The output of a forward pass. */
  default Batch output(ForwardCache cache) {
    return cache.get(outputName());
  }
}
