package org.hbp.codegen;

import com.palantir.javapoet.CodeBlock;
import java.util.List;
import java.util.Optional;
import org.hbp.calculus.Expr;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRule;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ResidualKind;

/**
 * Everything the {@link OperatorWriter} needs to write the class of one module or loss, decided
 * before any Java is written by the {@link OperatorAnalyser}: the derived rules, what the class
 * offers for each variable, and the method bodies lowered to backend calls with the memo slots,
 * helper methods, scalar functions and geometries they use. Immutable.
 *
 * @param module the module or loss
 * @param className its generated class, e.g. {@code LinearOperator}
 * @param label how the class names its spec, e.g. {@code modules-spec/linear.hbp}
 * @param specSha256 the hex SHA-256 of the spec's text
 * @param notation how the class writes dims, shapes and expressions
 * @param forward the forward method's body: {@code z} from the forward values
 * @param variables a module's plan per differentiable variable, in the spec's order (empty for a loss)
 * @param losses a loss's plan per input (empty for a module)
 * @param memoSlots the memoized forward-only subexpressions, in the order their methods are written
 * @param parts the helper methods computing parts of large sums
 * @param scalarMethods the generated static scalar methods, by name
 * @param functionConstants the {@code ScalarFunction} constants given to {@code be.map}, by field name
 * @param geometries the convolution geometries, as fields built by the constructor
 * @param mixed a module's mixed residuals for every ordered pair of different variables; empty for a loss,
 *     and for a module whose mixed residuals could not be derived or lowered (its class then has none)
 */
record OperatorModel(
    ModuleSpec module,
    String className,
    String label,
    String specSha256,
    Notation notation,
    Body forward,
    List<VariablePlan> variables,
    List<LossPlan> losses,
    List<MemoSlot> memoSlots,
    List<PartMethod> parts,
    List<ScalarMethod> scalarMethods,
    List<FunctionConstant> functionConstants,
    List<GeometryField> geometries,
    Optional<List<MixedPlan>> mixed) {

  OperatorModel {
    mixed = mixed.map(List::copyOf);
    variables = List.copyOf(variables);
    losses = List.copyOf(losses);
    memoSlots = List.copyOf(memoSlots);
    parts = List.copyOf(parts);
    scalarMethods = List.copyOf(scalarMethods);
    functionConstants = List.copyOf(functionConstants);
    geometries = List.copyOf(geometries);
  }

  boolean isLoss() {
    return module.isLoss();
  }

  /** The plan of the variable named {@code wrt}. */
  VariablePlan variable(String wrt) {
    return variables.stream().filter(v -> v.name().equals(wrt)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException(module.name() + ": no variable plan for '" + wrt + "'"));
  }

  /**
   * Lowered statements and the local holding their result.
   *
   * @param code statements in backend calls (the directions' reshape first where there are directions)
   * @param result the local, or expression, holding the value
   */
  record Body(CodeBlock code, String result) {}

  /** An expression and the body computing it. */
  record Lowered(Expr expr, Body body) {}

  /**
   * What a module's class offers for one differentiable variable w, and the bodies of its methods.
   *
   * @param rule the derived rules (the compact forms are what is computed)
   * @param jacobian {@code J v}
   * @param jacobianTransposed {@code J' v}
   * @param jacobianTransposedSum {@code sum_n J_n' v_n}
   * @param residual {@code R v}; empty for a zero residual
   * @param residualDiagonal {@code diag(R)} for a diagonal residual
   * @param kroneckerFactor A with {@code J = kron(A', I)}, for a parameter whose Jacobian has that form
   * @param jacobianDiagonal the vector d of a Jacobian {@code diag(d)} (elementwise modules)
   * @param jacobianShared whether J is the same for every sample
   * @param jacobianIsDiagonal whether J is {@code diag(d)} or the identity
   * @param jacobianSelection the index map idx of a Jacobian {@code selection(idx, n)} (a gather)
   */
  record VariablePlan(
      ModuleRule rule,
      Body jacobian,
      Body jacobianTransposed,
      Body jacobianTransposedSum,
      Optional<Body> residual,
      Optional<Lowered> residualDiagonal,
      Optional<Lowered> kroneckerFactor,
      Optional<Lowered> jacobianDiagonal,
      boolean jacobianShared,
      boolean jacobianIsDiagonal,
      Optional<Lowered> jacobianSelection) {

    /** Whether J is {@code selection(idx, n)}: each output entry one entry of the variable, or zero. */
    boolean jacobianIsSelection() {
      return jacobianSelection.isPresent();
    }

    String name() {
      return rule.wrt().name();
    }

    ResidualKind residualKind() {
      return rule.residualKind();
    }
  }

  /**
   * What a loss's class offers for one input x, and the bodies of its methods.
   *
   * @param gradient dE/dx per sample
   * @param hessian {@code H v} with the loss Hessian
   */
  /**
   * A mixed residual {@code M_ab} of a module and its product {@code M v} (v in b's shape), lowered
   * where it is not zero.
   */
  record MixedPlan(org.hbp.derive.MixedResidual residual, Optional<Body> product) {
    /** The generated method, {@code mixedResidualMatProd_a_b}. */
    String method() {
      return "mixedResidualMatProd_" + residual.wrt().name() + "_" + residual.of().name();
    }
  }

  /**
   * A loss input's bodies: gradient, Hessian product and, where the Hessian has a derived factor
   * {@code H = S S'}, one product {@code S_i u} per block of S (empty otherwise).
   */
  record LossPlan(LossRule rule, Body gradient, Body hessian, List<Body> factor) {
    LossPlan {
      factor = List.copyOf(factor);
    }

    String name() {
      return rule.wrt().name();
    }

    /** Whether the Hessian was proven positive semi-definite. */
    boolean psd() {
      return Boolean.TRUE.equals(rule.psd().value());
    }
  }

  /** A forward-only subexpression computed once per forward pass, in {@code cache.memo(slot, ...)}. */
  record MemoSlot(int slot, Expr expr, Body body) {
    String method() {
      return Names.memoMethod(slot);
    }
  }

  /**
   * A private method computing part of a sum too large for one method (the JVM's 64 KB limit).
   *
   * @param usesDz whether it takes the output gradient {@code dz}
   * @param directions whether it takes directions {@code v} (then it computes {@code expr * v})
   */
  record PartMethod(String name, Expr expr, boolean usesDz, boolean directions, Body body) {}

  /**
   * A generated {@code private static double name(double parameter)}: an elementwise function, one
   * of its derivatives, or a derivative written in the function's value.
   */
  record ScalarMethod(String name, String parameter, CodeBlock javadoc, CodeBlock returned) {}

  /**
   * A {@code ScalarFunction} constant: a scalar method in Java (per entry and per chunk) and in
   * OpenCL C.
   *
   * @param field e.g. {@code FN_SIGMOID_D1}
   * @param method the scalar method it computes
   * @param openClSource the C definitions of the method and what it calls, callees first
   * @param builtin whether it is a built-in function, or a built-in's derivative from its value, whose
   *     name the constant carries
   */
  record FunctionConstant(String field, String method, String openClSource, boolean builtin) {}

  /** A convolution geometry evaluated once, in the constructor. */
  record GeometryField(String name, Expr.ConvDims geometry) {}
}
