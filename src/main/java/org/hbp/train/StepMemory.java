package org.hbp.train;

import java.util.List;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.network.Curvature;
import org.hbp.network.MemoryEstimate;
import org.hbp.network.Network;

/**
 * What a second-order step holds besides the batch's pass and its curvature, from the parameter
 * shapes and the backend's precision alone, and the memory its curvature may therefore plan with.
 *
 * <p>A step of {@link CgNewton} or {@link KfacNewton} prepares the curvature of the pass (a {@code
 * diag-*} strategy plans its chunks of samples then: {@code pass(N) + peak(c)} within the limit it
 * is given), then solves block after block. Besides the pass and the curvature the run holds, over
 * the step:
 * <ul>
 *   <li>the parameters, {@code P = sum_p numel(p)} entries (the run's: the chunk plan's pass does not
 *       count them);</li>
 *   <li>their updates, built block by block while the old values are held: up to P more;</li>
 *   <li>the solve's vectors of one block, at most {@code k} of the largest block's {@code n_max}
 *       entries at once: for CG-Newton {@code k = 9} ({@link #CG_VECTORS}: the right-hand side
 *       {@code -g}, CG's x, r, p and {@code A p}, the scaled steps {@code step p} and {@code step A p},
 *       the new x and r); for KFAC-Newton's closed form {@code k = 6} ({@link #CLOSED_FORM_VECTORS}:
 *       {@code -g} and the four rotations into and out of the factors' eigenbasis with the result;
 *       a diagonal's {@code v / (d + λ)} needs fewer).</li>
 * </ul>
 * So the step holds {@code bytes = 2 P b + k n_max b} (b the bytes of an entry: 8 in float64, 4 in
 * float32; on the Java heap each array at its footprint, {@link MemoryEstimate#arrayBytes}), and its
 * curvature is prepared with the budget {@code limit - bytes}: what its chunks may take beside the
 * pass. The count is an upper bound at every moment of the step: the solve's vectors and the
 * chunks of the curvature are never held together, the bound reserves room for the larger.
 */
record StepMemory(String optimizer, long parameters, long updates, int vectors, String largest, long largestEntries, long solve) {
  /** Block-sized vectors CG-Newton's solve holds at once ({@link org.hbp.network.ConjugateGradient#solve} and its right-hand side). */
  static final int CG_VECTORS = 9;
  /** Block-sized vectors KFAC-Newton's closed-form solve holds at once (the right-hand side, four rotations, the result). */
  static final int CLOSED_FORM_VECTORS = 6;

  /** The memory of a step of {@code optimizer} on {@code net} whose solve holds {@code vectors} vectors of the largest block. */
  static StepMemory of(String optimizer, Network net, int vectors) {
    long all = 0, largestEntries = 0;
    String largest = null;
    for (String p : net.parameterNames()) {
      long n = net.parameterSize(p);
      all = MemoryEstimate.saturatedAdd(all, MemoryEstimate.arrayBytes(net.backend(), n));
      if (n > largestEntries) {
        largestEntries = n;
        largest = p;
      }
    }
    long one = MemoryEstimate.arrayBytes(net.backend(), largestEntries);
    return new StepMemory(optimizer, all, all, vectors, largest, largestEntries, MemoryEstimate.saturatedMultiply(one, vectors));
  }

  /**
   * {@link #of}, with one joint block per layer ({@link CgNewton.Settings#layerBlocks}): the solve's
   * vectors are those of the largest layer, all its parameters together, each an array of its own.
   */
  static StepMemory ofLayers(String optimizer, Network net, int vectors) {
    StepMemory perParameter = of(optimizer, net, vectors);
    long largestEntries = 0, largestBytes = 0;
    String largest = null;
    for (List<String> group : Curvature.layerGroups(net)) {
      long n = 0, bytes = 0;
      for (String p : group) {
        n += net.parameterSize(p);
        bytes = MemoryEstimate.saturatedAdd(bytes, MemoryEstimate.arrayBytes(net.backend(), net.parameterSize(p)));
      }
      if (bytes > largestBytes) {
        largestBytes = bytes;
        largestEntries = n;
        largest = String.join(",", group);
      }
    }
    return new StepMemory(optimizer, perParameter.parameters(), perParameter.updates(), vectors, largest, largestEntries,
        MemoryEstimate.saturatedMultiply(largestBytes, vectors));
  }

  /** All of it: {@code 2 P b + k n_max b}. */
  long bytes() {
    return MemoryEstimate.saturatedAdd(MemoryEstimate.saturatedAdd(parameters, updates), solve);
  }

  /** "parameters 712.5 KiB, their updates 712.5 KiB, 9 vectors of the largest block 'fc1.W' (90000 entries) 6.2 MiB". */
  String describe() {
    return "parameters " + MemoryEstimate.bytes(parameters) + ", their updates " + MemoryEstimate.bytes(updates) + ", " + vectors
        + " vectors of the largest block '" + largest + "' (" + largestEntries + " entries) " + MemoryEstimate.bytes(solve);
  }

  /**
   * The memory the step's curvature may plan with: {@code limit - bytes()}.
   *
   * @throws UserError when the step's own memory alone exceeds the limit, naming its parts and the limit
   */
  long budget(long limit) {
    long own = bytes();
    if (own >= limit)
      throw new UserError("not enough memory: a " + optimizer + " step holds " + MemoryEstimate.bytes(own) + " besides the pass and the curvature ("
          + describe() + "): over --memory-limit " + MemoryEstimate.bytes(limit)
          + "; use a smaller network, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)");
    return limit - own;
  }

  /**
   * {@code notices} with each line ended by what the budget left out: where a chunk line names the
   * memory limit it planned with, the reader learns that it is {@code --memory-limit} less the step's memory.
   */
  Consumer<String> explained(Consumer<String> notices, long limit) {
    String why = " (--memory-limit " + MemoryEstimate.bytes(limit) + " less the " + MemoryEstimate.bytes(bytes()) + " the " + optimizer
        + " step holds itself)";
    return line -> notices.accept(line + why);
  }
}
