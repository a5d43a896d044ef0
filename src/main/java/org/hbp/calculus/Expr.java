package org.hbp.calculus;

import java.util.List;

/**
 * The typed, immutable expression IR. Every node knows its {@link Shape}; constructors check the
 * invariants they rely on (the front end reports user-facing shape errors before building nodes).
 *
 * <p>Conventions: vec is column-major; a scalar is 1x1; a vector is n x 1. Products of 1x1 factors
 * are {@link Hadamard}; a symbolic scalar times a non-scalar is {@link ScalarMul}; a numeric
 * coefficient is {@link Scale}; {@code a ./ b} is {@code a .* b.^-1}.
 */
public sealed interface Expr {
  Shape shape();

  /** What a variable stands for. */
  enum Role {
    INPUT, PARAM, DATA, INDEX, TARGET,
    /** the gradient flowing back, {@code dz} */
    GRADIENT,
    /** the (symmetric) Hessian flowing back, {@code Hz} */
    HESSIAN,
    /** a free variable of an ad-hoc expression or of an elementwise function body */
    FREE,
    /** the differential {@code dX} of a variable X: the placeholder of linear forms */
    DIFFERENTIAL
  }

  /** A node whose value is one number (1x1): a constant, a dimension, or a trace, sum, log-sum-exp or determinant. */
  sealed interface ScalarValued extends Expr {
    default Shape shape() {
      return Shape.SCALAR;
    }
  }

  /** A named variable. */
  record Var(String name, Shape shape, Role role) implements Expr {}

  /** A scalar constant. */
  record Num(double value) implements ScalarValued {}

  /** A dimension used as a scalar value, e.g. {@code X / (k*k)}. */
  record DimValue(Dim dim) implements ScalarValued {}

  /** All-zero value of the given shape (symbolic zero). */
  record Zero(Shape shape) implements Expr {}

  /** All-ones value: {@code ones(m,n)}, {@code ones(n)}, {@code ones(c,h,w)}. */
  record Ones(Shape shape) implements Expr {}

  /** The identity matrix {@code eye(n)}. */
  record Eye(Dim n) implements Expr {
    public Shape shape() {
      return Shape.matrix(n, n);
    }
  }

  /** The commutation matrix {@code commutation(m,n)}: K vec(A) = vec(A') for A of m x n. */
  record Commutation(Dim m, Dim n) implements Expr {
    public Shape shape() {
      Dim mn = m.times(n);
      return Shape.matrix(mn, mn);
    }
  }

  /** The n^2 x n matrix {@code diagonalizer(n)} with vec(diag(v)) = diagonalizer(n)*v. */
  record Diagonalizer(Dim n) implements Expr {
    public Shape shape() {
      return Shape.matrix(n.times(n), n);
    }
  }

  /**
   * The selection matrix {@code selection(idx, n)} of an index map: row j has a one in column
   * idx(j) (column-major index into the source), or no one where idx(j) = -1 (a padded zero).
   */
  record Selection(Var index, Dim n) implements Expr {
    public Shape shape() {
      return Shape.matrix(index.shape().numel(), n);
    }
  }

  /** Hyper-parameters of an unfold (square kernel, equal stride/padding/dilation in both axes). */
  record ConvDims(Dim c, Dim h, Dim w, Dim kernel, Dim stride, Dim padding, Dim dilation) {
    /** Output height: (h + 2p - d(k-1) - 1)/s + 1. */
    public Dim outH() {
      return out(h);
    }

    public Dim outW() {
      return out(w);
    }

    private Dim out(Dim size) {
      Dim span = dilation.times(kernel.minus(Dim.ONE)).plus(Dim.ONE);
      return size.plus(Dim.of(2).times(padding)).minus(span).floorDiv(stride).plus(Dim.ONE);
    }

    /** Rows of the unfolded matrix: c*k*k (channel slowest, kernel column fastest). */
    public Dim patchRows() {
      return c.times(kernel).times(kernel);
    }

    /** Columns of the unfolded matrix: the number of patches outH*outW. */
    public Dim patches() {
      return outH().times(outW());
    }
  }

