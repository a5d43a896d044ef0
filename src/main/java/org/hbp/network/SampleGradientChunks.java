package org.hbp.network;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * BackPACK's first-order quantities ({@link SampleGradients}) of every parameter within a memory
 * limit: the per-sample gradients {@code ∇ℓ_n} of the whole batch at once, on the caller's pass,
 * where they fit the limit, else a chunk of samples at a time, each chunk with its own forward and
 * gradient pass ({@link SampleChunks}: the chunk size from the per-sample gradients measured on 2
 * samples by the counting backend, with what the caller keeps on the Java heap added: {@link Use}).
 *
 * <p><b>Why chunks give the same numbers.</b> {@code ∇ℓ_n} depends on sample n alone (a pass's
 * output gradients are those of the per-sample loss ℓ_n, without the mean's 1/N), so a chunk's pass
 * gives the batch pass's rows for its samples. The batch gradients {@code (1/N) ∇ℓ_n} and their
 * squared norms are per sample; the variance is combined from the chunks' means {@code m_k} and
 * centred sums of squares {@code M_k = sum_{n in chunk} (∇ℓ_n - m_k)²} by Chan, Golub and LeVeque's
 * pairwise update ({@link Variance}):
 *
 * <pre>
 *   n = n_a + n_b,   δ = m_b - m_a,   m = m_a + δ n_b / n,   M = M_a + M_b + δ² n_a n_b / n,
 *   variance = M / N   (entrywise)
 * </pre>
 *
 * which for a single chunk is the two-pass {@code (1/N) sum_n (∇ℓ_n - m)²}, never the cancelling
 * {@code (1/N) sum_n (∇ℓ_n)² - m²}.
 *
 * <p><b>Outputs.</b> The batch gradients are N × P numbers (P: the entries of all parameters), kept
 * whole: where they do not fit beside the batch's pass they are refused, naming their size and the
 * limit. The squared norms (N per parameter) and the variance (P numbers) are small: they always fit
 * themselves in, in chunks down to one sample.
 */
public final class SampleGradientChunks {
  private SampleGradientChunks() {}

  /** What to do when the per-sample gradients do not fit. */
  static final String ADVICE = "use a smaller batch, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)";

  /** Receives the per-sample gradients of a chunk; the sweep releases them when it returns. */
  public interface Receiver {
    /**
     * {@code ∇ℓ_n} of samples {@code first .. first + count - 1} of the batch, for every parameter:
     * {@code [count x 1]} items in the parameter's item shape.
     */
    void accept(int first, int count, Map<String, Batch> gradients);
  }

  /**
   * What a receiver makes of the per-sample gradients, for the messages and the memory plan.
   *
   * @param name the quantity in messages, "the gradient variance"
   * @param plural whether the name is plural ("the per-sample gradients ... do not fit")
   * @param outputBytes bytes the receiver keeps on the Java heap for the whole batch (its output and accumulators)
   * @param output what those bytes are, for a refusal: "6 x 1234 per-sample gradients of 8 B"
   * @param bytesPerSample bytes the receiver copies to the Java heap per sample of a chunk
   */
  public record Use(String name, boolean plural, long outputBytes, String output, long bytesPerSample) {}

  /**
   * Hands the per-sample gradients of the pass's batch to {@code receiver}: the whole batch from the
   * caller's pass where it fits {@code limit} with what {@code use} keeps, else in chunks of samples
   * in order ({@code notices} gets one line saying so).
   *
   * @throws UserError when the use's output does not fit beside the batch's pass, or not even one
   *     sample fits
   */
  public static void forEach(Pass pass, Use use, long limit, Consumer<String> notices, Receiver receiver) {
    SampleChunks.Quantity q = quantity(use);
    sweep(pass, q, SampleChunks.plan(pass, q, limit), limit, notices, receiver);
  }

  /** BackPACK's BatchGrad within {@code limit}: {@code (1/N) ∇ℓ_n} of every parameter, {@code [N x 1]} items, fresh batches. */
  public static Map<String, Batch> batchGradients(Pass pass, long limit, Consumer<String> notices) {
    return batchGradients(pass, null, limit, notices);
  }

  /** BackPACK's BatchL2Grad within {@code limit}: {@code ||(1/N) ∇ℓ_n||²} of every parameter, N numbers each. */
  public static Map<String, double[]> squaredNorms(Pass pass, long limit, Consumer<String> notices) {
    return squaredNorms(pass, null, limit, notices);
  }

  /** BackPACK's Variance within {@code limit}: of every parameter, one item in its shape (fresh batches). */
  public static Map<String, Batch> variance(Pass pass, long limit, Consumer<String> notices) {
    return variance(pass, null, limit, notices);
  }

  // ---- forced chunk sizes (tests), and the common sweep ---------------------------------------

  /** {@link #batchGradients} in chunks of {@code chunk} samples (null: as the plan for {@code limit} says). */
  static Map<String, Batch> batchGradients(Pass pass, Integer chunk, long limit, Consumer<String> notices) {
    Network net = pass.net;
    int n = pass.samples;
    long entries = MemoryEstimate.parameterEntries(net);
    int bytes = MemoryEstimate.precisionOf(net.be).bytes();
    Use use = new Use("the per-sample gradients", true, MemoryEstimate.saturatedMultiply((long) n * entries, 8 + bytes),
        n + " x " + entries + " numbers of 8 B, and of " + bytes + " B in the backend", 8 * largest(net));
    for (String p : net.parameterNames()) arrayLength(n, net.parameterSize(p), p);
    Map<String, double[]> host = new LinkedHashMap<>(); // made once the plan has let them in
    double inv = 1.0 / n;
    run(pass, use, chunk, limit, notices, (first, count, g) -> {
      for (String p : net.parameterNames()) {
        double[] d = net.be.toArray(g.get(p)), out = host.computeIfAbsent(p, k -> new double[n * net.parameterSize(k)]);
        int offset = first * (d.length / count);
        for (int i = 0; i < d.length; i++) out[offset + i] = d[i] * inv;
      }
    });
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      out.put(p, net.be.fromArray(n, 1, s[0], s[1], host.remove(p)));
    }
    return out;
  }

  /** {@link #squaredNorms} in chunks of {@code chunk} samples (null: as the plan for {@code limit} says). */
  static Map<String, double[]> squaredNorms(Pass pass, Integer chunk, long limit, Consumer<String> notices) {
    Network net = pass.net;
    int n = pass.samples;
    Map<String, Norms> norms = new LinkedHashMap<>();
    for (String p : net.parameterNames()) norms.put(p, new Norms(n));
    long params = net.parameterNames().size();
    Use use = new Use("the squared norms of the per-sample gradients", true, MemoryEstimate.saturatedMultiply((long) n * params, 8),
        n + " x " + params + " numbers of 8 B", 8 * largest(net));
    run(pass, use, chunk, limit, notices, (first, count, g) -> norms.forEach((p, acc) -> acc.add(first, count, net.be.toArray(g.get(p)))));
    Map<String, double[]> out = new LinkedHashMap<>();
    norms.forEach((p, acc) -> out.put(p, acc.result()));
    return out;
  }

  /** {@link #variance} in chunks of {@code chunk} samples (null: as the plan for {@code limit} says). */
  static Map<String, Batch> variance(Pass pass, Integer chunk, long limit, Consumer<String> notices) {
    Network net = pass.net;
    Map<String, Variance> acc = new LinkedHashMap<>();
    for (String p : net.parameterNames()) acc.put(p, new Variance(net.parameterSize(p)));
    long entries = MemoryEstimate.parameterEntries(net);
    Use use = new Use("the gradient variance", false, 8 * (2 * entries + 2 * largest(net)), "means and sums of squares of " + entries + " entries",
        8 * largest(net));
    run(pass, use, chunk, limit, notices, (first, count, g) -> acc.forEach((p, v) -> v.add(count, net.be.toArray(g.get(p)))));
    Map<String, Batch> out = new LinkedHashMap<>();
    acc.forEach((p, v) -> {
      int[] s = net.parameterShape(p);
      out.put(p, net.be.fromArray(1, 1, s[0], s[1], v.result()));
    });
    return out;
  }

  private static void run(Pass pass, Use use, Integer chunk, long limit, Consumer<String> notices, Receiver receiver) {
    if (chunk == null) {
      forEach(pass, use, limit, notices, receiver);
      return;
    }
    sweep(pass, quantity(use), new SampleChunks.Plan(pass.samples, chunk), limit, notices, receiver);
  }

  private static void sweep(Pass pass, SampleChunks.Quantity q, SampleChunks.Plan plan, long limit, Consumer<String> notices, Receiver receiver) {
    Backend be = pass.net.be;
    SampleChunks.forEach(pass, q, plan, limit, notices, (first, count, gradients) -> {
      try {
        receiver.accept(first, count, gradients);
      } finally {
        for (Batch g : gradients.values()) be.release(g);
      }
    });
  }

  /**
   * The per-sample gradients of every parameter as a {@link SampleChunks.Quantity}: their memory
   * (one key for all uses: the backend's part is the same) and what the use keeps on the heap.
   */
  private static SampleChunks.Quantity quantity(Use use) {
    return new SampleChunks.Quantity(use.name(), "per-sample-gradients", ADVICE, (chunk, first, total, limit, ticks) -> {
      Map<String, Batch> g = new LinkedHashMap<>();
      for (String p : chunk.net.parameterNames()) g.put(p, SampleGradients.perSample(chunk, p));
      return g;
    }, new SampleChunks.Host(use.outputBytes(), use.output(), use.bytesPerSample()), use.plural());
  }

  /** The entries of the largest parameter. */
  public static long largest(Network net) {
    long m = 0;
    for (String p : net.parameterNames()) m = Math.max(m, net.parameterSize(p));
    return m;
  }

  /** {@code samples * size} as the length of one Java array, refused where no array holds it. */
  static int arrayLength(int samples, long size, String parameter) {
    long n = samples * size;
    if (n > Integer.MAX_VALUE - 8)
      throw new UserError("the per-sample gradients of " + parameter + " (" + samples + " x " + size + ") exceed a Java array; use a smaller batch");
    return (int) n;
  }

  // ---- accumulators -------------------------------------------------------------------------

  /** BatchL2Grad sample by sample: {@code ||(1/N) ∇ℓ_n||²} of N samples. */
  public static final class Norms {
    private final double[] norms;

    public Norms(int samples) {
      norms = new double[samples];
    }

    /** The squared norms of {@code count} equal parts of {@code gradients} (∇ℓ_n of samples {@code first, ...}), each scaled by 1/N. */
    public void add(int first, int count, double[] gradients) {
      int size = gradients.length / count;
      double inv = 1.0 / norms.length;
      for (int s = 0; s < count; s++) {
        double t = 0;
        for (int k = 0; k < size; k++) {
          double v = gradients[s * size + k] * inv;
          t += v * v;
        }
        norms[first + s] = t;
      }
    }

    public double[] result() {
      return norms;
    }
  }

  /** The entrywise population variance of per-sample vectors, chunk by chunk (the pairwise update of the class comment). */
  public static final class Variance {
    private final double[] mean, squares;
    private long count;

    /** For vectors of {@code size} entries. */
    public Variance(int size) {
      mean = new double[size];
      squares = new double[size];
    }

    /** Adds {@code count} vectors, the equal parts of {@code vectors}. */
    public void add(int count, double[] vectors) {
      int size = mean.length;
      double[] m = new double[size], sq = new double[size];
      for (int s = 0; s < count; s++) for (int k = 0; k < size; k++) m[k] += vectors[s * size + k];
      for (int k = 0; k < size; k++) m[k] /= count;
      for (int s = 0; s < count; s++)
        for (int k = 0; k < size; k++) {
          double d = vectors[s * size + k] - m[k];
          sq[k] += d * d;
        }
      long total = this.count + count;
      for (int k = 0; k < size; k++) {
        double delta = m[k] - mean[k];
        mean[k] += delta * count / total;
        squares[k] += sq[k] + delta * delta * ((double) this.count * count / total);
      }
      this.count = total;
    }

    /** {@code (1/n) sum (v - mean)²} entrywise over the n vectors added. */
    public double[] result() {
      double[] out = new double[mean.length];
      for (int k = 0; k < out.length; k++) out[k] = squares[k] / count;
      return out;
    }
  }
}
