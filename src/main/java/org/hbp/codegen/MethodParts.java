package org.hbp.codegen;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;

/**
 * Keeps generated methods below the JVM's limit of 64 KB of bytecode per method: a sum too large
 * to lower in one method (the residual of 50 nested functions is a sum of 50 products of up to
 * 100 factors each) is lowered in parts, each a sum of consecutive terms computed by a private
 * helper method of its own, and the parts are added up by the method that needed the sum.
 */
final class MethodParts {
  private MethodParts() {}

  /**
   * Distinct nodes per method part. A node lowers to about one statement of some 20 to 30 bytes
   * of bytecode, so a part stays near 30 KB, half the limit.
   */
  static final int MAX_NODES = 1000;

  /**
   * The terms of {@code a} grouped into consecutive parts of at most {@link #MAX_NODES} nodes
   * each (a part of several terms is their sum; a single term larger than that is a part of its
   * own), or null when {@code a} is small enough to lower in place.
   */
  static List<Expr> parts(Expr.Add a) {
    if (nodes(a, MAX_NODES + 1) <= MAX_NODES) return null;
    List<Expr> out = new ArrayList<>();
    List<Expr> chunk = new ArrayList<>();
    int size = 0;
    for (Expr t : a.terms()) {
      int n = nodes(t, MAX_NODES + 1);
      if (!chunk.isEmpty() && size + n > MAX_NODES) {
        out.add(sum(chunk));
        chunk = new ArrayList<>();
        size = 0;
      }
      chunk.add(t);
      size += n;
    }
    out.add(sum(chunk));
    return out;
  }

  private static Expr sum(List<Expr> terms) {
    return terms.size() == 1 ? terms.get(0) : new Expr.Add(terms);
  }

  /** The number of distinct nodes (by identity) of e, counted up to {@code limit}. */
  static int nodes(Expr e, int limit) {
    Set<Expr> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    ArrayDeque<Expr> todo = new ArrayDeque<>();
    todo.push(e);
    while (!todo.isEmpty() && seen.size() < limit) {
      Expr x = todo.pop();
      if (seen.add(x)) for (Expr c : Exprs.children(x)) todo.push(c);
    }
    return seen.size();
  }
}
