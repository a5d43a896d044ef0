package org.hbp.spectrum;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.network.Network;

/**
 * Vectors over some parameters of a network, one after another in the given order, each
 * parameter's entries in hbp's column-major vec order (the order of {@code Curvature.dense}), as
 * the columns of an {@code n x k} matrix; and the same k vectors as directions of each parameter
 * ({@code Batch [1 x k] rows x cols}), the form curvature products take.
 */
public final class ParameterVectors {
  private final Backend be;
  private final List<String> names;
  private final Map<String, int[]> shapes = new LinkedHashMap<>();
  private final Map<String, Integer> offsets = new LinkedHashMap<>();
  private final int dimension;

  public ParameterVectors(Network net, List<String> names) {
    this.be = net.backend();
    this.names = List.copyOf(names);
    int n = 0;
    for (String p : this.names) {
      int[] s = net.parameterShape(p);
      shapes.put(p, s);
      offsets.put(p, n);
      n += s[0] * s[1];
    }
    this.dimension = n;
  }

  /** The total number of entries n. */
  public int dimension() {
    return dimension;
  }

  public List<String> names() {
    return names;
  }

  /** The columns of {@code v} ({@code n x k}) as k directions of each parameter. */
  public Map<String, Batch> toDirections(DMatrixRMaj v) {
    if (v.numRows != dimension) throw new IllegalArgumentException("vectors of " + v.numRows + " entries for " + dimension);
    int k = v.numCols;
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : names) {
      int[] s = shapes.get(p);
      int size = s[0] * s[1], off = offsets.get(p);
      double[] data = new double[size * k];
      for (int i = 0; i < size; i++) {
        int row = (off + i) * k;
        for (int c = 0; c < k; c++) data[c * size + i] = v.data[row + c];
      }
      out.put(p, be.fromArray(1, k, s[0], s[1], data));
    }
    return out;
  }

  /** The inverse of {@link #toDirections}: each parameter's k directions stacked into the columns of an {@code n x k} matrix. */
  public DMatrixRMaj fromDirections(Map<String, Batch> directions, int k) {
    DMatrixRMaj out = new DMatrixRMaj(dimension, k);
    for (String p : names) {
      Batch b = directions.get(p);
      if (b == null) throw new IllegalArgumentException("no result for parameter '" + p + "'");
      int[] s = shapes.get(p);
      int size = s[0] * s[1], off = offsets.get(p);
      if (b.itemSize() != size || b.items() != k)
        throw new IllegalArgumentException("result for '" + p + "' is " + b.describe() + ", expected [1 x " + k + "] " + s[0] + "x" + s[1]);
      double[] data = be.toArray(b);
      for (int i = 0; i < size; i++) {
        int row = (off + i) * k;
        for (int c = 0; c < k; c++) out.data[row + c] = data[c * size + i];
      }
    }
    return out;
  }

  /** Releases batches made by {@link #toDirections} (backends that pool memory). */
  void release(Map<String, Batch> batches) {
    for (Batch b : batches.values()) be.release(b);
  }

  /** Releases one batch a product returned. */
  void release(Batch b) {
    be.release(b);
  }
}
