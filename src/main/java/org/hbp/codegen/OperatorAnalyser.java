package org.hbp.codegen;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.ShapeException;
import org.hbp.codegen.OperatorModel.Body;
import org.hbp.codegen.OperatorModel.LossPlan;
import org.hbp.codegen.OperatorModel.Lowered;
import org.hbp.codegen.OperatorModel.MixedPlan;
import org.hbp.codegen.OperatorModel.VariablePlan;
import org.hbp.derive.LossFactor;
import org.hbp.derive.LossRule;
import org.hbp.derive.MixedResidual;
import org.hbp.derive.ModuleRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ResidualKind;

/**
 * Builds the {@link OperatorModel} of one module or loss: derives its rules, reads off the facts
 * the class states about each variable (residual kind, Kronecker factor {@code J = kron(A', I)},
 * diagonal and sample-independent Jacobians), counts the subexpressions the rules share, and
 * lowers every method body through {@link BodyLowering}, in the order the class lists its
 * methods (memo slots, helper methods and geometries are numbered in that order).
 */
final class OperatorAnalyser {
  private OperatorAnalyser() {}

  /** The model of the class generated for {@code m}. */
  static OperatorModel analyse(ModuleSpec m, String label, String specSha256) {
    String className = Names.className(m.name());
    Notation notation = new Notation(m);
    if (m.isLoss()) {
      List<LossRule> rules = ModuleRules.lossRules(m);
      List<Expr> computed = new ArrayList<>(List.of(m.outputExpr()));
      for (LossRule r : rules) computed.addAll(List.of(r.gradient(), r.hessian()));
      BodyLowering lowering = new BodyLowering(m, className, notation, sharedSubexpressions(computed));
      Body forward = lowering.forward(m.outputExpr());
      List<LossPlan> losses = new ArrayList<>();
      for (LossRule r : rules) {
        Body gradient = lowering.value(r.gradient()), hessian = lowering.product(r.hessian(), r.wrt(), "hessianMatProd");
        List<Expr> blocks = r.factor().map(LossFactor::blocks).orElse(List.of());
        List<Body> factor = new ArrayList<>();
        for (int i = 0; i < blocks.size(); i++)
          factor.add(lowering.factorProduct(blocks.get(i), Names.factorMethod(r.wrt().name(), i, blocks.size())));
        losses.add(new LossPlan(r, gradient, hessian, factor));
      }
      return model(m, className, label, specSha256, notation, lowering, forward, List.of(), losses, Optional.empty());
    }
    List<ModuleRule> rules = ModuleRules.moduleRules(m);
    List<Expr> computed = new ArrayList<>(List.of(m.outputExpr()));
    for (ModuleRule r : rules) computed.addAll(computedExpressions(r));
    BodyLowering lowering = new BodyLowering(m, className, notation, sharedSubexpressions(computed));
    Body forward = lowering.forward(m.outputExpr());
    List<PlanWithoutDiagonal> partial = new ArrayList<>();
    for (ModuleRule r : rules) partial.add(lowerRule(lowering, r));
    // the Jacobian diagonals and selections come last: the class lists jacobianDiagonal and
    // jacobianSelection after the per-variable methods
    List<VariablePlan> variables = new ArrayList<>();
    for (PlanWithoutDiagonal p : partial) variables.add(p.complete(jacobianDiagonal(lowering, p.rule()), jacobianSelection(lowering, p.rule())));
    return model(m, className, label, specSha256, notation, lowering, forward, variables, List.of(), mixedResiduals(m, lowering));
  }

