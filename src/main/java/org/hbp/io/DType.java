package org.hbp.io;

/**
 * The NumPy element types that {@link Npy} and {@link Npz} can read and write.
 *
 * <p>Whatever the dtype, an {@link NdArray} holds its values as Java {@code double}s; the dtype only
 * records what the file held (and what {@link Npy#write} will write back). float32 and int32
 * values are represented exactly; int64 values beyond &plusmn;2<sup>53</sup> are rounded to the
 * nearest double on read.
 */
public enum DType {
    /** {@code float64} / {@code '<f8'}. */
    FLOAT64("float64", 'f', 8),
    /** {@code float32} / {@code '<f4'}. */
    FLOAT32("float32", 'f', 4),
    /** {@code int64} / {@code '<i8'}. */
    INT64("int64", 'i', 8),
    /** {@code int32} / {@code '<i4'}. */
    INT32("int32", 'i', 4);

    private final String numpyName;
    private final char kind;
    private final int itemSize;

    DType(String numpyName, char kind, int itemSize) {
        this.numpyName = numpyName;
        this.kind = kind;
        this.itemSize = itemSize;
    }

    /** NumPy's name for the type, e.g. {@code "float64"}. */
    public String numpyName() {
        return numpyName;
    }

    /** Bytes per element in a file. */
    public int itemSize() {
        return itemSize;
    }

    /** Whether this is one of the integer types. */
    public boolean isInteger() {
        return kind == 'i';
    }

    /** The little-endian {@code descr} string written to {@code .npy} headers, e.g. {@code "<f8"}. */
    public String descr() {
        return "<" + kind + itemSize;
    }

    /**
     * The dtype for a descr without its byte-order character ({@code "f8"}, {@code "i4"}, ...),
     * or {@code null} if it is not one of the supported types.
     */
    static DType fromKindAndSize(String kindAndSize) {
        for (DType t : values()) {
            if (kindAndSize.equals("" + t.kind + t.itemSize)) {
                return t;
            }
        }
        return null;
    }
}
