package org.hbp.backend;

/**
 * The floating-point format a {@link Backend} stores its batches in and runs its dense products
 * with. The {@link Backend} interface itself always speaks {@code double} ({@link
 * Backend#fromArray}, {@link Backend#toArray}, scalars, mapped functions): a backend of lower
 * precision rounds what it is given to its format and widens what it hands back.
 */
public enum Precision {
  /** IEEE 754 binary64 ({@code double}): unit roundoff 2^-53, about 1.1e-16. */
  FLOAT64,

  /**
   * IEEE 754 binary32 ({@code float}): unit roundoff 2^-24, about 6e-8, with 24 significant bits.
   * Entries are rounded to float when they enter a batch; integers (such as the indices of {@link
   * Backend#gather}) are exact only up to 2^24 = 16777216.
   */
  FLOAT32;

  /** The bytes of one entry: 8 or 4. */
  public int bytes() {
    return this == FLOAT64 ? 8 : 4;
  }

  /** {@code v} rounded to this precision, as a double ({@code (double) (float) v} for FLOAT32). */
  public double round(double v) {
    return this == FLOAT64 ? v : (double) (float) v;
  }
}
