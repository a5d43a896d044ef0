package org.hbp.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
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
 */
final class Idx {
    static final int IMAGE_MAGIC = 0x00000803;
    static final int LABEL_MAGIC = 0x00000801;
    static final int IMAGE_HEADER = 16;
    static final int LABEL_HEADER = 8;

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
        byte[] data = readMaybeGzipped(file);
        if (data.length < IMAGE_HEADER) {
            throw new IOException(file + ": truncated IDX image header: expected " + IMAGE_HEADER
                    + " bytes (magic number, image count, rows, columns), the file has " + data.length);
        }
        checkMagic(file, data, IMAGE_MAGIC, "image");
        int count = readInt(data, 4);
        int r = readInt(data, 8);
        int c = readInt(data, 12);
        if (count < 0) {
            throw new IOException(file + ": the IDX header announces a negative image count " + count
                    + " (bytes 4..7)");
        }
        if (r != rows || c != cols) {
            throw new IOException(file + ": expected " + rows + "x" + cols + " images, the IDX header (bytes 8..15)"
                    + " announces " + r + "x" + c);
        }
        long imageBytes = (long) rows * cols;
        long expected = IMAGE_HEADER + count * imageBytes;
        if (data.length != expected) {
            long found = data.length - IMAGE_HEADER;
            if (data.length < expected) {
                throw new IOException(file + ": truncated: the header announces " + count + " images of " + rows
                        + "x" + cols + " = " + count * imageBytes + " pixel bytes after the " + IMAGE_HEADER
                        + "-byte header (" + expected + " bytes in all), the file has " + found + " pixel bytes ("
                        + data.length + " bytes in all, " + found / imageBytes + " complete images)");
            }
            throw new IOException(file + ": " + (data.length - expected) + " bytes beyond the " + count
                    + " images of " + rows + "x" + cols + " the header announces (expected " + expected
                    + " bytes, the file has " + data.length + "); the file is corrupt or not an IDX image file");
        }
        return new Images(count, rows, cols, data);
    }

    /**
     * Reads an IDX label file and checks its magic number, its length against the announced count
     * and that every label lies in {@code [0, classes)}.
     */
    static int[] readLabels(Path file, int classes) throws IOException {
        byte[] data = readMaybeGzipped(file);
        if (data.length < LABEL_HEADER) {
            throw new IOException(file + ": truncated IDX label header: expected " + LABEL_HEADER
                    + " bytes (magic number, label count), the file has " + data.length);
        }
        checkMagic(file, data, LABEL_MAGIC, "label");
        int count = readInt(data, 4);
        if (count < 0) {
            throw new IOException(file + ": the IDX header announces a negative label count " + count
                    + " (bytes 4..7)");
        }
        long expected = (long) LABEL_HEADER + count;
        if (data.length != expected) {
            if (data.length < expected) {
                throw new IOException(file + ": truncated: the header announces " + count + " labels ("
                        + expected + " bytes with the " + LABEL_HEADER + "-byte header), the file has "
                        + (data.length - LABEL_HEADER) + " labels (" + data.length + " bytes)");
            }
            throw new IOException(file + ": " + (data.length - expected) + " bytes beyond the " + count
                    + " labels the header announces (expected " + expected + " bytes, the file has "
                    + data.length + "); the file is corrupt or not an IDX label file");
        }
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

    /**
     * The bytes of a file, decompressed if it is gzip.
     *
     * @throws IOException naming the file if it cannot be read, if its name ends in {@code .gz} but
     *     it is not gzip, or if its gzip data are corrupt or truncated
     */
    static byte[] readMaybeGzipped(Path file) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            boolean gzip = b0 == 0x1f && b1 == 0x8b;
            if (!gzip) {
                if (file.getFileName().toString().endsWith(".gz")) {
                    throw new IOException(file + ": corrupt gzip file: expected the gzip magic bytes 1F 8B at byte"
                            + " offset 0, found " + (b0 < 0 ? "an empty file" : b1 < 0
                                    ? String.format("only the byte %02X", b0)
                                    : String.format("%02X %02X", b0, b1)));
                }
                return raw.readAllBytes();
            }
            return gunzip(file, raw);
        }
    }

    private static byte[] gunzip(Path file, InputStream raw) throws IOException {
        byte[] buf = new byte[1 << 20];
        int n = 0;
        try (GZIPInputStream in = new GZIPInputStream(raw, 1 << 16)) {
            while (true) {
                if (n == buf.length) {
                    if (buf.length == Integer.MAX_VALUE - 8) {
                        throw new IOException(file + ": decompresses to more than " + n + " bytes, too large");
                    }
                    buf = Arrays.copyOf(buf, (int) Math.min((long) buf.length * 2, Integer.MAX_VALUE - 8));
                }
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
        } catch (ZipException | EOFException e) {
            throw new IOException(file + ": corrupt or truncated gzip data (after " + n
                    + " decompressed bytes): " + e.getMessage(), e);
        }
        return n == buf.length ? buf : Arrays.copyOf(buf, n);
    }
}