  /** The unfolding matrix {@code unfolding(c,h,w,k,s,p,d)} U with vec(unfold(X)) = U vec(X). */
  record Unfolding(ConvDims geometry) implements Expr {
    public Shape shape() {
      Dim out = geometry.patchRows().times(geometry.patches());
      return Shape.matrix(out, Shape.tensor(geometry.c(), geometry.h(), geometry.w()).numel());
    }
  }

  /**
   * The operands of an n-ary entrywise node (sum, Hadamard product), copied: at least two
   * ({@code tooFew} otherwise), all of one shape (else a {@link ShapeException} naming the
   * {@code combination} and the two shapes).
   */
  private static List<Expr> equallyShaped(List<Expr> operands, String tooFew, String combination) {
    List<Expr> copy = List.copyOf(operands);
    if (copy.size() < 2) throw new IllegalArgumentException(tooFew);
    Shape s = copy.get(0).shape();
    for (Expr t : copy) if (!t.shape().equals(s)) throw new ShapeException(combination + " of " + s + " and " + t.shape());
    return copy;
  }

  /** n-ary sum of equally shaped terms. */
  record Add(List<Expr> terms) implements Expr {
    public Add {
      terms = equallyShaped(terms, "Add needs two terms", "sum");
    }

    public Shape shape() {
      return terms.get(0).shape();
    }
  }

  /** A numeric coefficient times an expression. */
  record Scale(double coefficient, Expr operand) implements Expr {
    public Shape shape() {
      return operand.shape();
    }
  }

  /** A symbolic scalar (1x1) times a non-scalar expression. */
  record ScalarMul(Expr scalar, Expr operand) implements Expr {
    public ScalarMul {
      if (!scalar.shape().isScalar()) throw new ShapeException("scalar factor of shape " + scalar.shape());
    }

    public Shape shape() {
      return operand.shape();
    }
  }

  /** A chain of matrix products, conformant. */
  record MatMul(List<Expr> factors) implements Expr {
    public MatMul {
      factors = List.copyOf(factors);
      if (factors.size() < 2) throw new IllegalArgumentException("MatMul needs two factors");
      for (int i = 0; i + 1 < factors.size(); i++) {
        Shape a = factors.get(i).shape(), b = factors.get(i + 1).shape();
        if (a.isTensor() || b.isTensor() || !a.cols().equals(b.rows()))
          throw new ShapeException("product of " + a + " and " + b);
      }
    }

    public Shape shape() {
      return Shape.matrix(factors.get(0).shape().rows(), factors.get(factors.size() - 1).shape().cols());
    }
  }

  /** Transpose of a matrix. */
  record Transpose(Expr operand) implements Expr {
    public Transpose {
      if (operand.shape().isTensor()) throw new ShapeException("transpose of a tensor");
    }

    public Shape shape() {
      return operand.shape().transpose();
    }
  }

  /** n-ary elementwise (Hadamard) product of equally shaped factors. */
  record Hadamard(List<Expr> factors) implements Expr {
    public Hadamard {
      factors = equallyShaped(factors, "Hadamard needs two factors", "Hadamard product");
    }

    public Shape shape() {
      return factors.get(0).shape();
    }
  }

  /** Elementwise power with a constant exponent, {@code X.^p}. */
  record Power(Expr base, double exponent) implements Expr {
    public Shape shape() {
      return base.shape();
    }
  }

  /** Kronecker product {@code kron(A,B)}. */
  record Kron(Expr left, Expr right) implements Expr {
    public Kron {
      if (left.shape().isTensor() || right.shape().isTensor()) throw new ShapeException("Kronecker product of a tensor");
    }

    public Shape shape() {
      Shape a = left.shape(), b = right.shape();
      return Shape.matrix(a.rows().times(b.rows()), a.cols().times(b.cols()));
    }
  }

  /** Column-major vectorization. */
  record Vec(Expr operand) implements Expr {
    public Shape shape() {
      return Shape.vector(operand.shape().numel());
    }
  }

  /** Column-major reshape to a shape with the same number of entries. */
  record Reshape(Expr operand, Shape target) implements Expr {
    public Reshape {
      if (!operand.shape().numel().equals(target.numel()))
        throw new ShapeException("reshape of " + operand.shape() + " to " + target);
    }

    public Shape shape() {
      return target;
    }
  }

