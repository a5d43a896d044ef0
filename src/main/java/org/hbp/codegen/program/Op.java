package org.hbp.codegen.program;

import org.hbp.calculus.Dim;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.codegen.program.Value.ItemShape;
import org.hbp.codegen.program.Value.Ownership;

/**
 * One kernel of a {@link Program}: what it computes from its input {@link Value}s, never how a
 * target spells it. Each op states the item shape of its result and who owns the result's storage;
 * equal ops (same kind, same input values, same parameters) compute equal results, which is what
 * common-subexpression elimination relies on. Value components are the op's inputs, in order.
 */
public sealed interface Op {
  /** The item shape of the result. */
  ItemShape shape();

  /** Who owns the result: a new allocation unless the op says otherwise. */
  default Ownership ownership() {
    return Ownership.OWNED;
  }

  /** An op whose result items have the shape of its operand {@code a}'s. */
  sealed interface SameShape extends Op {
    Value a();

    default ItemShape shape() {
      return a().items();
    }
  }

  /** An op whose result is one number per item (a trace, sum, log-sum-exp or determinant of the item). */
  sealed interface PerItemScalar extends Op {
    default ItemShape shape() {
      return ItemShape.SCALAR;
    }
  }

  /** An elementwise function's derivative of some order, of its argument or (ofValue) of its value u = f(t). */
  record Fn(ElementwiseFunction function, int order, boolean ofValue) {}

  // ---- values from outside the program --------------------------------------------------

  /** The value of a leaf variable, or (known) of an expression the caller already holds (the module's output). */
  record Leaf(Expr expr, boolean known, ItemShape shape) implements Op {
    public Ownership ownership() {
      return Ownership.EXTERNAL;
    }
  }

  /** A forward-only subexpression from the forward cache's memo slot {@code slot}, computed once per forward pass. */
  record Memo(Expr expr, int slot, ItemShape shape) implements Op {
    public Ownership ownership() {
      return Ownership.MEMOIZED;
    }
  }

  /**
   * Part {@code index} of a large sum, computed by a helper of the target (a method in Java): the
   * value of expr, or with a direction batch (null: none), expr times it. The helper reads the
   * direction by its name: it keeps its name.
   */
  record Part(Expr expr, Value direction, int index, ItemShape shape) implements Op {
    public Ownership ownership() {
      return Ownership.EXTERNAL;
    }
  }

  // ---- constants ------------------------------------------------------------------------

  record Fill(Dim rows, Dim cols, double value) implements Op {
    public ItemShape shape() {
      return new ItemShape(rows, cols);
    }
  }

  /** A 1x1 item holding a dimension's value. */
  record DimFill(Dim value) implements Op {
    public ItemShape shape() {
      return ItemShape.SCALAR;
    }
  }

  record Eye(Dim n) implements Op {
    public ItemShape shape() {
      return new ItemShape(n, n);
    }
  }

  // ---- elementwise ------------------------------------------------------------------------

  record Add(Value a, Value b) implements Op {
    public ItemShape shape() {
      return broadcast(a, b);
    }
  }

  record Subtract(Value a, Value b) implements Op {
    public ItemShape shape() {
      return broadcast(a, b);
    }
  }

  /** The Hadamard product (a 1x1 operand scales the other). */
  record Multiply(Value a, Value b) implements Op {
    public ItemShape shape() {
      return broadcast(a, b);
    }
  }

  record Scale(Value a, double coefficient) implements SameShape {}

  record Power(Value a, double exponent) implements SameShape {}

  /** f applied to every entry. */
  record Map(Value a, Fn f) implements SameShape {}

  /**
   * {@code f(a) .* b}: a diagonal Jacobian applied in one pass; where {@code f(a)} is memoized,
   * {@code storedSlot} is its memo slot (else null), for a backend that multiplies the stored map
   * faster (into several directions of b).
   */
  record MapMultiply(Value a, Fn f, Value b, Integer storedSlot) implements Op {
    public ItemShape shape() {
      return broadcast(a, b);
    }
  }

  // ---- products -----------------------------------------------------------------------------

  /** {@code op(a) * op(b)} per item. */
  record MatMul(Value a, boolean transposeA, Value b, boolean transposeB) implements Op {
    public ItemShape shape() {
      return product(a, transposeA, b, transposeB);
    }
  }

  /** {@code op(a) * op(b) + c} per item: a product with its term (a bias) in one kernel. */
  record MatMulAdd(Value a, boolean transposeA, Value b, boolean transposeB, Value c) implements Op {
    public ItemShape shape() {
      return product(a, transposeA, b, transposeB);
    }
  }

  /** {@code sum_n op(a_n) * op(b_n)} over the batch's samples. */
  record SumProducts(Value a, boolean transposeA, Value b, boolean transposeB) implements Op {
    public ItemShape shape() {
      return product(a, transposeA, b, transposeB);
    }
  }

