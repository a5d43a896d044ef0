package org.hbp.io;

import java.util.Arrays;

/**
 * An n-dimensional array of numbers as NumPy sees it: a shape, a dtype, and the values in
 * <b>row-major (C) order</b>, i.e. the <em>last</em> index varies fastest. Element
 * {@code (i0, i1, ..., ik)} of an array of shape {@code (n0, n1, ..., nk)} is at flat position
 * {@code ((i0 * n1 + i1) * n2 + i2) ... * nk + ik}.
 *
 * <p>This is the layout of NumPy's default arrays and of {@code .npy} files written with
 * {@code fortran_order: False}. Linear-algebra libraries such as EJML (row-major) can take
 * {@link #data()} directly for 2-d arrays; column-major (Fortran) consumers use
 * {@link #toColumnMajor()} / {@link #fromColumnMajor}.
 *
 * <p>A shape of {@code []} is a 0-d array (a scalar, {@code numel() == 1}); a shape containing a
 * 0 is an empty array.
 *
 * <p>Values are always held as {@code double}s; the {@link DType} records the element type of the
 * file the array came from or will be written to. On construction, values of a {@code FLOAT32}
 * array are rounded to float precision (so that what {@link #get} returns is exactly what a file
 * holds), and values of an integer array must be integers within the type's range.
 *
 * <p>Instances are immutable: factories copy their input and accessors return copies.
 */
public final class NdArray {
    /** The largest number of elements an array may have (the limit of a Java array). */
    public static final int MAX_NUMEL = Integer.MAX_VALUE - 8;

    private final int[] shape;
    private final double[] data;
    private final DType dtype;

    private NdArray(double[] data, DType dtype, int[] shape) {
        this.data = data;
        this.dtype = dtype;
        this.shape = shape;
    }

    /** A {@code FLOAT64} array from row-major values (copied). */
    public static NdArray of(double[] rowMajor, int... shape) {
        return of(rowMajor, DType.FLOAT64, shape);
    }

    /**
     * An array of the given dtype from row-major values (copied).
     *
     * @throws IllegalArgumentException if the shape has a negative dimension or does not match
     *     {@code rowMajor.length}, or if an integer dtype is given a value that is not an integer
     *     in its range
     */
    public static NdArray of(double[] rowMajor, DType dtype, int... shape) {
        int[] s = checkShape(shape, rowMajor.length);
        double[] d = rowMajor.clone();
        normalize(d, dtype);
        return new NdArray(d, dtype, s);
    }

    /** A 0-d {@code FLOAT64} array holding one value. */
    public static NdArray scalar(double value) {
        return of(new double[] {value});
    }

    /**
     * An array from values in column-major (Fortran) order, i.e. the <em>first</em> index
     * varying fastest. The inverse of {@link #toColumnMajor()}.
     */
    public static NdArray fromColumnMajor(double[] colMajor, DType dtype, int... shape) {
        int[] s = checkShape(shape, colMajor.length);
        double[] d = reorder(colMajor, s, true);
        normalize(d, dtype);
        return new NdArray(d, dtype, s);
    }

    /** Wraps without copying or checking; for readers in this package that built valid data. */
    static NdArray wrap(double[] rowMajor, DType dtype, int[] shape) {
        return new NdArray(rowMajor, dtype, shape);
    }

    /** The shape (a copy); {@code []} for a 0-d array. */
    public int[] shape() {
        return shape.clone();
    }

    /** The number of dimensions, {@code shape().length}. */
    public int rank() {
        return shape.length;
    }

    /** The size of dimension {@code axis}. */
    public int dim(int axis) {
        return shape[axis];
    }

    /** The number of elements: the product of the shape, 1 for a 0-d array. */
    public int numel() {
        return data.length;
    }

    /** The element type of the file this array came from or will be written as. */
    public DType dtype() {
        return dtype;
    }

    /**
     * The element at the given index, one entry per dimension ({@code get()} for a 0-d array).
     *
     * @throws IllegalArgumentException if the number of indices is not {@link #rank()}
     * @throws IndexOutOfBoundsException if an index is outside its dimension
     */
    public double get(int... idx) {
        if (idx.length != shape.length) {
            throw new IllegalArgumentException(
                    "expected " + shape.length + " indices for shape " + Arrays.toString(shape)
                            + ", got " + idx.length);
        }
        int flat = 0;
        for (int a = 0; a < shape.length; a++) {
            if (idx[a] < 0 || idx[a] >= shape[a]) {
                throw new IndexOutOfBoundsException(
                        "index " + Arrays.toString(idx) + " out of bounds for shape "
                                + Arrays.toString(shape));
            }
            flat = flat * shape[a] + idx[a];
        }
        return data[flat];
    }

