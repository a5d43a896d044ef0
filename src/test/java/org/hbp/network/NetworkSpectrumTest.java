package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.hbp.backend.Batch;
import org.hbp.spectrum.CurvatureOperators;
import org.hbp.spectrum.Hutchinson;
import org.hbp.spectrum.Lanczos;
import org.hbp.spectrum.ParameterVectors;
import org.hbp.spectrum.SpectralDensity;
import org.hbp.spectrum.SymmetricOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Spectra of curvature blocks of small nets, through the block adapters ({@link CurvatureOperators})
 * that send a block of vectors as the directions of one product, against dense blocks
 * eigendecomposed by EJML: the block hbp forms densely ({@link Curvature#dense}, one product with
 * the identity; it agrees with the reference to {@link NetworkCurvatureTest#TOL}) for the 1e-8
 * agreement of Lanczos, and the independent fp64 reference ({@link DenseReference}, written from
 * the paper's equations in EJML) to {@link #REFERENCE_TOL}, the agreement of the blocks themselves
 * (measured: up to about 5e-8 relative on these nets). Hutchinson's trace and SLQ's mean are checked
 * against the reference's exact trace within their standard errors.
 */
class NetworkSpectrumTest {
  static final Lanczos.Settings TIGHT = new Lanczos.Settings(200, 1e-12, 3);

  /** Agreement of eigenvalues with those of the independent reference's blocks, relative to the largest magnitude. */
  static final double REFERENCE_TOL = 1e-6;

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String net : List.of("fc", "residual", "skip", "cnn")) {
      for (CurvatureKind kind : List.of(CurvatureKind.GGN, CurvatureKind.HESSIAN)) out.add(Arguments.of(net, kind));
    }
    return out.stream();
  }

  /** Eigenvalues, descending, and the unit eigenvectors as columns in that order. */
  static double[] eigenvalues(DMatrixRMaj a, DMatrixRMaj vectorsOut) {
    int n = a.numRows;
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    assertTrue(eig.decompose(a.copy()));
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    Arrays.sort(order, (x, y) -> Double.compare(eig.getEigenvalue(y).getReal(), eig.getEigenvalue(x).getReal()));
    double[] v = new double[n];
    vectorsOut.reshape(n, n);
    for (int c = 0; c < n; c++) {
      v[c] = eig.getEigenvalue(order[c]).getReal();
      DMatrixRMaj e = eig.getEigenVector(order[c]);
      double norm = Math.sqrt(CommonOps_DDRM.dot(e, e));
      for (int r = 0; r < n; r++) vectorsOut.set(r, c, e.get(r) / norm);
    }
    return v;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void lanczosTopEigenpairsOfEveryBlockMatchTheDenseReference(String name, CurvatureKind kind) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net(name), 3, 21);
    Curvature c = s.pass().curvature(kind, Strategy.EXACT);
    Map<String, DMatrixRMaj> ref = s.reference().blocks(kind, Strategy.EXACT);
    Map<String, SymmetricOperator> ops = CurvatureOperators.everyBlock(s.net, c, 1);
    assertEquals(s.net.parameterNames(), new ArrayList<>(ops.keySet()));
    for (String p : s.net.parameterNames()) {
      DMatrixRMaj u = new DMatrixRMaj(1, 1);
      double[] exact = eigenvalues(NetworkCurvatureTest.dense(c, p, 1), u);
      double[] reference = eigenvalues(ref.get(p), new DMatrixRMaj(1, 1));
      int n = exact.length, k = Math.min(3, n);
      Lanczos.Result r = Lanczos.top(ops.get(p), k, TIGHT);
      double scale = Math.max(1, Math.max(Math.abs(exact[0]), Math.abs(exact[n - 1])));
      String where = name + " " + kind + " " + p;
      assertTrue(r.converged(), where);
      for (int i = 0; i < k; i++) {
        assertEquals(exact[i], r.values()[i], 1e-8 * scale, where + " eigenvalue " + i);
        assertEquals(reference[i], r.values()[i], REFERENCE_TOL * scale, where + " eigenvalue " + i + " of the reference");
        // the eigenvector, up to sign, where the eigenvalue is separated from its neighbours
        double gap = Math.min(i > 0 ? exact[i - 1] - exact[i] : Double.POSITIVE_INFINITY, i + 1 < n ? exact[i] - exact[i + 1] : Double.POSITIVE_INFINITY);
        if (gap > 1e-3 * scale) {
          double dot = 0;
          for (int j = 0; j < n; j++) dot += r.vectors().get(j, i) * u.get(j, i);
          assertEquals(1, Math.abs(dot), 1e-6, where + " eigenvector " + i + " (gap " + gap + ")");
        }
      }
    }
  }

  /**
   * Per-layer spectra ({@link CurvatureOperators#everyLayer}: each layer's joint block over all its
   * parameters, cross terms included) against the independent reference's joint blocks
   * ({@link DenseReference#layerBlocks}: the paper's recursion in EJML with finite differences, the
   * cross terms {@code J_p' H_z J_q} and, for the Hessian, the mixed residuals by cross differences),
   * eigendecomposed by EJML: Lanczos's top eigenvalues to {@link #REFERENCE_TOL} and its
   * eigenvectors (the parameters stacked in the layer's order, each in vec order) up to sign where
   * the eigenvalue is separated; Hutchinson's trace within four standard errors of the exact trace.
   * So that the check tells the joint block from the block-diagonal one, on every layer of several
   * parameters the reference's top eigenvalue differs from that of its block-diagonal part by more
   * than the tolerance.
   */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void everyLayersJointBlockHasTheSpectrumOfTheDenseReference(String name, CurvatureKind kind) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net(name), 3, 24);
    Curvature c = s.pass().curvature(kind, Strategy.EXACT);
    Map<String, DMatrixRMaj> ref = s.reference().layerBlocks(kind);
    Map<String, SymmetricOperator> ops = CurvatureOperators.everyLayer(s.net, c);
    assertEquals(new java.util.HashSet<>(ref.keySet()), new java.util.HashSet<>(ops.keySet()), "the layers with parameters");
    int joint = 0;
    for (Map.Entry<String, SymmetricOperator> e : ops.entrySet()) {
      String layer = e.getKey(), where = name + " " + kind + " layer " + layer;
      DMatrixRMaj a = symmetrized(ref.get(layer), 1e-6);
      DMatrixRMaj u = new DMatrixRMaj(1, 1);
      double[] exact = eigenvalues(a, u);
      int n = exact.length, k = Math.min(3, n);
      assertEquals(n, e.getValue().dimension(), where);
      Lanczos.Result r = Lanczos.top(e.getValue(), k, TIGHT);
      double scale = Math.max(1, Math.max(Math.abs(exact[0]), Math.abs(exact[n - 1])));
      assertTrue(r.converged(), where);
      for (int i = 0; i < k; i++) {
        assertEquals(exact[i], r.values()[i], REFERENCE_TOL * scale, where + " eigenvalue " + i);
        double gap = Math.min(i > 0 ? exact[i - 1] - exact[i] : Double.POSITIVE_INFINITY, i + 1 < n ? exact[i] - exact[i + 1] : Double.POSITIVE_INFINITY);
        if (gap > 1e-3 * scale) {
          double dot = 0;
          for (int j = 0; j < n; j++) dot += r.vectors().get(j, i) * u.get(j, i);
          assertEquals(1, Math.abs(dot), 1e-5, where + " eigenvector " + i + " (gap " + gap + ")");
        }
      }
      int m = 400;
      Hutchinson.Estimate h = Hutchinson.estimate(e.getValue(), m, 50, 7);
      assertEquals(CommonOps_DDRM.trace(a), h.trace(), 4 * Math.sqrt(probeVariance(a) / m) + REFERENCE_TOL * scale, where + " trace");
      List<String> params = Curvature.namedLayerGroups(s.net).get(layer);
      if (params.size() > 1) {
        DMatrixRMaj blockDiagonal = new DMatrixRMaj(n, n);
        int off = 0;
        for (String p : params) {
          int size = s.net.parameterSize(p);
          DMatrixRMaj b = CommonOps_DDRM.extract(a, off, off + size, off, off + size);
          CommonOps_DDRM.insert(b, blockDiagonal, off, off);
          off += size;
        }
        double separate = eigenvalues(blockDiagonal, new DMatrixRMaj(1, 1))[0];
        assertTrue(Math.abs(separate - exact[0]) > 100 * REFERENCE_TOL * scale,
            where + ": the joint block's top eigenvalue " + exact[0] + " is that of the separate blocks " + separate);
        joint++;
      }
    }
    assertTrue(joint > 0, name + ": no layer of several parameters");
  }

  /** {@code 2 (|A|_F² - Σ A_jj²)}: the variance of one Rademacher probe's {@code z'Az}. */
  static double probeVariance(DMatrixRMaj a) {
    double f = 0, d = 0;
    for (int i = 0; i < a.numRows; i++) {
      for (int j = 0; j < a.numCols; j++) f += a.get(i, j) * a.get(i, j);
      d += a.get(i, i) * a.get(i, i);
    }
    return 2 * (f - d);
  }

  @Test
  void hutchinsonAndSlqOfABlockAgreeWithTheExactTrace() {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net("cnn"), 3, 22);
    Curvature c = s.pass().curvature(CurvatureKind.HESSIAN, Strategy.EXACT);
    Map<String, DMatrixRMaj> ref = s.reference().blocks(CurvatureKind.HESSIAN, Strategy.EXACT);
    String p = s.net.parameterNames().get(0); // the convolution's weight
    DMatrixRMaj a = ref.get(p);
    int n = a.numRows, m = 2000;
    SymmetricOperator op = CurvatureOperators.block(s.net, c, p, 1);
    Hutchinson.Estimate h = Hutchinson.estimate(op, m, 50, 5);
    double exactStderr = Math.sqrt(probeVariance(a) / m);
    assertTrue(exactStderr > 0);
    assertEquals(CommonOps_DDRM.trace(a), h.trace(), 4 * exactStderr);
    assertEquals(exactStderr, h.traceStderr(), 0.15 * exactStderr);
    for (int j = 0; j < n; j++) {
      double off = 0;
      for (int l = 0; l < n; l++) if (l != j) off += a.get(j, l) * a.get(j, l);
      assertEquals(a.get(j, j), h.diagonal()[j], 5 * Math.sqrt(off / m) + 1e-12, "diagonal " + j);
    }
    int starts = 200;
    SpectralDensity.Quadrature q = SpectralDensity.quadrature(op, starts, n, 6);
    SpectralDensity.Density d = SpectralDensity.density(q, 0.01, 3000);
    double mass = 0, mean = 0;
    for (int i = 1; i < d.grid().length; i++) {
      double dt = d.grid()[i] - d.grid()[i - 1];
      mass += dt * (d.density()[i] + d.density()[i - 1]) / 2;
      mean += dt * (d.grid()[i] * d.density()[i] + d.grid()[i - 1] * d.density()[i - 1]) / 2;
    }
    assertEquals(1, mass, 1e-6);
    assertEquals(CommonOps_DDRM.trace(a) / n, mean, 4 * Math.sqrt(probeVariance(a) / starts) / n);
  }

  /**
   * The whole-network operator of {@code hbp spectrum --scope net} ({@link Pass#networkProduct},
   * off-diagonal blocks included; checked against autograd by NetworkProductsTest): Lanczos's top
   * eigenvalues equal those of the operator made dense and eigendecomposed by EJML, and, by Cauchy's
   * interlacing theorem, the largest is at least the largest of every diagonal block of the
   * independent reference.
   */
  @ParameterizedTest
  @MethodSource("wholeNetworkKinds")
  void theWholeNetworkOperatorsTopEigenvalues(CurvatureKind kind) {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net("residual"), 3, 29);
    Pass pass = s.pass();
    ParameterVectors all = new ParameterVectors(s.net, s.net.parameterNames());
    SymmetricOperator op = CurvatureOperators.overParameters(all, dirs -> pass.networkProduct(kind, dirs));
    int n = all.dimension();
    DMatrixRMaj dense = op.apply(CommonOps_DDRM.identity(n));
    DMatrixRMaj vectors = new DMatrixRMaj(1, 1);
    double[] exact = eigenvalues(symmetrized(dense), vectors);
    Lanczos.Result r = Lanczos.top(op, 3, TIGHT);
    double scale = Math.max(1, Math.abs(exact[0]));
    for (int i = 0; i < 3; i++) assertEquals(exact[i], r.values()[i], 1e-8 * scale, kind + " eigenvalue " + i);
    for (DMatrixRMaj block : s.reference().blocks(kind, Strategy.EXACT).values()) {
      double top = eigenvalues(block, new DMatrixRMaj(1, 1))[0];
      assertTrue(r.values()[0] >= top - REFERENCE_TOL * scale, kind + ": whole-net top " + r.values()[0] + " below a block's " + top);
    }
  }

  static Stream<CurvatureKind> wholeNetworkKinds() {
    return Stream.of(CurvatureKind.GGN, CurvatureKind.HESSIAN);
  }

  /** (A + A')/2, after checking A is symmetric to rounding. */
  static DMatrixRMaj symmetrized(DMatrixRMaj a) {
    return symmetrized(a, 1e-10);
  }

  /** (A + A')/2, after checking A is symmetric to {@code tol} relative to max(1, its largest entry) (finite differences: their error). */
  static DMatrixRMaj symmetrized(DMatrixRMaj a, double tol) {
    DMatrixRMaj t = CommonOps_DDRM.transpose(a, null);
    for (int i = 0; i < a.getNumElements(); i++) assertEquals(a.get(i), t.get(i), tol * Math.max(1, CommonOps_DDRM.elementMaxAbs(a)));
    DMatrixRMaj out = a.copy();
    CommonOps_DDRM.add(0.5, a, 0.5, t, out);
    return out;
  }

  /**
   * A product over all parameters at once ({@link CurvatureOperators#overParameters}, the form of a
   * whole-network operator), here the block-diagonal curvature: its top eigenvalues are those of
   * the block-diagonal dense reference, which checks the vec order of every parameter in the
   * concatenated vector.
   */
  @Test
  void anOperatorOverAllParametersHasTheSpectrumOfTheBlockDiagonalReference() {
    NetworkCurvatureTest.Setup s = new NetworkCurvatureTest.Setup(NetworkCurvatureTest.net("residual"), 3, 23);
    Curvature c = s.pass().curvature(CurvatureKind.GGN, Strategy.EXACT);
    Map<String, DMatrixRMaj> ref = s.reference().blocks(CurvatureKind.GGN, Strategy.EXACT);
    ParameterVectors all = new ParameterVectors(s.net, s.net.parameterNames());
    SymmetricOperator op = CurvatureOperators.overParameters(all, dirs -> {
      Map<String, Batch> out = new LinkedHashMap<>();
      dirs.forEach((p, v) -> out.put(p, c.matProd(p, v)));
      return out;
    });
    int n = all.dimension();
    DMatrixRMaj blockDiagonal = new DMatrixRMaj(n, n), referenceBlocks = new DMatrixRMaj(n, n);
    int off = 0;
    for (String p : s.net.parameterNames()) {
      CommonOps_DDRM.insert(NetworkCurvatureTest.dense(c, p, 1), blockDiagonal, off, off);
      CommonOps_DDRM.insert(ref.get(p), referenceBlocks, off, off);
      off += ref.get(p).numRows;
    }
    assertEquals(n, off);
    // the operator applied to the identity is the block-diagonal matrix, each block in its place
    DMatrixRMaj applied = op.apply(CommonOps_DDRM.identity(n));
    for (int i = 0; i < n * n; i++) assertEquals(blockDiagonal.data[i], applied.data[i], 1e-12, "entry " + i);
    assertTrue(NetworkCurvatureTest.relError(applied, referenceBlocks) < REFERENCE_TOL, "against the reference");
    double[] exact = eigenvalues(blockDiagonal, new DMatrixRMaj(1, 1));
    double[] reference = eigenvalues(referenceBlocks, new DMatrixRMaj(1, 1));
    Lanczos.Result r = Lanczos.top(op, 5, TIGHT);
    for (int i = 0; i < 5; i++) {
      assertEquals(exact[i], r.values()[i], 1e-8 * Math.max(1, exact[0]), "eigenvalue " + i);
      assertEquals(reference[i], r.values()[i], REFERENCE_TOL * Math.max(1, exact[0]), "eigenvalue " + i + " of the reference");
    }
  }
}
