package org.hbp.runtime;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.hbp.backend.Batch;

/**
 * What a forward pass of an operator leaves for the later passes: the values it was given (by
 * variable name), its output, and memoized forward-only subexpressions of the derived rules (for
 * example {@code sigmoid(x)}), each computed at most once, on first use.
 */
public final class ForwardCache {
  private final Map<String, Batch> values;
  private final Batch[] memo;
  private final int samples;

  /** {@code memoSlots} is the number of memoizable subexpressions of the generated operator. */
  public ForwardCache(Map<String, Batch> values, int memoSlots) {
    this.values = new LinkedHashMap<>(values);
    this.memo = new Batch[memoSlots];
    int n = 1;
    for (Batch b : values.values()) n = Math.max(n, b.samples());
    this.samples = n;
  }

  /** The value of a variable given to the forward pass, or of the output once computed. */
  public Batch get(String name) {
    Batch b = values.get(name);
    if (b == null) throw new IllegalArgumentException("no value named '" + name + "' in this forward cache; it holds " + values.keySet());
    return b;
  }

  /** Records a computed value (the output) under its name. */
  public void put(String name, Batch value) {
    values.put(name, value);
  }

  public Map<String, Batch> values() {
    return Collections.unmodifiableMap(values);
  }

  /** The value of memo slot {@code slot}, computed by {@code compute} on first use. */
  public Batch memo(int slot, Supplier<Batch> compute) {
    Batch b = memo[slot];
    if (b == null) {
      b = compute.get();
      memo[slot] = b;
    }
    return b;
  }

  /** The memoized values computed so far. */
  public java.util.List<Batch> memoized() {
    java.util.List<Batch> out = new java.util.ArrayList<>();
    for (Batch b : memo) if (b != null) out.add(b);
    return out;
  }

  /** The batch size N: the largest sample extent among the given values. */
  public int samples() {
    return samples;
  }
}