  /** {@code diag(v)}: the diagonal matrix of a vector. */
  record DiagMat(Expr vector) implements Expr {
    public DiagMat {
      if (!vector.shape().isColumn()) throw new ShapeException("diag of " + vector.shape());
    }

    public Shape shape() {
      Dim n = vector.shape().rows();
      return Shape.matrix(n, n);
    }
  }

  /** {@code diag(M)} of a square matrix: the vector of its diagonal. */
  record DiagVec(Expr matrix) implements Expr {
    public Shape shape() {
      return Shape.vector(matrix.shape().rows());
    }
  }

  /** Trace of a square matrix. */
  record Trace(Expr matrix) implements ScalarValued {}

  /** Sum of all entries. */
  record Sum(Expr operand) implements ScalarValued {}

  /**
   * An elementwise scalar function, or its {@code order}-th derivative ({@code f'(x)} for order 1),
   * applied entrywise.
   */
  record Apply(ElementwiseFunction function, int order, Expr argument) implements Expr {
    public Shape shape() {
      return argument.shape();
    }
  }

  /**
   * {@code softmax(x)} of a vector, or of each column of a matrix: column j of the result is
   * {@code exp(s_j) / sum(exp(s_j))} for column s_j (the attention weights of {@code softmax(K'*Q)}).
   */
  record Softmax(Expr vector) implements Expr {
    public Softmax {
      if (vector.shape().isTensor()) throw new ShapeException("softmax of a tensor");
    }

    public Shape shape() {
      return vector.shape();
    }
  }

  /** {@code logsumexp(x)} of a vector (or of all entries). */
  record LogSumExp(Expr operand) implements ScalarValued {}

  /**
   * {@code logsumexp_cols(X)} of an m x n matrix: the 1 x n row of the log-sum-exps of its columns,
   * {@code log(ones(m)' * exp(X))} computed stably ({@code logsumexp(X)} of a vector for n = 1).
   */
  record ColumnLogSumExp(Expr matrix) implements Expr {
    public ColumnLogSumExp {
      if (matrix.shape().isTensor()) throw new ShapeException("logsumexp_cols of a tensor");
    }

    public Shape shape() {
      return Shape.matrix(Dim.ONE, matrix.shape().cols());
    }
  }

  /**
   * Elementwise {@code max(a, b)} of equally shaped operands (the front end broadcasts a scalar).
   * Differentiable away from ties: {@code d max(a, b) = s .* da + (1 - s) .* db} with {@code s =
   * step(a - b)}, taking b's side on ties as relu does (step(0) = 0).
   */
  record Max(Expr left, Expr right) implements Expr {
    public Max {
      if (!left.shape().equals(right.shape())) throw new ShapeException("max of " + left.shape() + " and " + right.shape());
    }

    public Shape shape() {
      return left.shape();
    }
  }

  /** Elementwise {@code min(a, b)}: {@code d min(a, b) = (1 - s) .* da + s .* db}, {@code s = step(a - b)}. */
  record Min(Expr left, Expr right) implements Expr {
    public Min {
      if (!left.shape().equals(right.shape())) throw new ShapeException("min of " + left.shape() + " and " + right.shape());
    }

    public Shape shape() {
      return left.shape();
    }
  }

  /** Matrix inverse. */
  record Inv(Expr matrix) implements Expr {
    public Shape shape() {
      return matrix.shape();
    }
  }

  /** Determinant. */
  record Det(Expr matrix) implements ScalarValued {}

  /**
   * {@code unfold(X, k, s, p, d)} of a tensor(c,h,w): the (c*k*k) x (outH*outW) matrix of patches.
   * Row r = (ch*k + ki)*k + kj (as PyTorch's weight flattening); column = oh + outH*ow
   * (column-major over the output grid, so reshape to tensor(c_out,outH,outW) needs no permutation).
   */
  record Unfold(Expr tensor, ConvDims geometry) implements Expr {
    public Shape shape() {
      return Shape.matrix(geometry.patchRows(), geometry.patches());
    }
  }

  /**
   * {@code gather(X, idx)}: entry j of the result (column-major) is vec(X)[idx(j)], or 0 where
   * idx(j) = -1. The result has the shape of the index map.
   */
  record Gather(Expr source, Var index) implements Expr {
    public Shape shape() {
      return index.shape();
    }
  }
}
