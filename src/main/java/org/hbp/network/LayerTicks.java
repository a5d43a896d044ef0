package org.hbp.network;

/**
 * A walk's layers as units of a {@link WalkProgress}: the walk over chunk {@code chunk} of {@code
 * chunks} calls {@link #layer} as it reaches each layer; its units are {@code chunk x layers ..
 * chunk x layers + layers - 1} (calls beyond {@code layers} report nothing).
 */
final class LayerTicks {
  /** Ticks that report nothing (a probe's trial run, a quantity outside a progress bar). */
  static final LayerTicks NONE = new LayerTicks(WalkProgress.NONE, 0, 1, 1);

  private final WalkProgress progress;
  private final long base, total;
  private final int layers;
  private int seen;

  LayerTicks(WalkProgress progress, int chunk, int chunks, int layers) {
    this.progress = progress;
    this.layers = Math.max(1, layers);
    this.base = (long) chunk * this.layers;
    this.total = (long) chunks * this.layers;
  }

  /** The walk has reached {@code l}. */
  void layer(Network.LayerNode l) {
    if (seen < layers) progress.at(base + seen, total, "layer " + l.path + " (" + l.op.name() + ")" + (total > layers ? ", chunk " + (base / layers + 1) + "/" + total / layers : ""));
    seen++;
  }
}
