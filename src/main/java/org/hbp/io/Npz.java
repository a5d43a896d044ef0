package org.hbp.io;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Reads and writes NumPy's {@code .npz} archives: zip files holding one {@code NAME.npy} entry per
 * array, as written by {@code numpy.savez} (stored) and {@code numpy.savez_compressed}
 * (deflated). Each entry is a {@code .npy} file handled by {@link Npy}; arrays are therefore
 * row-major (see {@link NdArray}).
 *
 * <p>Error messages name the archive and the array, e.g.
 * {@code params.npz: array '0.weight': truncated data: ...}.
 *
 * <p><b>Memory.</b> Before an entry's array is allocated, the size its header announces is
 * checked against the entry's declared size and against what its compressed bytes can inflate to
 * (DEFLATE expands at most {@value #MAX_INFLATE_RATIO}-fold), so a small zip bomb is refused at
 * once; since zip headers can lie, reading also stops at the announced size (see {@link Npy}), and
 * an entry holding anything after its array is refused.
 */
public final class Npz {
    private static final String SUFFIX = ".npy";
    /** A fixed entry timestamp so that equal inputs give byte-identical archives. */
    private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(1980, 1, 1, 0, 0);
    /** DEFLATE's largest expansion: 258 bytes from a 2-bit match code, about 1032 to 1. */
    static final int MAX_INFLATE_RATIO = 1032;

    private Npz() {
    }

    /**
     * Reads all arrays of an {@code .npz} file.
     *
     * @return the arrays by name (entry name without {@code .npy}), in the archive's order
     * @throws NpyException if the file is not a zip archive, holds an entry that is not
     *     {@code NAME.npy}, holds the same name twice, or an entry is not a supported array
     * @throws IOException if reading fails
     */
    public static Map<String, NdArray> read(Path file) throws IOException {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        Npy.regularFileSize(file, "an .npz file (a zip archive of .npy files)");
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new NpyException(file + ": not a valid .npz file: expected a zip archive of .npy files ("
                    + e.getMessage() + ")", e);
        }
        try (zip) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                String entryName = entry.getName();
                if (entry.isDirectory() || !entryName.endsWith(SUFFIX)) {
                    throw new NpyException(file + ": unexpected entry '" + entryName
                            + "' (expected only NAME.npy entries, as written by numpy.savez)");
                }
                String name = entryName.substring(0, entryName.length() - SUFFIX.length());
                String where = file + ": array '" + name + "'";
                if (arrays.containsKey(name)) {
                    throw new NpyException(where + ": appears twice in the archive");
                }
                arrays.put(name, readEntry(zip, entry, where));
            }
        }
        return arrays;
    }

    /**
     * Reads one entry, checking its size bounds before allocating and its CRC (which
     * {@link ZipFile} itself does not) after.
     */
    private static NdArray readEntry(ZipFile zip, ZipEntry entry, String where) throws IOException {
        CheckedInputStream checked = new CheckedInputStream(zip.getInputStream(entry), new CRC32());
        try (InputStream in = new BufferedInputStream(checked, 1 << 16)) {
            NdArray array = Npy.read(in, where, entrySource(entry));
            if (in.read() != -1) {
                throw new NpyException(where + ": unexpected data after the array's "
                        + "bytes (the zip entry must end there, as numpy.savez writes it)");
            }
            long crc = checked.getChecksum().getValue();
            if (entry.getCrc() != -1 && crc != entry.getCrc()) {
                throw new NpyException(String.format("%s: corrupt zip entry: expected CRC-32 %08x, found %08x",
                        where, entry.getCrc(), crc));
            }
            return array;
        } catch (ZipException | EOFException e) {
            throw new NpyException(where + ": corrupt zip entry (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The most bytes an entry can hold: its declared size, and for a deflated entry at most
     * {@link #MAX_INFLATE_RATIO} times its compressed size.
     */
    static Npy.Source entrySource(ZipEntry entry) {
        long declared = entry.getSize() >= 0 ? entry.getSize() : Long.MAX_VALUE;
        long compressed = entry.getCompressedSize();
        long inflatable = compressed < 0 ? Long.MAX_VALUE
                : entry.getMethod() == ZipEntry.STORED ? compressed
                : compressed > Long.MAX_VALUE / MAX_INFLATE_RATIO ? Long.MAX_VALUE : compressed * MAX_INFLATE_RATIO;
        if (inflatable < declared) {
            return new Npy.Source(inflatable, false, "but the entry's " + compressed + " compressed bytes inflate"
                    + " to at most " + inflatable + " (zip bomb or corrupt archive)");
        }
        return new Npy.Source(declared, false, "found %d"); // by the entry's declared size
    }

    /**
     * Writes arrays to an {@code .npz} file like {@code numpy.savez} (entries stored
     * uncompressed), atomically as {@link Npy#write(Path, NdArray)} does. Entries are written in
     * the map's iteration order.
     *
     * @throws IllegalArgumentException if a name is empty
     */
    public static void write(Path file, Map<String, NdArray> arrays) throws IOException {
        write(file, AtomicFiles.Existing.REPLACE, arrays);
    }

    /** As {@link #write(Path, Map)}, an existing file replaced or kept as {@code existing} says ({@link AtomicFiles#write}). */
    public static void write(Path file, AtomicFiles.Existing existing, Map<String, NdArray> arrays) throws IOException {
        write(file, arrays, false, existing);
    }

    /** As {@link #write(Path, Map)} but deflating the entries, like {@code numpy.savez_compressed}. */
    public static void writeCompressed(Path file, Map<String, NdArray> arrays) throws IOException {
        write(file, arrays, true, AtomicFiles.Existing.REPLACE);
    }

    private static void write(Path file, Map<String, NdArray> arrays, boolean compressed, AtomicFiles.Existing existing) throws IOException {
        for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
            if (e.getKey() == null || e.getKey().isEmpty()) {
                throw new IllegalArgumentException(file + ": array names must be non-empty");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException(file + ": array '" + e.getKey() + "' is null");
            }
        }
        AtomicFiles.write(file, existing, out -> {
            ZipOutputStream zip = new ZipOutputStream(out);
            for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                Npy.write(bytes, e.getValue());
                byte[] data = bytes.toByteArray();
                ZipEntry entry = new ZipEntry(e.getKey() + SUFFIX);
                entry.setTimeLocal(ENTRY_TIME);
                if (compressed) {
                    entry.setMethod(ZipEntry.DEFLATED);
                } else {
                    CRC32 crc = new CRC32();
                    crc.update(data);
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(data.length);
                    entry.setCompressedSize(data.length);
                    entry.setCrc(crc.getValue());
                }
                zip.putNextEntry(entry);
                zip.write(data);
                zip.closeEntry();
            }
            zip.finish(); // not close(): AtomicFiles owns and closes the underlying stream
        });
    }

    /**
     * Returns the array {@code name}, checking it has the expected shape.
     *
     * @param fileForErrors how messages refer to the archive, e.g. {@code "batch.npz"}
     * @param expectedShape the expected dimensions; {@code -1} accepts any size in that position,
     *     and no dimensions at all means a 0-d array is expected
     * @throws NpyException naming the array, e.g.
     *     {@code batch.npz: array 'x' has shape [10, 3] but [10, 4] was expected}, or
     *     {@code batch.npz: no array 'y' (has: x, z)} if it is missing
     */
    public static NdArray require(Map<String, NdArray> arrays, String name, String fileForErrors,
            int... expectedShape) {
        for (int d : expectedShape) {
            if (d < -1) {
                throw new IllegalArgumentException("expected dimensions must be >= 0, or -1 for any size: "
                        + Arrays.toString(expectedShape));
            }
        }
        NdArray a = requireAnyShape(arrays, name, fileForErrors);
        int[] actual = a.shape();
        boolean ok = actual.length == expectedShape.length;
        for (int i = 0; ok && i < actual.length; i++) {
            ok = expectedShape[i] == -1 || expectedShape[i] == actual[i];
        }
        if (!ok) {
            throw new NpyException(fileForErrors + ": array '" + name + "' has shape " + Arrays.toString(actual)
                    + " but " + formatExpected(expectedShape) + " was expected");
        }
        return a;
    }

    /**
     * Returns the array {@code name} whatever its shape.
     *
     * @throws NpyException {@code batch.npz: no array 'y' (has: x, z)} if it is missing
     */
    public static NdArray requireAnyShape(Map<String, NdArray> arrays, String name, String fileForErrors) {
        NdArray a = arrays.get(name);
        if (a == null) {
            StringJoiner has = new StringJoiner(", ", "(has: ", ")");
            has.setEmptyValue("(the file has no arrays)");
            arrays.keySet().forEach(has::add);
            throw new NpyException(fileForErrors + ": no array '" + name + "' " + has);
        }
        return a;
    }

    /** {@code [10, *]} for {@code {10, -1}}. */
    private static String formatExpected(int[] shape) {
        StringJoiner j = new StringJoiner(", ", "[", "]");
        for (int d : shape) {
            j.add(d == -1 ? "*" : String.valueOf(d));
        }
        return j.toString();
    }
}
