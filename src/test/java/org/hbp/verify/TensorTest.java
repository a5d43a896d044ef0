package org.hbp.verify;

import org.hbp.calculus.Tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class TensorTest {
  private static final double TOL = 1e-15;

  @Test
  void matrixIsColumnMajor() {
    Tensor a = Tensor.fromRows(new double[][] {{1, 2, 3}, {4, 5, 6}});
    assertArrayEquals(new int[] {2, 3}, a.shape());
    assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, a.data(), TOL);
    assertEquals(6, a.get(1, 2), TOL);
    assertEquals(2, a.get(0, 1), TOL);
    assertEquals(2, a.rows());
    assertEquals(3, a.cols());
    assertEquals(6, a.numel());
  }

  @Test
  void rank3IsColumnMajor() {
    int c = 2, h = 3, w = 4;
    Tensor t = Tensor.fromFunction(p -> p, c, h, w);
    for (int i = 0; i < c; i++)
      for (int j = 0; j < h; j++)
        for (int k = 0; k < w; k++) assertEquals(i + c * (j + h * k), t.get(i, j, k), TOL);
    assertThrows(IllegalStateException.class, t::cols);
    assertThrows(IllegalStateException.class, () -> t.get(0, 0));
    assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0, 0));
  }

  @Test
  void ejmlRoundTrip() {
    Tensor a = Tensor.random(new Random(1), 3, 5);
    DMatrixRMaj m = a.toDMatrix();
    for (int i = 0; i < 3; i++) for (int j = 0; j < 5; j++) assertEquals(a.get(i, j), m.get(i, j), TOL);
    assertEquals(a, Tensor.fromDMatrix(m));
    DMatrixRMaj v = a.toDVector();
    assertEquals(15, v.numRows);
    for (int p = 0; p < 15; p++) assertEquals(a.at(p), v.get(p, 0), TOL);
  }

  @Test
  void randomIsSeededAndInRange() {
    Tensor a = Tensor.random(new Random(7), 2, 3, 4);
    Tensor b = Tensor.random(new Random(7), 2, 3, 4);
    assertEquals(a, b);
    for (double v : a.data()) assertTrue(v >= -1 && v < 1);
  }

  @Test
  void errorMeasures() {
    Tensor a = Tensor.vector(1, 100, 0);
    Tensor b = Tensor.vector(1.5, 101, 0);
    assertEquals(1.0, a.maxAbsError(b), TOL);
    assertEquals(0.5 / 1.5, a.maxRelError(b), TOL);
    assertEquals(0.5 / 2, a.maxRelError(b, 2), TOL);
    assertTrue(a.approxEquals(b, 0.5));
    assertFalse(a.approxEquals(b, 0.1));
    Tensor nan = Tensor.vector(1, Double.NaN, 0);
    assertTrue(Double.isNaN(a.maxAbsError(nan)));
    assertFalse(nan.approxEquals(nan, 1));
    assertThrows(IllegalArgumentException.class, () -> a.maxAbsError(Tensor.zeros(3, 2)));
    DMatrixRMaj x = a.toDMatrix(), y = b.toDMatrix();
    assertEquals(1.0, Tensor.maxAbsError(x, y), TOL);
    assertEquals(0.5 / 1.5, Tensor.maxRelError(x, y, 0), TOL);
  }

  @Test
  void reshapeAndValidation() {
    Tensor a = Tensor.fromFunction(p -> p, 2, 6);
    Tensor t = a.reshape(2, 3, 2);
    assertArrayEquals(a.data(), t.data(), TOL);
    assertEquals(7, t.get(1, 0, 1), TOL);
    assertThrows(IllegalArgumentException.class, () -> a.reshape(5, 2));
    assertThrows(IllegalArgumentException.class, () -> new Tensor(new int[] {2}, new double[2]));
    assertThrows(IllegalArgumentException.class, () -> new Tensor(new int[] {2, 2}, new double[3]));
    assertEquals(3.0, Tensor.scalar(3).scalarValue(), TOL);
    assertThrows(IllegalStateException.class, a::scalarValue);
  }
}
