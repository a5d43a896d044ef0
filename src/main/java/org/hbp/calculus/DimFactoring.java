package org.hbp.calculus;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes dims as products of named (derived) dims, e.g. {@code c*oh*ow} for the expanded
 * polynomial of a convolution's output size: a dim d is {@code q * a_i1 * ... * a_ik} with the
 * named dims a in declaration order, the indices non-decreasing and the first such choice (in
 * lexicographic order) taken. Candidates are found by {@link Dim#fingerprint}s, so that a module
 * with hundreds of derived dims is searched in about n^(k-1) steps rather than by forming all n^k
 * products; every candidate is checked exactly.
 */
public final class DimFactoring {
  private final List<String> names = new ArrayList<>();
  private final List<Dim> dims = new ArrayList<>();
  private final long[] inverses;
  /** Fingerprint -> indices of the named dims with it, ascending. */
  private final Map<Long, List<Integer>> byFingerprint = new HashMap<>();

  public DimFactoring(Map<String, Dim> named) {
    named.forEach((n, d) -> {
      names.add(n);
      dims.add(d);
    });
    inverses = new long[dims.size()];
    for (int i = 0; i < dims.size(); i++) {
      long f = dims.get(i).fingerprint();
      inverses[i] = f == 0 ? 0 : inverse(f);
      byFingerprint.computeIfAbsent(f, x -> new ArrayList<>()).add(i);
    }
  }

  /** The name of the i-th named dim. */
  public String name(int i) {
    return names.get(i);
  }

  public boolean isEmpty() {
    return dims.isEmpty();
  }

  /**
   * The indices (non-decreasing, lexicographically first) of exactly k named dims whose product
   * times q is d, or null.
   */
  public int[] factor(Dim d, Dim q, int k) {
    long fq = q.fingerprint();
    if (fq == 0 || dims.isEmpty()) return null;
    long target = d.fingerprint() * inverse(fq) % Dim.FINGERPRINT_PRIME;
    return search(d, q, new int[k], 0, 0, target);
  }

  private int[] search(Dim d, Dim q, int[] chosen, int depth, int start, long target) {
    if (depth == chosen.length - 1) {
      for (int j : byFingerprint.getOrDefault(target, List.of())) {
        if (j < start) continue;
        chosen[depth] = j;
        if (exact(d, q, chosen)) return chosen.clone();
      }
      return null;
    }
    for (int i = start; i < dims.size(); i++) {
      if (inverses[i] == 0) continue;
      chosen[depth] = i;
      int[] r = search(d, q, chosen, depth + 1, i, target * inverses[i] % Dim.FINGERPRINT_PRIME);
      if (r != null) return r;
    }
    return null;
  }

  private boolean exact(Dim d, Dim q, int[] chosen) {
    Dim p = q;
    for (int i : chosen) p = p.times(dims.get(i));
    return p.equals(d);
  }

  /** The inverse modulo the fingerprint prime (Fermat: f^(p-2)). */
  private static long inverse(long f) {
    long result = 1, base = f % Dim.FINGERPRINT_PRIME, e = Dim.FINGERPRINT_PRIME - 2;
    while (e > 0) {
      if ((e & 1) == 1) result = result * base % Dim.FINGERPRINT_PRIME;
      base = base * base % Dim.FINGERPRINT_PRIME;
      e >>= 1;
    }
    return result;
  }
}
