package org.hbp.backend;

/**
 * Evaluated hyper-parameters of an unfold (im2col): input {@code (c, h, w)}, square kernel
 * {@code k}, stride {@code s}, zero padding {@code p}, dilation {@code d}.
 *
 * <p>{@code unfold(X)} is the {@code (c*k*k) x (outH*outW)} matrix whose entry at row
 * {@code (ch*k + ki)*k + kj} and column {@code oh + outH*ow} is {@code X[ch, y, x]} with
 * {@code y = oh*s - p + ki*d}, {@code x = ow*s - p + kj*d}, or 0 where that position lies in the
 * padding. In column-major storage {@code X[ch, y, x]} is at {@code ch + c*(y + h*x)}.
 */
public record ConvGeometry(int c, int h, int w, int k, int s, int p, int d) {
  public ConvGeometry {
    String text = "(c=" + c + ", h=" + h + ", w=" + w + ", k=" + k + ", s=" + s + ", p=" + p + ", d=" + d + ")";
    if (c < 1 || h < 1 || w < 1 || k < 1 || s < 1 || p < 0 || d < 1)
      throw new IllegalArgumentException("invalid unfold geometry " + text + ": sizes, kernel, stride and dilation must be >= 1, padding >= 0");
    // fields are assigned only after this compact constructor: compute from the parameters
    if (Math.floorDiv(h + 2 * p - d * (k - 1) - 1, s) + 1 < 1 || Math.floorDiv(w + 2 * p - d * (k - 1) - 1, s) + 1 < 1)
      throw new IllegalArgumentException("unfold geometry " + text + " has no output positions (kernel span larger than the padded input)");
  }

  public int outH() {
    return Math.floorDiv(h + 2 * p - d * (k - 1) - 1, s) + 1;
  }

  public int outW() {
    return Math.floorDiv(w + 2 * p - d * (k - 1) - 1, s) + 1;
  }

  /** Rows of unfold(X): {@code c*k*k}. */
  public int patchRows() {
    return c * k * k;
  }

  /** Columns of unfold(X): {@code outH*outW}. */
  public int patches() {
    return outH() * outW();
  }

  /** Entries of the input tensor: {@code c*h*w}. */
  public int inputSize() {
    return c * h * w;
  }
}