  /**
   * The mixed residuals, lowered last and outside the shared-subexpression count, so that adding
   * them leaves the other methods as they were. Where one cannot be derived or lowered, the class
   * has none (the whole-network Hessian then refuses it, naming the layer); its other methods are
   * unaffected.
   */
  private static Optional<List<MixedPlan>> mixedResiduals(ModuleSpec m, BodyLowering lowering) {
    List<MixedPlan> mixed = new ArrayList<>();
    try {
      for (MixedResidual r : ModuleRules.mixedResiduals(m)) {
        Optional<Body> product = r.isZero() ? Optional.empty()
            : Optional.of(lowering.product(r.residual(), r.of(), "mixedResidualMatProd_" + r.wrt().name() + "_" + r.of().name()));
        mixed.add(new MixedPlan(r, product));
      }
    } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException | ShapeException e) { // CodegenException too
      return Optional.empty();
    }
    return Optional.of(mixed);
  }

  private static OperatorModel model(ModuleSpec m, String className, String label, String sha, Notation notation,
      BodyLowering lowering, Body forward, List<VariablePlan> variables, List<LossPlan> losses, Optional<List<MixedPlan>> mixed) {
    return new OperatorModel(m, className, label, sha, notation, forward, variables, losses, lowering.memoSlots(), lowering.parts(),
        lowering.scalars().methods(), lowering.scalars().constants(), lowering.geometries(), mixed);
  }

  // ---- facts ----

  /** The diagonal of the residual when its kind is diagonal. */
  static Optional<Expr> residualDiagonal(ModuleRule r) {
    return r.residualKind() == ResidualKind.DIAGONAL ? Optional.of(DiagonalOf.of(r.compact().residual())) : Optional.empty();
  }

  /** A with {@code J = kron(A', I)}, for a parameter whose derived Jacobian has that form. */
  static Optional<Expr> kroneckerFactor(ModuleRule r) {
    if (r.wrt().role() != Expr.Role.PARAM) return Optional.empty();
    return Optional.ofNullable(KroneckerFactor.of(r.compact().jacobian()));
  }

  /** Whether the Jacobian is {@code diag(d)} or the identity. */
  static boolean jacobianIsDiagonal(ModuleRule r) {
    return r.compact().jacobian() instanceof Expr.DiagMat || r.compact().jacobian() instanceof Expr.Eye;
  }

  /** Whether the Jacobian is {@code selection(idx, n)}: each output entry one entry of the variable, or zero. */
  static boolean jacobianIsSelection(ModuleRule r) {
    return r.compact().jacobian() instanceof Expr.Selection;
  }

  /** The rules of one variable that the class computes. */
  private static List<Expr> computedExpressions(ModuleRule r) {
    List<Expr> out = new ArrayList<>(List.of(r.compact().jacobian(), r.compact().residual()));
    residualDiagonal(r).ifPresent(out::add);
    kroneckerFactor(r).ifPresent(out::add);
    return out;
  }

  /** The subexpressions (every node, counted in every rule) that occur more than once. */
  static Set<Expr> sharedSubexpressions(List<Expr> rules) {
    Map<Expr, Integer> occurrences = new HashMap<>();
    ArrayDeque<Expr> todo = new ArrayDeque<>(rules);
    while (!todo.isEmpty()) {
      Expr e = todo.pop();
      occurrences.merge(e, 1, Integer::sum);
      todo.addAll(Exprs.children(e));
    }
    return occurrences.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).collect(Collectors.toSet());
  }

  // ---- bodies ----

  /** A variable's plan before its Jacobian diagonal is lowered. */
  private record PlanWithoutDiagonal(ModuleRule rule, Body jacobian, Body jacobianTransposed, Body jacobianTransposedSum,
      Optional<Body> residual, Optional<Lowered> residualDiagonal, Optional<Lowered> kroneckerFactor) {
    VariablePlan complete(Optional<Lowered> jacobianDiagonal, Optional<Lowered> jacobianSelection) {
      return new VariablePlan(rule, jacobian, jacobianTransposed, jacobianTransposedSum, residual, residualDiagonal, kroneckerFactor,
          jacobianDiagonal, BodyLowering.sampleIndependent(rule.compact().jacobian()), jacobianIsDiagonal(rule), jacobianSelection);
    }
  }

  private static PlanWithoutDiagonal lowerRule(BodyLowering lowering, ModuleRule r) {
    Expr.Var w = r.wrt(), z = r.output();
    Expr j = r.compact().jacobian();
    Body jac = lowering.product(j, w, "jacMatProd_" + w.name());
    Body jacT = lowering.product(new Expr.Transpose(j), z, "jacTMatProd_" + w.name());
    Body jacTSum = lowering.summedTransposedProduct(j, z, "jacTMatProdSum_" + w.name());
    Optional<Body> residual = r.residualKind() == ResidualKind.ZERO ? Optional.empty()
        : Optional.of(lowering.product(r.compact().residual(), w, "residualMatProd_" + w.name()));
    Optional<Lowered> diagonal = residualDiagonal(r).map(d -> new Lowered(d, lowering.value(d)));
    Optional<Lowered> factor = kroneckerFactor(r).map(a -> new Lowered(a, lowering.value(a)));
    return new PlanWithoutDiagonal(r, jac, jacT, jacTSum, residual, diagonal, factor);
  }

  private static Optional<Lowered> jacobianDiagonal(BodyLowering lowering, ModuleRule r) {
    if (!(r.compact().jacobian() instanceof Expr.DiagMat dm)) return Optional.empty();
    return Optional.of(new Lowered(dm.vector(), lowering.value(dm.vector())));
  }

  /** The index map idx where the Jacobian is {@code selection(idx, n)}: each output entry one entry of the variable, or zero. */
  private static Optional<Lowered> jacobianSelection(BodyLowering lowering, ModuleRule r) {
    if (!(r.compact().jacobian() instanceof Expr.Selection s)) return Optional.empty();
    return Optional.of(new Lowered(s.index(), lowering.value(s.index())));
  }
}
