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
  /** Values the network derives from this forward pass and keeps with it ({@link #derived}), by key. */
  private final Map<String, Batch> derived = new LinkedHashMap<>();
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

  /**
   * A value that the network, not the operator, derives from this forward pass (for example a
   * neighbouring layer's Jacobian diagonal, selected by this layer's index map), computed by
   * {@code compute} on first use and kept under {@code key} with the memos, released with them.
   * A null from {@code compute} (nothing to derive) is returned and not kept.
   */
  public Batch derived(String key, Supplier<Batch> compute) {
    Batch b = derived.get(key);
    if (b == null) {
      b = compute.get();
      if (b != null) derived.put(key, b);
    }
    return b;
  }

  /** The memoized values computed so far, the derived ones included. */
  public java.util.List<Batch> memoized() {
    java.util.List<Batch> out = new java.util.ArrayList<>();
    for (Batch b : memo) if (b != null) out.add(b);
    out.addAll(derived.values());
    return out;
  }

  /** The batch size N: the largest sample extent among the given values. */
  public int samples() {
    return samples;
  }
}
