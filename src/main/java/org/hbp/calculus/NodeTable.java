package org.hbp.calculus;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * One per-node concern (children, printing, LaTeX, evaluation, a rule table) as a table keyed by
 * node type: each {@link Expr} record class has a handler, or an explicit exclusion with the reason
 * it never reaches the concern. Built once; a lookup of a type without a handler fails naming the
 * concern, the node type and, for an excluded type, the reason. {@code NodeTablesCompletenessTest}
 * walks {@code Expr}'s permitted subclasses and checks that every table covers each of them.
 *
 * <p>A handler takes the node (already cast to its record type) and a context: the printer,
 * evaluator or rule engine instance, or nothing for context-free concerns.
 *
 * @param <C> the context handed to each handler ({@code Void} when there is none)
 * @param <R> the handler's result
 */
public final class NodeTable<C, R> {
  /** The handler of one node type. */
  @FunctionalInterface
  public interface Handler<T extends Expr, C, R> {
    R apply(T node, C context);
  }

  private final String concern;
  /** By node class (classes are compared by identity; the lookup is on every node of every traversal). */
  private final IdentityHashMap<Class<? extends Expr>, Handler<Expr, C, R>> handlers;
  private final Map<Class<? extends Expr>, String> exclusions;

  private NodeTable(String concern, Map<Class<? extends Expr>, Handler<Expr, C, R>> handlers,
      Map<Class<? extends Expr>, String> exclusions) {
    this.concern = concern;
    this.handlers = new IdentityHashMap<>(handlers); // never modified after construction
    this.exclusions = Map.copyOf(exclusions);
  }

  /** A builder for the table of {@code concern} (e.g. "printer", "differentiation rule"). */
  public static <C, R> Builder<C, R> builder(String concern) {
    return new Builder<>(concern);
  }

  /** Registers handlers and exclusions; each node type at most once. */
  public static final class Builder<C, R> {
    private final String concern;
    private final Map<Class<? extends Expr>, Handler<Expr, C, R>> handlers = new LinkedHashMap<>();
    private final Map<Class<? extends Expr>, String> exclusions = new LinkedHashMap<>();

    private Builder(String concern) {
      this.concern = concern;
    }

    /** The handler of node type {@code type}. */
    @SuppressWarnings("unchecked")
    public <T extends Expr> Builder<C, R> on(Class<T> type, Handler<T, C, R> handler) {
      requireNew(type);
      // safe: apply() hands this handler only nodes whose class is exactly type (records are final)
      handlers.put(type, (Handler<Expr, C, R>) handler);
      return this;
    }

    /** The handler of node type {@code type}, for a concern without context. */
    public <T extends Expr> Builder<C, R> on(Class<T> type, Function<T, R> handler) {
      return on(type, (T node, C context) -> handler.apply(node));
    }

    /** The same handler for several node types (which it treats alike, through {@link Expr}). */
    @SafeVarargs
    public final Builder<C, R> onEach(Handler<Expr, C, R> handler, Class<? extends Expr>... types) {
      for (Class<? extends Expr> type : types) on(type, handler::apply);
      return this;
    }

    /** Node types that intentionally have no handler, with the reason they never reach this concern. */
    @SafeVarargs
    public final Builder<C, R> exclude(String reason, Class<? extends Expr>... types) {
      if (reason == null || reason.isBlank()) throw new IllegalArgumentException(concern + ": an exclusion needs a reason");
      for (Class<? extends Expr> type : types) {
        requireNew(type);
        exclusions.put(type, reason);
      }
      return this;
    }

    private void requireNew(Class<? extends Expr> type) {
      if (handlers.containsKey(type) || exclusions.containsKey(type))
        throw new IllegalStateException(concern + ": node " + type.getSimpleName() + " registered twice");
    }

    public NodeTable<C, R> build() {
      return new NodeTable<>(concern, handlers, exclusions);
    }
  }

  /** The concern this table implements, as named in error messages. */
  public String concern() {
    return concern;
  }

  /** Whether {@code node}'s type has a handler. */
  public boolean handles(Expr node) {
    return handlers.containsKey(node.getClass());
  }

  /** The handler of {@code node}'s type applied to it; a type without a handler is an error naming it. */
  public R apply(Expr node, C context) {
    Handler<Expr, C, R> h = handlers.get(node.getClass());
    if (h == null) throw missing(node.getClass());
    return h.apply(node, context);
  }

  /** {@link #apply(Expr, Object)} for a concern without context. */
  public R apply(Expr node) {
    return apply(node, null);
  }

  private IllegalStateException missing(Class<? extends Expr> type) {
    String reason = exclusions.get(type);
    return new IllegalStateException("no " + concern + " for node " + type.getSimpleName() + (reason == null ? "" : " (" + reason + ")"));
  }

  /** The node types with a handler. */
  public Set<Class<? extends Expr>> handled() {
    return Collections.unmodifiableSet(handlers.keySet());
  }

  /** The node types without a handler, each with the reason it never reaches this concern. */
  public Map<Class<? extends Expr>, String> exclusions() {
    return exclusions;
  }

  /** The node types this table accounts for: those it handles and those it excludes with a reason. */
  public Set<Class<? extends Expr>> nodeTypes() {
    Set<Class<? extends Expr>> all = new LinkedHashSet<>(handlers.keySet());
    all.addAll(exclusions.keySet());
    return Set.copyOf(all);
  }
}