    /** The element at a flat row-major position. */
    public double getFlat(int rowMajorIndex) {
        return data[rowMajorIndex];
    }

    /**
     * The values in row-major (C) order (a copy: take it once, outside a loop over the entries; {@link #getFlat} reads one
     * entry without copying).
     */
    public double[] data() {
        return data.clone();
    }

    /** The values in column-major (Fortran) order: first index fastest (a new array). */
    public double[] toColumnMajor() {
        return reorder(data, shape, false);
    }

    /** The same shape and values with another dtype (values are rounded / checked as in {@link #of}). */
    public NdArray withDType(DType newType) {
        if (newType == dtype) {
            return this;
        }
        return of(data, newType, shape);
    }

    /** The same values (row-major order unchanged) with another shape of the same numel. */
    public NdArray reshape(int... newShape) {
        return new NdArray(data, dtype, checkShape(newShape, data.length));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NdArray other
                && dtype == other.dtype
                && Arrays.equals(shape, other.shape)
                && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("NdArray(").append(dtype.numpyName())
                .append(", shape=").append(Arrays.toString(shape)).append(", data=[");
        int shown = Math.min(data.length, 8);
        for (int i = 0; i < shown; i++) {
            sb.append(i == 0 ? "" : ", ").append(data[i]);
        }
        if (shown < data.length) {
            sb.append(", ... (").append(data.length - shown).append(" more)");
        }
        return sb.append("])").toString();
    }

    // ------------------------------------------------------------------ helpers

    private static int[] checkShape(int[] shape, int length) {
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        long n = numelOf(shape);
        if (n != length) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " needs "
                            + (n > MAX_NUMEL ? "more than " + MAX_NUMEL : String.valueOf(n))
                            + " values, got " + length);
        }
        return shape.clone();
    }

    /**
     * The product of non-negative dimensions, or {@code MAX_NUMEL + 1} if that product exceeds
     * {@link #MAX_NUMEL}.
     */
    static long numelOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d == 0) {
                return 0;
            }
        }
        for (int d : shape) {
            n *= d; // n <= MAX_NUMEL and d < 2^31, so no overflow
            if (n > MAX_NUMEL) {
                return MAX_NUMEL + 1L;
            }
        }
        return n;
    }

    /** Rounds float32 values; checks integer values are integers within range. */
    private static void normalize(double[] d, DType dtype) {
        switch (dtype) {
            case FLOAT64 -> { }
            case FLOAT32 -> {
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) d[i];
                }
            }
            case FLOAT16 -> {
                for (int i = 0; i < d.length; i++) {
                    d[i] = Npy.halfToDouble(Npy.doubleToHalf(d[i]));
                }
            }
            default -> {
                double lo = dtype.lowest(), hiExclusive = dtype.aboveHighest();
                for (int i = 0; i < d.length; i++) {
                    double v = d[i];
                    if (!(v >= lo && v < hiExclusive && v == Math.rint(v))) {
                        throw new IllegalArgumentException(
                                "value " + v + " at flat index " + i + " is not a valid " + dtype.numpyName());
                    }
                }
            }
        }
    }

    /**
     * Copies {@code src} into a new array in the other memory order. {@code srcIsColMajor}: the
     * source is column-major and the result row-major; otherwise the reverse.
     */
    private static double[] reorder(double[] src, int[] shape, boolean srcIsColMajor) {
        int n = src.length;
        double[] dst = new double[n];
        int rank = shape.length;
        if (rank <= 1 || n == 0) {
            System.arraycopy(src, 0, dst, 0, n);
            return dst;
        }
        // Walk the elements in column-major order (first index fastest), keeping the multi-index
        // and its row-major offset up to date incrementally.
        int[] rowStride = new int[rank];
        rowStride[rank - 1] = 1;
        for (int a = rank - 2; a >= 0; a--) {
            rowStride[a] = rowStride[a + 1] * shape[a + 1];
        }
        int[] idx = new int[rank];
        int rowOffset = 0;
        for (int colOffset = 0; colOffset < n; colOffset++) {
            if (srcIsColMajor) {
                dst[rowOffset] = src[colOffset];
            } else {
                dst[colOffset] = src[rowOffset];
            }
            for (int a = 0; a < rank; a++) {
                idx[a]++;
                rowOffset += rowStride[a];
                if (idx[a] < shape[a]) {
                    break;
                }
                rowOffset -= idx[a] * rowStride[a];
                idx[a] = 0;
            }
        }
        return dst;
    }
}
