package org.hbp.network;

import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * The math of a graph's merges, on batches in the merged value's item shape (rows x cols; a concat
 * stacks its inputs' rows, the first dim): {@code z = a + b}, {@code a - b}, {@code a .* b} and
 * {@code concat(a_1, ..., a_k)}. Their Jacobians: {@code +}: {@code (I, I)}; {@code -}:
 * {@code (I, -I)}; {@code .*}: {@code (diag(b), diag(a))}; concat: the row selections
 * {@code S_i} ({@code z = sum_i S_i a_i}). Only {@code .*} has a second derivative:
 * {@code d²(sum_k dz_k z_k)/(da db) = diag(dz)}, zero on the diagonal.
 */
final class Merges {
  private final Backend be;
  private final NetworkSpec.Merge merge;
  /** Item {rows, cols} of each input and of the output. */
  private final int[][] inItems;
  private final int[] outItem;
  /** For a concat: each input's row selection S_i (R x r_i, one sample), made once. */
  private List<Batch> selections;

  Merges(Backend be, NetworkSpec.Merge merge) {
    this.be = be;
    this.merge = merge;
    this.inItems = new int[merge.inputs().size()][];
    for (int i = 0; i < inItems.length; i++) inItems[i] = Network.itemOf(merge.inputShapes().get(i));
    this.outItem = Network.itemOf(merge.outputShape());
  }

  NetworkSpec.MergeOp op() {
    return merge.op();
  }

  int[] inputItem(int i) {
    return inItems[i];
  }

  int[] outputItem() {
    return outItem;
  }

  /** The merged value of the inputs (each in its item shape). */
  Batch forward(List<Batch> in) {
    return switch (merge.op()) {
      case ADD -> be.add(in.get(0), in.get(1));
      case SUBTRACT -> be.subtract(in.get(0), in.get(1));
      case MULTIPLY -> be.multiply(in.get(0), in.get(1));
      case CONCAT -> linear(in);
    };
  }

  /**
   * The directional derivative {@code sum_i J_i u_i} for directions u_i at the inputs (null:
   * zero), given the inputs' values; null if all are zero. Temporaries go to {@code temps}.
   */
  Batch tangent(List<Batch> values, List<Batch> u, List<Batch> temps) {
    Batch out = null;
    for (int i = 0; i < u.size(); i++) {
      if (u.get(i) == null) continue;
      Batch t = jac(i, values, u.get(i));
      if (t != u.get(i)) temps.add(t);
      if (out == null) out = t;
      else {
        out = be.add(out, t);
        temps.add(out);
      }
    }
    return out;
  }

  /** {@code J_i u} for the i-th input. */
  Batch jac(int i, List<Batch> values, Batch u) {
    return switch (merge.op()) {
      case ADD -> u;
      case SUBTRACT -> i == 0 ? u : be.scale(u, -1);
      case MULTIPLY -> be.multiply(values.get(1 - i), u);
      case CONCAT -> be.matmul(selection(i), false, u, false);
    };
  }

  /** {@code J_i' w} for the i-th input. */
  Batch jacT(int i, List<Batch> values, Batch w) {
    return switch (merge.op()) {
      case ADD -> w;
      case SUBTRACT -> i == 0 ? w : be.scale(w, -1);
      case MULTIPLY -> be.multiply(values.get(1 - i), w);
      case CONCAT -> be.matmul(selection(i), true, w, false);
    };
  }

  /** Whether the merge has a second derivative (only {@code .*}). */
  boolean hasResidual() {
    return merge.op() == NetworkSpec.MergeOp.MULTIPLY;
  }

  /**
   * For {@code .*}: the residual of the joint input (a, b) at output gradient dz,
   * {@code R = [[0, D], [D, 0]]}, {@code D = diag(dz)}, modified by {@code f} on its eigenvalues
   * ±dz_k (eigenvectors {@code (e_k, ±e_k)/√2}): {@code mod(R) = [[A, B], [B, A]]} with
   * {@code A = diag((f(dz) + f(-dz))/2)}, {@code B = diag((f(dz) - f(-dz))/2)}. Returns {A, B}
   * diagonals in the output's item shape (A = 0, B = dz for the Hessian).
   */
  Batch[] residualDiagonals(Batch dz, ResidualModification mod) {
    if (mod == ResidualModification.NONE) return new Batch[] {be.zerosLike(dz), dz};
    if (mod == ResidualModification.ZERO) return new Batch[] {be.zerosLike(dz), be.zerosLike(dz)};
    Batch neg = be.scale(dz, -1);
    Batch fp = be.map(dz, mod.function()), fn = be.map(neg, mod.function());
    Batch a = be.scale(be.add(fp, fn), 0.5), b = be.scale(be.subtract(fp, fn), 0.5);
    for (Batch t : List.of(neg, fp, fn)) be.release(t);
    return new Batch[] {a, b};
  }

  /** {@code sum_i S_i a_i}: the inputs stacked by rows. */
  private Batch linear(List<Batch> in) {
    Batch out = null;
    for (int i = 0; i < in.size(); i++) {
      Batch t = be.matmul(selection(i), false, in.get(i), false);
      if (out == null) out = t;
      else {
        Batch sum = be.add(out, t);
        be.release(out);
        be.release(t);
        out = sum;
      }
    }
    return out;
  }

  /** The row selection of input i of a concat: R x r_i, ones at (offset + k, k). */
  Batch selection(int i) {
    if (selections == null) {
      selections = new ArrayList<>();
      int rows = outItem[0], offset = 0;
      for (int[] item : inItems) {
        double[] s = new double[rows * item[0]];
        for (int k = 0; k < item[0]; k++) s[(offset + k) + rows * k] = 1;
        selections.add(be.fromArray(1, 1, rows, item[0], s));
        offset += item[0];
      }
    }
    return selections.get(i);
  }

  /** The dense Jacobian of input i per sample (numel(z) x numel(a_i)), from its values. */
  Batch jacobian(int i, List<Batch> values, int samples) {
    int n = outItem[0] * outItem[1], m = inItems[i][0] * inItems[i][1];
    return switch (merge.op()) {
      case ADD -> be.eye(n);
      case SUBTRACT -> i == 0 ? be.eye(n) : be.scale(be.eye(n), -1);
      case MULTIPLY -> be.diagMatrix(be.reshape(values.get(1 - i), n, 1));
      case CONCAT -> be.kron(be.eye(outItem[1]), selection(i)); // vec(S a) = (I ⊗ S) vec(a)
    };
  }
}
