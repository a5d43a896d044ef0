package org.hbp.io;

/**
 * The NumPy element types that {@link Npy} and {@link Npz} can read and write.
 *
 * <p>Whatever the dtype, an {@link NdArray} holds its values as Java {@code double}s; the dtype only
 * records what the file held (and what {@link Npy#write} will write back). float32, float16 and
 * the integer types up to 32 bits are represented exactly; int64 and uint64 values beyond
 * 2<sup>53</sup> in magnitude are rounded to the nearest double on read.
 */
public enum DType {
    /** {@code float64} / {@code '<f8'}. */
    FLOAT64("float64", 'f', 8),
    /** {@code float32} / {@code '<f4'}. */
    FLOAT32("float32", 'f', 4),
    /** {@code float16} / {@code '<f2'} (IEEE half precision). */
    FLOAT16("float16", 'f', 2),
    /** {@code int64} / {@code '<i8'}. */
    INT64("int64", 'i', 8),
    /** {@code int32} / {@code '<i4'}. */
    INT32("int32", 'i', 4),
    /** {@code int16} / {@code '<i2'}. */
    INT16("int16", 'i', 2),
    /** {@code int8} / {@code '|i1'}. */
    INT8("int8", 'i', 1),
    /** {@code uint64} / {@code '<u8'}: values beyond 2<sup>53</sup> are rounded on read. */
    UINT64("uint64", 'u', 8),
    /** {@code uint32} / {@code '<u4'}. */
    UINT32("uint32", 'u', 4),
    /** {@code uint16} / {@code '<u2'}. */
    UINT16("uint16", 'u', 2),
    /** {@code uint8} / {@code '|u1'} (MNIST-style labels). */
    UINT8("uint8", 'u', 1),
    /** {@code bool} / {@code '|b1'}: False and True as 0 and 1. */
    BOOL("bool", 'b', 1);

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

    /** Whether this is one of the integer types (bool included: its values are 0 and 1). */
    public boolean isInteger() {
        return kind != 'f';
    }

    /**
     * The little-endian {@code descr} string written to {@code .npy} headers, e.g. {@code "<f8"};
     * one-byte types have no byte order ({@code "|u1"}), as NumPy writes them.
     */
    public String descr() {
        return (itemSize == 1 ? "|" : "<") + kind + itemSize;
    }

    /** The smallest and one past the largest value of an integer type (bool: 0 and 2). */
    double lowest() {
        return switch (kind) {
            case 'i' -> -Math.pow(2, 8 * itemSize - 1);
            default -> 0;
        };
    }

    double aboveHighest() {
        return switch (kind) {
            case 'i' -> Math.pow(2, 8 * itemSize - 1);
            case 'u' -> Math.pow(2, 8 * itemSize);
            case 'b' -> 2;
            default -> Double.POSITIVE_INFINITY;
        };
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
