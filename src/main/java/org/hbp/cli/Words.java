package org.hbp.cli;

/** Small wording helpers for the commands' lines. */
final class Words {
  private Words() {
  }

  /** "1 epoch", "3 epochs": {@code n} and the noun, plural unless {@code n} is 1. */
  static String count(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }
}
