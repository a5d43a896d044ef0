package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class NdArrayTest {
    @Test
    void rowMajorIndexing() {
        NdArray a = NdArray.of(Fixtures.arange(24), 2, 3, 4);
        assertArrayEquals(new int[] {2, 3, 4}, a.shape());
        assertEquals(3, a.rank());
        assertEquals(24, a.numel());
        assertEquals(DType.FLOAT64, a.dtype());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    assertEquals(12 * i + 4 * j + k, a.get(i, j, k));
                }
            }
        }
    }

    @Test
    void zeroDimensional() {
        NdArray s = NdArray.of(new double[] {2.5});
        assertArrayEquals(new int[0], s.shape());
        assertEquals(1, s.numel());
        assertEquals(2.5, s.get());
        assertEquals(s, NdArray.scalar(2.5));
        assertArrayEquals(new double[] {2.5}, s.toColumnMajor());
    }

    @Test
    void emptyArray() {
        NdArray e = NdArray.of(new double[0], 0, 3);
        assertEquals(0, e.numel());
        assertArrayEquals(new double[0], e.toColumnMajor());
    }

    @Test
    void columnMajor2d() {
        // [[0, 1, 2], [3, 4, 5]] in Fortran order is 0, 3, 1, 4, 2, 5
        NdArray a = NdArray.of(Fixtures.arange(6), 2, 3);
        assertArrayEquals(new double[] {0, 3, 1, 4, 2, 5}, a.toColumnMajor());
        assertEquals(a, NdArray.fromColumnMajor(new double[] {0, 3, 1, 4, 2, 5}, DType.FLOAT64, 2, 3));
    }

    @Test
    void columnMajor3d() {
        NdArray a = NdArray.of(Fixtures.arange(24), 2, 3, 4);
        double[] col = a.toColumnMajor();
        // column-major position of (i, j, k) is i + 2j + 6k
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    assertEquals(12 * i + 4 * j + k, col[i + 2 * j + 6 * k]);
                }
            }
        }
        assertEquals(a, NdArray.fromColumnMajor(col, DType.FLOAT64, 2, 3, 4));
    }

    @Test
    void factoriesCopyAndAccessorsReturnCopies() {
        double[] src = {1, 2};
        int[] shape = {2};
        NdArray a = NdArray.of(src, shape);
        src[0] = 99;
        shape[0] = 7;
        a.data()[1] = 99;
        a.shape()[0] = 7;
        assertArrayEquals(new double[] {1, 2}, a.data());
        assertArrayEquals(new int[] {2}, a.shape());
    }

    @Test
    void float32ValuesAreRounded() {
        NdArray a = NdArray.of(new double[] {0.1}, DType.FLOAT32, 1);
        assertEquals((double) 0.1f, a.get(0));
        assertEquals(a, NdArray.of(new double[] {0.1}, 1).withDType(DType.FLOAT32));
    }

    @Test
    void integerDtypesRejectNonIntegers() {
        NdArray.of(new double[] {-2147483648.0, 2147483647.0}, DType.INT32, 2);
        NdArray.of(new double[] {-0x1p63, 0x1p62}, DType.INT64, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NdArray.of(new double[] {1, 2.5}, DType.INT32, 2));
        assertEquals("value 2.5 at flat index 1 is not a valid int32", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NdArray.of(new double[] {0x1p31}, DType.INT32, 1));
        assertThrows(IllegalArgumentException.class, () -> NdArray.of(new double[] {0x1p63}, DType.INT64, 1));
        assertThrows(IllegalArgumentException.class, () -> NdArray.of(new double[] {Double.NaN}, DType.INT64, 1));
    }

    @Test
    void shapeMustMatchData() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NdArray.of(new double[5], 2, 3));
        assertEquals("shape [2, 3] needs 6 values, got 5", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NdArray.of(new double[0], -1, 0));
        assertEquals("shape [65536, 65536, 2] needs more than 2147483639 values, got 1",
                assertThrows(IllegalArgumentException.class, () -> NdArray.of(new double[1], 65536, 65536, 2))
                        .getMessage());
        assertEquals(0, NdArray.of(new double[0], 65536, 65536, 0, 2).numel());
    }

    @Test
    void badIndices() {
        NdArray a = NdArray.of(Fixtures.arange(6), 2, 3);
        assertEquals("expected 2 indices for shape [2, 3], got 1",
                assertThrows(IllegalArgumentException.class, () -> a.get(1)).getMessage());
        assertEquals("index [0, 3] out of bounds for shape [2, 3]",
                assertThrows(IndexOutOfBoundsException.class, () -> a.get(0, 3)).getMessage());
    }

    @Test
    void equalityIncludesDtypeAndShape() {
        NdArray a = NdArray.of(Fixtures.arange(6), 2, 3);
        assertEquals(a, NdArray.of(Fixtures.arange(6), 2, 3));
        assertEquals(a.hashCode(), NdArray.of(Fixtures.arange(6), 2, 3).hashCode());
        assertNotEquals(a, a.reshape(3, 2));
        assertNotEquals(a, a.withDType(DType.INT64));
        assertEquals("NdArray(float64, shape=[2, 3], data=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])", a.toString());
    }
}
