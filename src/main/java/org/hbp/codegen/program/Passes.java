package org.hbp.codegen.program;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.codegen.program.Program.Statement;
import org.hbp.codegen.program.Value.Ownership;

/**
 * The passes over a {@link Program}, each a small function that keeps what the program computes:
 * <ul>
 *   <li>{@link #commonSubexpressions}: an op equal to an earlier one (same kind, inputs and
 *       parameters) reuses the earlier result;</li>
 *   <li>{@link #zeroTerms}: {@code x + 0} and {@code x - 0} are x;</li>
 *   <li>{@link #identityReshapes}: a reshape to the shape its input has is the input, and a
 *       reshape of a reshape is one reshape;</li>
 *   <li>{@link #fuseBiases}: {@code conv(w, x) + b*ones'} is one convolution with bias b;</li>
 *   <li>{@link #fuseProductTerms}: {@code op(a)*op(b) + c} is one {@code matmulAdd};</li>
 *   <li>{@link #deadOps}: statements whose result nothing uses go;</li>
 *   <li>{@link #releases}: the owned values that do not escape, to release when the method ends.</li>
 * </ul>
 */
public final class Passes {
  private Passes() {}

  /** All simplifying passes, in order. */
  public static void optimize(Program p) {
    commonSubexpressions(p);
    zeroTerms(p);
    identityReshapes(p);
    fuseBiases(p);
    fuseProductTerms(p);
    deadOps(p);
  }

  /** Later statements equal to an earlier one use the earlier result instead (and go). */
  public static void commonSubexpressions(Program p) {
    Map<Op, Value> seen = new HashMap<>();
    for (int i = 0; i < p.statements().size(); i++) {
      Statement s = p.statements().get(i);
      Value earlier = seen.get(s.op());
      if (earlier == null) seen.put(s.op(), s.out());
      else if (p.substitute(s.out(), earlier)) p.remove(i--); // its users come later: their keys are not in seen yet
    }
  }

  /** {@code x + 0}, {@code 0 + x} and {@code x - 0} (0 a filled zero of no larger shape) become x. */
  public static void zeroTerms(Program p) {
    for (int i = 0; i < p.statements().size(); i++) {
      Statement s = p.statements().get(i);
      Value keep = null;
      if (s.op() instanceof Op.Add a) keep = isZero(p, a.b()) ? a.a() : isZero(p, a.a()) ? a.b() : null;
      else if (s.op() instanceof Op.Subtract d && isZero(p, d.b())) keep = d.a();
      if (keep != null && keep.items().equals(s.out().items()) && p.substitute(s.out(), keep)) p.remove(i--);
    }
  }

  private static boolean isZero(Program p, Value v) {
    Statement d = p.definition(v);
    return d != null && d.op() instanceof Op.Fill f && f.value() == 0.0;
  }

  /** A reshape to its input's own shape is the input; a reshape of a reshape reshapes the first's input. */
  public static void identityReshapes(Program p) {
    for (int i = 0; i < p.statements().size(); i++) {
      Statement s = p.statements().get(i);
      if (!(s.op() instanceof Op.Reshape r)) continue;
      Statement inner = p.definition(r.a());
      if (inner != null && inner.op() instanceof Op.Reshape r0) {
        r = new Op.Reshape(r0.a(), r.rows(), r.cols());
        p.replace(i, r, s.comment());
      }
      if (r.a().items().equals(s.out().items()) && p.substitute(s.out(), r.a())) p.remove(i--);
    }
  }

  /**
   * {@code conv(w, x) + b*ones'} (a convolution without bias that nothing else uses, plus the
   * outer product of a column b with ones of its patches) becomes {@code conv(w, x, bias b)}: the
   * backend adds the bias in its kernel and never forms {@code b*ones'}.
   */
  public static void fuseBiases(Program p) {
    for (int i = 0; i < p.statements().size(); i++) {
      Statement s = p.statements().get(i);
      if (!(s.op() instanceof Op.Add a)) continue;
      for (Value[] pair : new Value[][] {{a.a(), a.b()}, {a.b(), a.a()}}) {
        Op.Convolution conv = solelyUsed(p, pair[0]) instanceof Op.Convolution c && c.bias() == null ? c : null;
        Value bias = conv == null ? null : biasOfOuterProduct(p, pair[1], conv);
        if (bias != null) {
          p.replace(i, new Op.Convolution(conv.w(), conv.x(), conv.geometry(), bias), s.comment());
          break;
        }
      }
    }
  }

  /** The column b when v is {@code b * ones(patches)'}, else null. */
  private static Value biasOfOuterProduct(Program p, Value v, Op.Convolution conv) {
    Statement d = p.definition(v);
    if (d == null || !(d.op() instanceof Op.MatMul m) || m.transposeA() || !m.a().items().equals(Value.ItemShape.column(conv.w().items().rows())))
      return null;
    Statement ones = p.definition(m.b());
    if (ones == null || !(ones.op() instanceof Op.Fill f) || f.value() != 1.0) return null;
    boolean row = m.transposeB() ? f.cols().isOne() && f.rows().equals(conv.geometry().patches())
        : f.rows().isOne() && f.cols().equals(conv.geometry().patches());
    return row ? m.a() : null;
  }

  /** {@code op(a)*op(b) + c} with a product nothing else uses becomes one {@code matmulAdd(a, b, c)}. */
  public static void fuseProductTerms(Program p) {
    for (int i = 0; i < p.statements().size(); i++) {
      Statement s = p.statements().get(i);
      if (!(s.op() instanceof Op.Add a)) continue;
      if (solelyUsed(p, a.a()) instanceof Op.MatMul m) p.replace(i, new Op.MatMulAdd(m.a(), m.transposeA(), m.b(), m.transposeB(), a.b()), s.comment());
      else if (solelyUsed(p, a.b()) instanceof Op.MatMul m)
        p.replace(i, new Op.MatMulAdd(m.a(), m.transposeA(), m.b(), m.transposeB(), a.a()), s.comment());
    }
  }

  /** The op computing v when v is used exactly once and does not escape, else null. */
  private static Op solelyUsed(Program p, Value v) {
    Statement d = p.definition(v);
    return d != null && !p.escapes(v) && p.uses(v) == 1 ? d.op() : null;
  }

  /** Removes the statements whose result nothing uses and that do not escape, last first. */
  public static void deadOps(Program p) {
    Map<Value, Integer> uses = new IdentityHashMap<>();
    for (Statement s : p.statements()) for (Value in : Program.inputs(s.op())) uses.merge(in, 1, Integer::sum);
    for (int i = p.statements().size() - 1; i >= 0; i--) {
      Statement s = p.statements().get(i);
      if (p.escapes(s.out()) || uses.getOrDefault(s.out(), 0) > 0) continue;
      for (Value in : Program.inputs(s.op())) uses.merge(in, -1, Integer::sum);
      p.remove(i);
    }
  }

  /**
   * The values to release when the method is done: those whose storage a statement allocated
   * ({@link Ownership#OWNED}), except the storage of the escaping values (and of what they view),
   * in the order they were computed.
   */
  public static List<Value> releases(Program p) {
    Set<Value> kept = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    for (Value v : p.escaping()) kept.add(v.root());
    List<Value> out = new ArrayList<>();
    for (Statement s : p.statements())
      if (s.out().ownership() == Ownership.OWNED && !kept.contains(s.out())) out.add(s.out());
    return out;
  }
}
