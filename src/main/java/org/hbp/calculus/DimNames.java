package org.hbp.calculus;

import java.util.AbstractMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Names to print dims by: each derived dim by its name, and the product of two of them by
 * {@code a*b} (the patch count {@code oh*ow} of a convolution), the first declared first. A
 * declared name wins over a product. Lookups search the products by fingerprints
 * ({@link DimFactoring}) instead of forming all n^2 of them, so a module with hundreds of derived
 * dims prints at once; iterating the map forms them all.
 */
public final class DimNames extends AbstractMap<Dim, String> {
  private final Map<String, Dim> derived;
  private final Map<Dim, String> singles = new HashMap<>();
  private final DimFactoring factoring;
  private final Map<Dim, Optional<String>> looked = new HashMap<>();

  public DimNames(Map<String, Dim> derived) {
    this.derived = derived;
    derived.forEach((n, d) -> singles.putIfAbsent(d, n));
    this.factoring = new DimFactoring(derived);
  }

  @Override
  public String get(Object key) {
    if (!(key instanceof Dim d)) return null;
    String single = singles.get(d);
    if (single != null || factoring.isEmpty()) return single;
    return looked.computeIfAbsent(d, x -> {
      int[] pair = factoring.factor(x, Dim.ONE, 2);
      return pair == null ? Optional.empty() : Optional.of(factoring.name(pair[0]) + "*" + factoring.name(pair[1]));
    }).orElse(null);
  }

  @Override
  public boolean containsKey(Object key) {
    return get(key) != null;
  }

  @Override
  public boolean isEmpty() {
    return derived.isEmpty();
  }

  @Override
  public Set<Entry<Dim, String>> entrySet() {
    Map<Dim, String> all = new LinkedHashMap<>(singles);
    for (Dim a : derived.values())
      for (Dim b : derived.values()) {
        Dim p = a.times(b);
        String n = get(p);
        if (n != null) all.putIfAbsent(p, n);
      }
    return all.entrySet();
  }
}
