package org.hbp.io;

import org.hbp.UserError;

/**
 * Thrown when a {@code .npy} / {@code .npz} file (or an array taken out of one) is not what was
 * expected: bad magic string, malformed header, unsupported dtype, truncated data, missing array,
 * wrong shape.
 *
 * <p>Messages always start with the file (and, inside an {@code .npz}, the array) they concern,
 * followed by what was expected and what was found, e.g.
 * {@code params.npz: array '0.weight': truncated data: expected 48 bytes ..., found 40}.
 *
 * <p>Plain I/O failures (file not found, permission denied, disk full) are reported as
 * {@link java.io.IOException}s instead.
 */
public class NpyException extends UserError {
    private static final long serialVersionUID = 1L;

    public NpyException(String message) {
        super(message);
    }

    public NpyException(String message, Throwable cause) {
        super(message, cause);
    }
}
