package org.hbp.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reader of the IDX files of (Fashion-)MNIST (<a href="http://yann.lecun.com/exdb/mnist/">format</a>):
 * a big-endian header, then unsigned bytes.
 *
 * <pre>
 * images: magic 0x00000803, int32 count, int32 rows, int32 columns, count*rows*columns pixel bytes
 * labels: magic 0x00000801, int32 count, count label bytes
 * </pre>
 *
 * <p>A file is decompressed if it starts with the gzip magic bytes {@code 1F 8B} (whatever its
 * name); a file whose name ends in {@code .gz} must be gzip. Byte offsets in messages count bytes
 * of the (decompressed) IDX data.
 *
 * <p><b>Memory</b> is bounded by what the header announces: the header is read and checked first;
 * a plain file's size must then match it exactly (checked before reading on); a gzip file is
 * refused at once if its compressed size cannot inflate to the announced size (DEFLATE expands
 * at most {@value #MAX_INFLATE_RATIO}-fold), and decompression stops at the announced size (plus
 * at most {@value #EXCESS_COUNTED} bytes counted, not kept, to report an excess), so a gzip bomb
 * costs no more memory than the data set it claims to be.
 */
final class Idx {
    static final int IMAGE_MAGIC = 0x00000803;
    static final int LABEL_MAGIC = 0x00000801;
    static final int IMAGE_HEADER = 16;
    static final int LABEL_HEADER = 8;
    /** DEFLATE's largest expansion, about 1032 to 1. */
    static final int MAX_INFLATE_RATIO = 1032;
    /** How many bytes beyond the announced size are counted for messages before giving up counting. */
    static final int EXCESS_COUNTED = 1 << 20;
    /** The largest byte array Java allows. */
    private static final int MAX_BYTES = Integer.MAX_VALUE - 8;

    private Idx() {}

    /**
     * The images of an IDX image file: {@code count} images of {@code rows x cols} pixel bytes,
     * row-major, in {@code data} from offset {@link #IMAGE_HEADER} on (the header is kept to spare a
     * copy).
     */
    record Images(int count, int rows, int cols, byte[] data) {}

    /**
     * Reads an IDX image file and checks its magic number, that its images are
     * {@code rows x cols} and that it holds exactly the announced number of images.
     */
    static Images readImages(Path file, int rows, int cols) throws IOException {
        long imageBytes = (long) rows * cols;
        Raw raw = read(file, IMAGE_HEADER, head -> {
            checkMagic(file, head, IMAGE_MAGIC, "image");
            int count = announcedCount(file, head, "image");
            int r = readInt(head, 8);
            int c = readInt(head, 12);
            if (r != rows || c != cols) {
                throw new IOException(file + ": expected " + rows + "x" + cols + " images, the IDX header"
                        + " (bytes 8..15) announces " + r + "x" + c);
            }
            return IMAGE_HEADER + count * imageBytes;
        });
        checkHeaderLength(file, raw, IMAGE_HEADER, "image", "magic number, image count, rows, columns");
        int count = readInt(raw.head(), 4);
        long expected = raw.expected();
        if (raw.length() != expected) {
            long found = raw.length() - IMAGE_HEADER;
            if (raw.length() >= 0 && raw.length() < expected) {
                throw new IOException(file + ": truncated: the header announces " + count + " images of " + rows
                        + "x" + cols + " = " + count * imageBytes + " pixel bytes after the " + IMAGE_HEADER
                        + "-byte header (" + expected + " bytes in all), the file has " + found + " pixel bytes ("
                        + raw.length() + " bytes in all, " + found / imageBytes + " complete images)");
            }
            throw new IOException(file + ": " + raw.excess() + " bytes beyond the " + count
                    + " images of " + rows + "x" + cols + " the header announces (expected " + expected
                    + " bytes, the file has " + raw.lengthText() + "); the file is corrupt or not an IDX image file");
        }
        return new Images(count, rows, cols, raw.data());
    }

    /** The record count in bytes 4..7 of an IDX header, or an IOException if it is negative; {@code what}: image or label. */
    private static int announcedCount(Path file, byte[] head, String what) throws IOException {
        int count = readInt(head, 4);
        if (count < 0) {
            throw new IOException(file + ": the IDX header announces a negative " + what + " count " + count + " (bytes 4..7)");
        }
        return count;
    }

    /** An IOException if the file is shorter than its IDX header of {@code length} bytes ({@code fields}). */
    private static void checkHeaderLength(Path file, Raw raw, int length, String what, String fields) throws IOException {
        if (raw.head().length < length) {
            throw new IOException(file + ": truncated IDX " + what + " header: expected " + length + " bytes (" + fields
                    + "), the file has " + raw.head().length);
        }
    }

    /**
     * Reads an IDX label file and checks its magic number, its length against the announced count
     * and that every label lies in {@code [0, classes)}.
     */
    static int[] readLabels(Path file, int classes) throws IOException {
        Raw raw = read(file, LABEL_HEADER, head -> {
            checkMagic(file, head, LABEL_MAGIC, "label");
            return (long) LABEL_HEADER + announcedCount(file, head, "label");
        });
        checkHeaderLength(file, raw, LABEL_HEADER, "label", "magic number, label count");
        int count = readInt(raw.head(), 4);
        long expected = raw.expected();
        if (raw.length() != expected) {
            if (raw.length() >= 0 && raw.length() < expected) {
                throw new IOException(file + ": truncated: the header announces " + count + " labels ("
                        + expected + " bytes with the " + LABEL_HEADER + "-byte header), the file has "
                        + (raw.length() - LABEL_HEADER) + " labels (" + raw.length() + " bytes)");
            }
            throw new IOException(file + ": " + raw.excess() + " bytes beyond the " + count
                    + " labels the header announces (expected " + expected + " bytes, the file has "
                    + raw.lengthText() + "); the file is corrupt or not an IDX label file");
        }
        byte[] data = raw.data();
        int[] labels = new int[count];
        for (int i = 0; i < count; i++) {
            int v = data[LABEL_HEADER + i] & 0xff;
            if (v >= classes) {
                throw new IOException(file + ": label " + v + " of record " + i + " (byte offset "
                        + (LABEL_HEADER + i) + ") is out of range 0.." + (classes - 1));
            }
            labels[i] = v;
        }
        return labels;
    }

    private static void checkMagic(Path file, byte[] data, int expected, String kind) throws IOException {
        int magic = readInt(data, 0);
        if (magic == expected) {
            return;
        }
        String hint;
        if (magic == IMAGE_MAGIC || magic == LABEL_MAGIC) {
            hint = " (the magic number of an IDX " + (magic == IMAGE_MAGIC ? "image" : "label")
                    + " file: are the image and label files swapped?)";
        } else if ((magic >>> 16) == 0 && (magic & 0xff) > 0) {
            hint = " (an IDX file of element type 0x" + String.format("%02X", (magic >>> 8) & 0xff) + " with "
                    + (magic & 0xff) + " dimensions)";
        } else {
            hint = " (not an IDX file)";
        }
        int dims = expected & 0xff;
        throw new IOException(file + ": not an IDX " + kind + " file: expected the magic number "
                + String.format("0x%08X", expected) + " (unsigned bytes, " + dims
                + (dims == 1 ? " dimension" : " dimensions") + ") at byte offset 0, read "
                + String.format("0x%08X", magic) + hint);
    }

    private static int readInt(byte[] b, int off) {
        return ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
    }

    /** Checks a complete header and returns the file's announced size in bytes, header included. */
    @FunctionalInterface
    interface HeaderCheck {
        long expectedSize(byte[] head) throws IOException;
    }

    /**
     * What {@link #read} found.
     *
     * @param head the header, shorter than asked if the file is
     * @param expected the size the header announces (0 if the header is short)
     * @param length the (decompressed) size, exact up to {@code expected + EXCESS_COUNTED}; -1 if
     *     larger
     * @param data the whole file if {@code length == expected}, else null
     */
    record Raw(byte[] head, long expected, long length, byte[] data) {
        /** The bytes beyond {@code expected}, e.g. {@code "7"} or {@code "more than 1048576"}. */
        String excess() {
            return length >= 0 ? String.valueOf(length - expected) : "more than " + EXCESS_COUNTED;
        }

        String lengthText() {
            return length >= 0 ? String.valueOf(length) : "more than " + (expected + EXCESS_COUNTED);
        }
    }

    /**
     * Reads an IDX file, decompressing it if it is gzip, bounded by the size its header announces:
     * the header ({@code headerBytes}) first, which {@code check} validates; then at most the
     * announced size.
     *
     * @throws IOException naming the file if it cannot be read, is a directory, its name ends in
     *     {@code .gz} but it is not gzip, its gzip data are corrupt or truncated or cannot inflate to
     *     the announced size, or the announced size exceeds a Java array
     */
    static Raw read(Path file, int headerBytes, HeaderCheck check) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IOException(file + ": is a directory; expected an IDX file"
                    + (file.getFileName().toString().endsWith(".gz") ? " compressed with gzip" : ""));
        }
        long fileSize = Files.size(file);
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            boolean gzip = b0 == 0x1f && b1 == 0x8b;
            if (!gzip && file.getFileName().toString().endsWith(".gz")) {
                throw new IOException(file + ": corrupt gzip file: expected the gzip magic bytes 1F 8B at byte"
                        + " offset 0, found " + (b0 < 0 ? "an empty file" : b1 < 0
                                ? String.format("only the byte %02X", b0)
                                : String.format("%02X %02X", b0, b1)));
            }
            if (!gzip) {
                return readBounded(file, raw, headerBytes, check, fileSize, -1);
            }
            long[] decompressed = {0};
            try (GZIPInputStream in = new GZIPInputStream(raw, 1 << 16)) {
                return readBounded(file, new CountingInput(in, decompressed), headerBytes, check, -1, fileSize);
            } catch (ZipException | EOFException e) {
                throw new IOException(file + ": corrupt or truncated gzip data (after " + decompressed[0]
                        + " decompressed bytes): " + e.getMessage(), e);
            }
        }
    }

    /**
     * The body of {@link #read}: {@code plainSize} is the exact size of a plain file (-1 for gzip),
     * {@code compressedSize} that of a gzip file (-1 for a plain one).
     */
    private static Raw readBounded(Path file, InputStream in, int headerBytes, HeaderCheck check, long plainSize,
            long compressedSize) throws IOException {
        byte[] head = in.readNBytes(headerBytes);
        if (head.length < headerBytes) {
            return new Raw(head, 0, head.length, null);
        }
        long expected = check.expectedSize(head);
        if (expected > MAX_BYTES) {
            throw new IOException(file + ": the IDX header announces " + expected + " bytes, more than one Java"
                    + " array holds (" + MAX_BYTES + ")");
        }
        if (plainSize >= 0 && plainSize != expected) {
            return new Raw(head, expected, plainSize, null); // the caller reports it; nothing read
        }
        if (compressedSize >= 0 && expected > compressedSize * MAX_INFLATE_RATIO) {
            throw new IOException(file + ": truncated or corrupt: the IDX header announces " + expected
                    + " bytes, but " + compressedSize + " bytes of gzip data inflate to at most "
                    + compressedSize * MAX_INFLATE_RATIO);
        }
        byte[] data = Arrays.copyOf(head, (int) (plainSize >= 0 ? expected : Math.min(expected, 1 << 20)));
        int n = head.length;
        while (n < expected) { // grows with the data actually present, up to the announced size
            if (n == data.length) {
                data = Arrays.copyOf(data, (int) Math.min(expected, 2L * data.length));
            }
            int r = in.read(data, n, data.length - n);
            if (r < 0) {
                return new Raw(head, expected, n, null);
            }
            n += r;
        }
        long beyond = countUpTo(in, EXCESS_COUNTED + 1L);
        return new Raw(head, expected, beyond > EXCESS_COUNTED ? -1 : expected + beyond, beyond == 0 ? data : null);
    }

    /** Reads and drops bytes until the end or {@code limit} bytes; returns how many. */
    private static long countUpTo(InputStream in, long limit) throws IOException {
        byte[] scratch = new byte[8192];
        long n = 0;
        while (n < limit) {
            int r = in.read(scratch, 0, (int) Math.min(scratch.length, limit - n));
            if (r < 0) {
                break;
            }
            n += r;
        }
        return n;
    }

    /** Counts the bytes read through it into {@code count[0]}, for messages about corrupt data. */
    private static final class CountingInput extends FilterInputStream {
        private final long[] count;

        CountingInput(InputStream in, long[] count) {
            super(in);
            this.count = count;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count[0]++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int r = in.read(b, off, len);
            if (r > 0) {
                count[0] += r;
            }
            return r;
        }
    }
}
