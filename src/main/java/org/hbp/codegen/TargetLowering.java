package org.hbp.codegen;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.dsl.ModuleSpec;

/**
 * What every code target's seam to {@link Lowering} shares: lowering one expression into a body of
 * the target's code, and the answers to Lowering's questions that do not depend on the target's
 * language (which subexpressions are shared, which leaves exist, the module's output as a known
 * value, the numbering of memo slots and part methods). A target ({@link BodyLowering}: Java
 * operators; {@link PyTorchLowering}: Python modules) says where its code goes ({@code S}, the sink),
 * what a finished body is ({@code B}), how its code reads the forward cache, and what it keeps of
 * each memo and part.
 *
 * <p>Numbering follows the order of requests: lower the bodies in the order the class lists them.
 *
 * @param <S> where a lowering's code goes while it is written (Java: a {@code CodeBlock.Builder})
 * @param <B> a finished body: the code and the name holding its result
 */
abstract class TargetLowering<S, B> implements Lowering.Context {
  final ModuleSpec m;
  final Notation notation;
  /** Subexpressions that occur more than once among the rules the class computes. */
  private final Set<Expr> shared;
  private final Map<Expr, Integer> memo = new LinkedHashMap<>();
  /** Whether each part method, by index, takes the output gradient {@code dz}. */
  private final Map<Integer, Boolean> partUsesDz = new HashMap<>();
  private int partCount;
  /** True while the forward method is lowered: the output is not in the cache yet. */
  private boolean loweringForward;

  TargetLowering(ModuleSpec m, Notation notation, Set<Expr> shared) {
    this.m = m;
    this.notation = notation;
    this.shared = Set.copyOf(shared);
  }

  // ---- what a target says ----

  /** A new, empty place for one body's code. */
  abstract S sink();

  /** A lowering whose finished programs are written into {@code sink}. */
  abstract Lowering lowering(S sink, boolean perForwardPass);

  /** The body written into {@code sink}, its result held by {@code result}. */
  abstract B body(S sink, String result);

  /** The target's expression reading forward value {@code name} from the forward cache. */
  abstract String cacheRead(String name);

  /** What the target's code is, for errors ("a generated operator"). */
  abstract String generatedCode();

  /** Records memo slot {@code slot}, computing {@code e}, once its body is complete. */
  abstract void memoLowered(int slot, Expr e, B body);

  /** Part {@code index} is requested; its body (which may request other parts) follows. */
  void partRequested(int index) {}

  /** Records part {@code index} (the value of {@code e}, or {@code e * v}) once its body is complete. */
  abstract void partLowered(int index, Expr e, boolean usesDz, boolean withDirection, B body);

  /** The target's name of part method {@code index}, as a call spells it. */
  abstract String partName(int index);

  // ---- bodies ----

  /** A body computing what {@code apply} asks of a fresh lowering, temporaries released. */
  final B lower(boolean perForwardPass, Function<Lowering, String> apply) {
    return lowerInto(perForwardPass, (lowering, sink) -> apply.apply(lowering));
  }

  /** {@link #lower}, where {@code apply} may also write into the body's sink itself (a prologue of its own). */
  final B lowerInto(boolean perForwardPass, BiFunction<Lowering, S, String> apply) {
    S sink = sink();
    Lowering lowering = lowering(sink, perForwardPass);
    String result = apply.apply(lowering, sink);
    lowering.releaseTemporaries(result);
    return body(sink, result);
  }

  /** The forward method's body: {@code z} computed from the forward values, temporaries released. */
  final B forward(Expr z) {
    loweringForward = true; // z is what this method computes: not yet in the cache
    try {
      return lower(true, l -> l.value(z));
    } finally {
      loweringForward = false;
    }
  }

  /** A body computing the value of e. */
  final B value(Expr e) {
    return lower(false, l -> l.value(e));
  }

  // ---- Lowering.Context ----

  @Override
  public final Notation notation() {
    return notation;
  }

  @Override
  public final boolean shared(Expr e) {
    return shared.contains(e);
  }

  @Override
  public final String leaf(Expr.Var v) {
    if (Lowering.isForwardValue(v)) return cacheRead(v.name());
    if (v.role() == Expr.Role.GRADIENT) return "dz";
    throw new CodegenException(m.name() + ": the derived rule refers to '" + v.name() + "' (" + v.role()
        + "), which " + generatedCode() + " does not have");
  }

  @Override
  public final String knownValue(Expr e) {
    if (m.isLoss() || loweringForward || !e.equals(m.outputExpr())) return null;
    return cacheRead(m.output().name());
  }

  @Override
  public final int memoSlot(Expr e) {
    Integer known = memo.get(e);
    if (known != null) return known;
    int slot = memo.size();
    memo.put(e, slot);
    // fresh locals: the body sees only leaves and other memos, never a caller's temporaries
    S sink = sink();
    String result = lowering(sink, true).memoBody(e);
    memoLowered(slot, e, body(sink, result));
    return slot;
  }

  @Override
  public final int part(Expr e, boolean withDirection) {
    boolean dz = Exprs.variables(e).stream().anyMatch(x -> x.role() == Expr.Role.GRADIENT);
    int index = partCount++;
    partUsesDz.put(index, dz);
    partRequested(index);
    B body = lower(false, l -> withDirection ? l.apply(e, "v") : l.value(e));
    partLowered(index, e, dz, withDirection, body);
    return index;
  }

  @Override
  public final String partCall(int index, String v) {
    return partName(index) + "(cache" + (partUsesDz.get(index) ? ", dz" : "") + (v == null ? "" : ", " + v) + ")";
  }
}
