package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Reads the NumPy-made fixtures in {@code src/test/resources/org/hbp/io/} (produced by
 * {@code make_fixtures.py} there; the closed forms below are the ones in that script).
 */
class NpyReadTest {
    private static NdArray read(String fixture) throws IOException {
        return Npy.read(Fixtures.path(fixture));
    }

    /** The closed form of a fixture's entry (i, j). */
    private interface Entries {
        double at(int i, int j);
    }

    /** {@code a} has the dtype, the shape rows x cols and the entries of the closed form. */
    private static void assertMatrix(NdArray a, DType dtype, int rows, int cols, Entries expected) {
        assertEquals(dtype, a.dtype());
        assertArrayEquals(new int[] {rows, cols}, a.shape());
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                assertEquals(expected.at(i, j), a.get(i, j));
            }
        }
    }

    @Test
    void float64() throws IOException {
        // np.arange(6, dtype='<f8').reshape(2, 3) * 0.5 - 1
        assertMatrix(read("f8_2x3.npy"), DType.FLOAT64, 2, 3, (i, j) -> (3 * i + j) * 0.5 - 1);
    }

    @Test
    void float32() throws IOException {
        // np.arange(6, dtype='<f4').reshape(3, 2) / np.float32(3)
        assertMatrix(read("f4_3x2.npy"), DType.FLOAT32, 3, 2, (i, j) -> (double) ((float) (2 * i + j) / 3f));
    }

    @Test
    void int64() throws IOException {
        NdArray a = read("i8_4.npy");
        assertEquals(DType.INT64, a.dtype());
        assertArrayEquals(new int[] {4}, a.shape());
        assertArrayEquals(new double[] {-3, 0, 0x1p40, -0x1p53}, a.data());
    }

    @Test
    void int32() throws IOException {
        NdArray a = read("i4_2x2.npy");
        assertEquals(DType.INT32, a.dtype());
        assertArrayEquals(new int[] {2, 2}, a.shape());
        assertArrayEquals(new double[] {1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE}, a.data());
    }

    @Test
    void fortranOrderIsConvertedToRowMajor() throws IOException {
        // np.asfortranarray(np.arange(6.).reshape(2, 3)): the file holds 0 3 1 4 2 5
        NdArray a = read("f8_fortran_2x3.npy");
        assertArrayEquals(new int[] {2, 3}, a.shape());
        assertArrayEquals(Fixtures.arange(6), a.data());
        assertArrayEquals(new double[] {0, 3, 1, 4, 2, 5}, a.toColumnMajor());
    }

    @Test
    void fortranOrder3d() throws IOException {
        NdArray a = read("f8_fortran_2x3x4.npy");
        assertArrayEquals(new int[] {2, 3, 4}, a.shape());
        assertArrayEquals(Fixtures.arange(24), a.data());
    }

    @Test
    void threeDimensional() throws IOException {
        NdArray a = read("f8_2x3x4.npy");
        assertArrayEquals(new int[] {2, 3, 4}, a.shape());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    assertEquals(12 * i + 4 * j + k, a.get(i, j, k));
                }
            }
        }
    }

    @Test
    void bigEndian() throws IOException {
        NdArray f8 = read("f8_be_3x2.npy"); // (np.arange(6.).reshape(3, 2) - 2.5).astype('>f8')
        assertEquals(NdArray.of(new double[] {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5}, 3, 2), f8);

        NdArray f4 = read("f4_be_2.npy");
        assertEquals(NdArray.of(new double[] {1.5f, -0.1f}, DType.FLOAT32, 2), f4);
        assertEquals((double) -0.1f, f4.get(1));

        NdArray i8 = read("i8_be_fortran_2x2.npy"); // Fortran-ordered [[1, 2], [3, -4]]
        assertEquals(NdArray.of(new double[] {1, 2, 3, -4}, DType.INT64, 2, 2), i8);

        NdArray i4 = read("i4_be_3.npy");
        assertEquals(NdArray.of(new double[] {7, -8, Integer.MAX_VALUE}, DType.INT32, 3), i4);
    }

    @Test
    void zeroDimensional() throws IOException {
        NdArray a = read("f8_0d.npy"); // np.array(3.25)
        assertArrayEquals(new int[0], a.shape());
        assertEquals(1, a.numel());
        assertEquals(3.25, a.get());
    }

    @Test
    void empty() throws IOException {
        NdArray a = read("f8_0x3.npy"); // np.zeros((0, 3))
        assertArrayEquals(new int[] {0, 3}, a.shape());
        assertEquals(0, a.numel());
    }

    @Test
    void formatVersions2And3() throws IOException {
        NdArray expected = NdArray.of(new double[] {1, 2}, 2);
        assertEquals(expected, read("f8_v2_2.npy"));
        assertEquals(expected, read("f8_v3_2.npy"));
    }

    @Test
    void streamReadConsumesExactlyOneArray() throws IOException {
        byte[] one = Fixtures.bytes("f8_2x3.npy");
        byte[] two = Fixtures.bytes("i4_2x2.npy");
        byte[] both = new byte[one.length + two.length];
        System.arraycopy(one, 0, both, 0, one.length);
        System.arraycopy(two, 0, both, one.length, two.length);
        ByteArrayInputStream in = new ByteArrayInputStream(both);
        assertEquals(Npy.read(Fixtures.path("f8_2x3.npy")), Npy.read(in, "both"));
        assertEquals(Npy.read(Fixtures.path("i4_2x2.npy")), Npy.read(in, "both"));
        assertEquals(0, in.available());
    }

    @Test
    void lenientHeaderSyntax() throws IOException {
        // double quotes, Python-2 long suffix, other key order, no trailing comma
        byte[] file = Fixtures.npy("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f8\"}",
                Fixtures.f8(1, 2));
        assertEquals(NdArray.of(new double[] {1, 2}, 2), Npy.read(new ByteArrayInputStream(file), "x"));
    }
}