  record Transpose(Value a) implements Op {
    public ItemShape shape() {
      return a.items().transposed();
    }
  }

  record Kron(Value a, Value b) implements Op {
    public ItemShape shape() {
      return new ItemShape(a.items().rows().times(b.items().rows()), a.items().cols().times(b.items().cols()));
    }
  }

  // ---- views ---------------------------------------------------------------------------------

  record Reshape(Value a, Dim rows, Dim cols) implements Op {
    public ItemShape shape() {
      return new ItemShape(rows, cols);
    }

    public Ownership ownership() {
      return Ownership.VIEW;
    }
  }

  /** Each column of the items a direction of its own: items rows x 1. */
  record ColumnsAsDirections(Value a) implements Op {
    public ItemShape shape() {
      return ItemShape.column(a.items().rows());
    }

    public Ownership ownership() {
      return Ownership.VIEW;
    }
  }

  /** The inverse of {@link ColumnsAsDirections}: cols directions side by side as the columns of one item. */
  record DirectionsAsColumns(Value a, Dim cols) implements Op {
    public ItemShape shape() {
      return new ItemShape(a.items().rows(), cols);
    }

    public Ownership ownership() {
      return Ownership.VIEW;
    }
  }

  /** The sum over the batch's samples (the value itself when it has one sample: a possible view). */
  record SamplesSum(Value a) implements SameShape {
    public Ownership ownership() {
      return Ownership.VIEW;
    }
  }

  // ---- per-item matrix functions and reductions ---------------------------------------------------

  record DiagMatrix(Value a) implements Op {
    public ItemShape shape() {
      return new ItemShape(a.items().numel(), a.items().numel());
    }
  }

  record Diagonal(Value a) implements Op {
    public ItemShape shape() {
      return ItemShape.column(a.items().rows());
    }
  }

  record Trace(Value a) implements PerItemScalar {}

  /** The sum of an item's entries. */
  record Sum(Value a) implements PerItemScalar {}

  record Softmax(Value a) implements SameShape {}

  record LogSumExp(Value a) implements PerItemScalar {}

  record Inverse(Value a) implements SameShape {}

  record Determinant(Value a) implements PerItemScalar {}

  // ---- convolutions, gather and scatter -------------------------------------------------------

  record Unfold(Value x, Expr.ConvDims geometry) implements Op {
    public ItemShape shape() {
      return new ItemShape(geometry.patchRows(), geometry.patches());
    }
  }

  /** The adjoint of {@link Unfold}. */
  record Fold(Value columns, Expr.ConvDims geometry) implements Op {
    public ItemShape shape() {
      return new ItemShape(geometry.c(), geometry.h().times(geometry.w()));
    }
  }

  /** {@code w * unfold(x) + bias * ones'}, or without the bias when it is null. */
  record Convolution(Value w, Value x, Expr.ConvDims geometry, Value bias) implements Op {
    public ItemShape shape() {
      return new ItemShape(w.items().rows(), geometry.patches());
    }
  }

  /**
   * {@code w_d * unfold(x_n)} for every direction d of w and sample n of x: a convolution with the
   * directions as its filters (a convolution's {@code J_W v}). A backend without a direct
   * convolution multiplies by the forward pass's unfolding instead, memo slot
   * {@code unfoldingSlot}.
   */
  record ConvolutionOfDirections(Value w, Value x, Expr.ConvDims geometry, int unfoldingSlot) implements Op {
    public ItemShape shape() {
      return new ItemShape(w.items().rows(), geometry.patches());
    }
  }

  /** {@code fold(w' * y)}: the adjoint of a convolution in its input. */
  record ConvolutionAdjoint(Value w, Value y, Expr.ConvDims geometry) implements Op {
    public ItemShape shape() {
      return new ItemShape(geometry.c(), geometry.h().times(geometry.w()));
    }
  }

  /** {@code sum_n y_n * unfold(x_n)'}: a convolution's weight gradient, summed over the batch. */
  record SumConvolutionWeightGradients(Value y, Value x, Expr.ConvDims geometry) implements Op {
    public ItemShape shape() {
      return new ItemShape(y.items().rows(), geometry.patchRows());
    }
  }

  /** {@code out[j] = x[index[j]]}, items shaped like the index's. */
  record Gather(Value x, Value index) implements Op {
    public ItemShape shape() {
      return index.items();
    }
  }

  /** The adjoint of {@link Gather}: {@code out[index[j]] += g[j]}, items rows x cols. */
  record ScatterAdd(Value g, Value index, Dim rows, Dim cols) implements Op {
    public ItemShape shape() {
      return new ItemShape(rows, cols);
    }
  }

  private static ItemShape broadcast(Value a, Value b) {
    return a.items().isScalar() ? b.items() : a.items();
  }

  private static ItemShape product(Value a, boolean ta, Value b, boolean tb) {
    return new ItemShape(ta ? a.items().cols() : a.items().rows(), tb ? b.items().rows() : b.items().cols());
  }
}
