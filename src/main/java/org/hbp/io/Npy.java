package org.hbp.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes NumPy's {@code .npy} format
 * (<a href="https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html">spec</a>).
 *
 * <p><b>Reading</b> accepts format versions 1.0, 2.0 and 3.0; dtypes {@code f8 f4 i8 i4} in
 * little- ({@code <}) or big-endian ({@code >}) byte order; {@code fortran_order} True or False
 * (Fortran-ordered data is converted, so the result is always row-major, see {@link NdArray});
 * any rank including 0-d. Anything else (other dtypes, object arrays, structured arrays, a bad
 * magic string, a malformed header, truncated data) is rejected with an {@link NpyException}
 * whose message names the file and says what was expected.
 *
 * <p><b>Memory</b> is bounded before it is spent: the bytes a header's shape and dtype need are
 * checked against the bytes the source can hold (the file's size; for an {@code .npz} entry, its
 * declared size and what its compressed size can inflate to) and against the Java heap's limit
 * ({@link Runtime#maxMemory()}), and an array larger than {@link NdArray#MAX_NUMEL} elements is
 * refused, all before the array is allocated. Where the source's size is not known exactly (a
 * stream, a zip entry whose header could lie), the array grows with the data actually read, and
 * reading stops at the byte count the header announces.
 *
 * <p><b>Writing</b> produces format version 1.0 (2.0 only if the header would not fit 1.0's
 * 64 KiB limit), little-endian, C order, with the array's {@link NdArray#dtype() dtype}; the
 * header is padded so that the data starts at a multiple of 64 bytes, as NumPy does. Writing to
 * a {@link Path} is atomic: the bytes go to a temporary file in the same directory that is then
 * renamed over the target, so readers never see a half-written file.
 */
public final class Npy {
    /** The first six bytes of every {@code .npy} file: {@code \x93NUMPY}. */
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    /** The descrs this class can read, for error messages. */
    static final String SUPPORTED_DTYPES = "float64, float32, float16, int64, int32, int16, int8, uint64, uint32, uint16, uint8 and bool, "
            + "either byte order";

    private static final Set<String> HEADER_KEYS = Set.of("descr", "fortran_order", "shape");
    private static final String EXPECTED_KEYS = "'descr', 'fortran_order', 'shape'";
    private static final int ALIGN = 64;
    private static final int MAX_HEADER_LEN = 1 << 24;
    private static final int CHUNK_BYTES = 1 << 16;
    private static final double GIB = 1L << 30;

    private Npy() {
    }

    // ================================================================== reading

    /**
     * Reads a {@code .npy} file; error messages name {@code file}.
     *
     * @throws NpyException if {@code file} is a directory or not a supported, well-formed array
     *     (including a header announcing more data than the file holds)
     */
    public static NdArray read(Path file) throws IOException {
        long size = regularFileSize(file, "a .npy file");
        Source source = size >= 0 ? Source.file(size) : Source.UNKNOWN;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), CHUNK_BYTES)) {
            return read(in, file.toString(), source);
        }
    }

    /**
     * The size of {@code file} if it is a regular file, -1 for other non-directories (a FIFO),
     * whose size is not known in advance.
     *
     * @throws NpyException if it is a directory, naming it and {@code expected}
     */
    static long regularFileSize(Path file, String expected) throws IOException {
        if (Files.isDirectory(file)) {
            throw new NpyException(file + ": is a directory; expected " + expected);
        }
        return Files.isRegularFile(file) ? Files.size(file) : -1;
    }

    /**
     * How many bytes a source can hold at most, for checking a header before allocating.
     *
     * @param maxBytes the most bytes the source can provide
     * @param exact whether {@code maxBytes} is known to be the true size (a file's), so that the
     *     array can be allocated at once; otherwise it grows with the data read
     * @param limitText how messages describe {@code maxBytes} after "expected N bytes (...), ",
     *     e.g. {@code "found 40"}; {@code %d} stands for the bytes after the header
     */
    record Source(long maxBytes, boolean exact, String limitText) {
        static final Source UNKNOWN = new Source(Long.MAX_VALUE, false, "");

        static Source file(long size) {
            return new Source(size, true, "found %d");
        }
    }

    /**
     * Reads one array from a stream positioned at the start of {@code .npy} data, consuming
     * exactly the header and the array's bytes. The stream is not closed.
     *
     * @param nameForErrors how error messages refer to the source, e.g. a file name or
     *     {@code "params.npz: array 'w'"}
     * @throws NpyException if the data is not a supported, well-formed {@code .npy} array
     * @throws IOException if reading the stream fails
     */
    public static NdArray read(InputStream in, String nameForErrors) throws IOException {
        return read(in, nameForErrors, Source.UNKNOWN);
    }

    /** As {@link #read(InputStream, String)}, checking the header against what {@code source} can hold. */
    static NdArray read(InputStream in, String nameForErrors, Source source) throws IOException {
        Header h = readHeader(in, nameForErrors);
        checkFits(h, source, nameForErrors);
        double[] values = readValues(in, h, nameForErrors, source.exact());
        if (h.fortranOrder) {
            return NdArray.fromColumnMajor(values, h.dtype, h.shape);
        }
        return NdArray.wrap(values, h.dtype, h.shape);
    }

    /** A parsed and validated header. */
    private record Header(DType dtype, ByteOrder order, boolean fortranOrder, int[] shape, int numel,
            long headerBytes) {
        /** The data's size in bytes. */
        long dataBytes() {
            return (long) numel * dtype.itemSize();
        }

        /** E.g. {@code 6 x <f8 for shape [2, 3]}. */
        String describeData() {
            return numel + " x " + (order == ByteOrder.LITTLE_ENDIAN ? "<" : ">") + dtype.descr().substring(1)
                    + " for shape " + Arrays.toString(shape);
        }
    }

    /**
     * Refuses, before anything is allocated, data larger than the source can hold or than the
     * Java heap can ever hold as {@code double}s.
     */
    private static void checkFits(Header h, Source source, String name) {
        long after = source.maxBytes() - h.headerBytes();
        if (h.dataBytes() > after) {
            throw new NpyException(name + ": truncated data: expected " + h.dataBytes() + " bytes ("
                    + h.describeData() + "), " + String.format(source.limitText(), Math.max(after, 0)));
        }
        long heapBytes = 8L * h.numel;
        long heapLimit = Runtime.getRuntime().maxMemory();
        if (heapBytes > heapLimit) {
            throw new NpyException(String.format("%s: array of shape %s needs %.2f GiB of memory (%d values as"
                    + " float64), more than the Java heap's limit of %.2f GiB (raise it with java -Xmx)",
                    name, Arrays.toString(h.shape), heapBytes / GIB, (long) h.numel, heapLimit / GIB));
        }
    }

    private static Header readHeader(InputStream in, String name) throws IOException {
        byte[] magic = in.readNBytes(MAGIC.length);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new NpyException(name + ": not a .npy file: expected magic bytes " + hex(MAGIC)
                    + " (\"\\x93NUMPY\"), found " + (magic.length == 0 ? "no bytes" : hex(magic))
                    + (magic.length >= 2 && magic[0] == 'P' && magic[1] == 'K'
                            ? " (a zip archive; use Npz.read for .npz files)" : ""));
        }
        byte[] version = readExactly(in, 2, name, "format version");
        int major = version[0] & 0xff;
        int minor = version[1] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new NpyException(name + ": unsupported .npy format version " + major + "." + minor
                    + " (expected 1.0, 2.0 or 3.0)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        ByteBuffer lenBuf = ByteBuffer.wrap(readExactly(in, lenBytes, name, "header length"))
                .order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = major == 1 ? (lenBuf.getShort() & 0xffff) : (lenBuf.getInt() & 0xffffffffL);
        if (headerLen > MAX_HEADER_LEN) {
            throw new NpyException(name + ": malformed .npy header: header length " + headerLen
                    + " exceeds the limit of " + MAX_HEADER_LEN + " bytes");
        }
        byte[] headerBytes = readExactly(in, (int) headerLen, name, "header");
        String text = new String(headerBytes,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        return parseHeader(text, name, MAGIC.length + 2 + lenBytes + headerLen);
    }

    private static Header parseHeader(String text, String name, long headerBytes) {
        String shown = text.strip();
        Object parsed;
        try {
            parsed = PyLiteral.parse(shown); // offsets in messages refer to the text shown
        } catch (PyLiteral.SyntaxError e) {
            throw malformed(name, e.getMessage(), shown);
        }
        if (!(parsed instanceof Map<?, ?> dict)) {
            throw malformed(name, "expected a dict with keys " + EXPECTED_KEYS, shown);
        }
        for (Object key : dict.keySet()) {
            if (!HEADER_KEYS.contains(key)) {
                throw malformed(name, "unexpected key " + PyLiteral.repr(key) + " (expected keys "
                        + EXPECTED_KEYS + ")", shown);
            }
        }
        for (String key : List.of("descr", "fortran_order", "shape")) {
            if (!dict.containsKey(key)) {
                throw malformed(name, "missing key '" + key + "' (expected keys " + EXPECTED_KEYS + ")", shown);
            }
        }
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean)) {
            throw malformed(name, "'fortran_order' must be True or False, found "
                    + PyLiteral.repr(fortran), shown);
        }
        int[] shape = parseShape(dict.get("shape"), name, shown);
        long numel = NdArray.numelOf(shape);
        if (numel > NdArray.MAX_NUMEL) {
            throw new NpyException(name + ": array of shape " + Arrays.toString(shape)
                    + " is too large (at most " + NdArray.MAX_NUMEL + " elements are supported)");
        }
        Object descr = dict.get("descr");
        DType dtype = null;
        ByteOrder order = null;
        if (descr instanceof String d && d.length() >= 2) {
            dtype = DType.fromKindAndSize(d.substring(1));
            order = switch (d.charAt(0)) {
                case '<' -> ByteOrder.LITTLE_ENDIAN;
                case '>' -> ByteOrder.BIG_ENDIAN;
                // one-byte types have no byte order ('|u1'); '=' is the writer's own, which NumPy
                // replaces by '<' or '>' for multi-byte types
                case '|' -> dtype != null && dtype.itemSize() == 1 ? ByteOrder.LITTLE_ENDIAN : null;
                default -> null;
            };
        }
        if (dtype == null || order == null) {
            throw new NpyException(name + ": unsupported dtype " + PyLiteral.repr(descr)
                    + describeDescr(descr) + " (supported: " + SUPPORTED_DTYPES + ")");
        }
        return new Header(dtype, order, (Boolean) fortran, shape, (int) numel, headerBytes);
    }

    private static int[] parseShape(Object shape, String name, String shown) {
        String expected = "'shape' must be a tuple of non-negative integers, found ";
        if (!(shape instanceof PyLiteral.Tuple t)) {
            throw malformed(name, expected + PyLiteral.repr(shape), shown);
        }
        int[] dims = new int[t.items().size()];
        for (int i = 0; i < dims.length; i++) {
            if (!(t.items().get(i) instanceof Long d) || d < 0) {
                throw malformed(name, expected + PyLiteral.repr(shape), shown);
            }
            if (d > Integer.MAX_VALUE) {
                throw new NpyException(name + ": array of shape " + PyLiteral.repr(shape)
                        + " is too large (at most " + NdArray.MAX_NUMEL + " elements are supported)");
            }
            dims[i] = (int) (long) d;
        }
        return dims;
    }

    /** A hint on what kind of unsupported dtype a descr is. */
    private static String describeDescr(Object descr) {
        if (descr instanceof List<?>) {
            return " (a structured dtype)";
        }
        if (descr instanceof String d) {
            if (d.endsWith("O")) {
                return " (an object array)";
            }
        }
        return "";
    }

    /** The value of IEEE half-precision bits (float16). */
    static double halfToDouble(short bits) {
        int h = bits & 0xffff, exponent = (h >>> 10) & 0x1f, mantissa = h & 0x3ff;
        double sign = (h & 0x8000) != 0 ? -1 : 1;
        if (exponent == 0) return sign * mantissa * 0x1p-24; // zero and subnormals
        if (exponent == 31) return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        return sign * (1 + mantissa / 1024.0) * Math.scalb(1.0, exponent - 15);
    }

    /** The IEEE half-precision bits (float16) nearest to v, ties to even; beyond 65504 infinite. */
    static short doubleToHalf(double v) {
        if (Double.isNaN(v)) return (short) 0x7e00;
        int sign = (Double.doubleToRawLongBits(v) < 0) ? 0x8000 : 0;
        double a = Math.abs(v);
        int bits;
        if (a < 0x1p-14) {
            bits = (int) Math.rint(a * 0x1p24); // a subnormal (1024: the smallest normal, same bits)
        } else {
            int e = Math.getExponent(a);
            int q = (int) Math.rint((Math.scalb(a, -e) - 1) * 1024);
            if (q == 1024) {
                e++;
                q = 0;
            }
            bits = e > 15 ? 0x7c00 : ((e + 15) << 10) | q;
        }
        return (short) (sign | bits);
    }

    /** The most characters of a malformed header that messages show. */
    private static final int SHOWN_HEADER = 200;

    private static NpyException malformed(String name, String detail, String header) {
        String shown = header.length() <= SHOWN_HEADER ? header
                : header.substring(0, SHOWN_HEADER) + "... (" + header.length() + " characters)";
        return new NpyException(name + ": malformed .npy header: " + detail + "; header was " + shown);
    }

    /**
     * Reads exactly the data's bytes. With {@code sizeKnown} the array is allocated at once;
     * otherwise it grows (doubling) with the data actually read, so that a header announcing more
     * than the source holds costs at most about twice the bytes present.
     */
    private static double[] readValues(InputStream in, Header h, String name, boolean sizeKnown) throws IOException {
        int itemSize = h.dtype.itemSize();
        int perChunk = CHUNK_BYTES / itemSize;
        double[] out = allocate(sizeKnown ? h.numel : Math.min(h.numel, perChunk), h, name);
        long found = 0;
        for (int start = 0; start < h.numel; start += perChunk) {
            int count = Math.min(perChunk, h.numel - start);
            byte[] chunk = in.readNBytes(count * itemSize);
            found += chunk.length;
            if (chunk.length < count * itemSize) {
                throw new NpyException(name + ": truncated data: expected " + h.dataBytes() + " bytes ("
                        + h.describeData() + "), found " + found);
            }
            if (out.length < start + count) {
                double[] grown = allocate((int) Math.min(h.numel, Math.max(2L * out.length, start + count)), h, name);
                System.arraycopy(out, 0, grown, 0, start);
                out = grown;
            }
            ByteBuffer buf = ByteBuffer.wrap(chunk).order(h.order);
            switch (h.dtype) {
                case FLOAT64 -> buf.asDoubleBuffer().get(out, start, count);
                case FLOAT32 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getFloat();
                    }
                }
                case INT64 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getLong();
                    }
                }
                case INT32 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getInt();
                    }
                }
                case FLOAT16 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = halfToDouble(buf.getShort());
                    }
                }
                case INT16 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getShort();
                    }
                }
                case INT8 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.get();
                    }
                }
                case UINT64 -> {
                    for (int i = 0; i < count; i++) {
                        long v = buf.getLong();
                        out[start + i] = v >= 0 ? v : v + 0x1p64;
                    }
                }
                case UINT32 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getInt() & 0xffffffffL;
                    }
                }
                case UINT16 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.getShort() & 0xffff;
                    }
                }
                case UINT8 -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.get() & 0xff;
                    }
                }
                case BOOL -> {
                    for (int i = 0; i < count; i++) {
                        out[start + i] = buf.get() != 0 ? 1 : 0;
                    }
                }
            }
        }
        return out;
    }

    /** {@code new double[n]}, or an error naming the array if the heap has not that much free. */
    private static double[] allocate(int n, Header h, String name) {
        try {
            return new double[n];
        } catch (OutOfMemoryError e) {
            throw new NpyException(String.format("%s: not enough free Java heap for the array of shape %s (%.2f GiB"
                    + " as float64; raise it with java -Xmx)", name, Arrays.toString(h.shape), 8L * h.numel / GIB));
        }
    }

    private static byte[] readExactly(InputStream in, int n, String name, String what) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new NpyException(name + ": truncated " + what + ": expected " + n + " bytes, found " + b.length);
        }
        return b;
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            sb.append(sb.length() == 0 ? "" : " ").append(String.format("%02X", b & 0xff));
        }
        return sb.toString();
    }

    // ================================================================== writing

    /**
     * Writes {@code array} to {@code file} atomically (temporary file in the same directory, then
     * an atomic rename over {@code file}). On failure no temporary file is left behind and an
     * existing {@code file} is unchanged.
     */
    public static void write(Path file, NdArray array) throws IOException {
        write(file, AtomicFiles.Existing.REPLACE, array);
    }

    /** As {@link #write(Path, NdArray)}, an existing file replaced or kept as {@code existing} says ({@link AtomicFiles#write}). */
    public static void write(Path file, AtomicFiles.Existing existing, NdArray array) throws IOException {
        AtomicFiles.write(file, existing, out -> write(out, array));
    }

    /** Writes {@code array} as {@code .npy} bytes to {@code out} (not closed, not flushed). */
    public static void write(OutputStream out, NdArray array) throws IOException {
        out.write(header(array));
        DType t = array.dtype();
        int itemSize = t.itemSize();
        int n = array.numel();
        int perChunk = CHUNK_BYTES / itemSize;
        ByteBuffer buf = ByteBuffer.allocate(perChunk * itemSize).order(ByteOrder.LITTLE_ENDIAN);
        for (int start = 0; start < n; start += perChunk) {
            int count = Math.min(perChunk, n - start);
            buf.clear();
            for (int i = start; i < start + count; i++) {
                double v = array.getFlat(i);
                switch (t) {
                    case FLOAT64 -> buf.putDouble(v);
                    case FLOAT32 -> buf.putFloat((float) v);
                    case INT64 -> buf.putLong((long) v);
                    case INT32 -> buf.putInt((int) v);
                    case FLOAT16 -> buf.putShort(doubleToHalf(v));
                    case INT16, UINT16 -> buf.putShort((short) (int) v);
                    case INT8, UINT8, BOOL -> buf.put((byte) (int) v);
                    case UINT64 -> buf.putLong(v >= 0x1p63 ? (long) (v - 0x1p64) : (long) v);
                    case UINT32 -> buf.putInt((int) (long) v);
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
    }

    /** The complete header (magic, version, length, padded dict) for {@code array}. */
    static byte[] header(NdArray array) {
        int[] shape = array.shape();
        StringBuilder shapeText = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            shapeText.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        shapeText.append(shape.length == 1 ? ",)" : ")");
        String dict = "{'descr': '" + array.dtype().descr() + "', 'fortran_order': False, 'shape': "
                + shapeText + ", }";
        int major = 1;
        int prefix = MAGIC.length + 2 + 2;
        int total = padded(prefix + dict.length() + 1);
        if (total - prefix > 0xffff) {
            major = 2;
            prefix = MAGIC.length + 2 + 4;
            total = padded(prefix + dict.length() + 1);
        }
        int headerLen = total - prefix;
        String text = dict + " ".repeat(headerLen - dict.length() - 1) + "\n";
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            b.putShort((short) headerLen);
        } else {
            b.putInt(headerLen);
        }
        b.put(text.getBytes(StandardCharsets.ISO_8859_1));
        return b.array();
    }

    private static int padded(int len) {
        return (len + ALIGN - 1) / ALIGN * ALIGN;
    }
}
