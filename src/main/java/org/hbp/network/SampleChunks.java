package org.hbp.network;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Consumer;
import java.util.function.LongPredicate;
import java.util.function.LongUnaryOperator;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;

/**
 * Means over the samples of a batch of per-sample terms, {@code (1/N) sum_n q_n}, computed a chunk
 * of samples at a time where the whole batch does not fit the memory limit: the Hessian diagonal
 * ({@code q_n = diag(H_n)}), the exact and the Monte-Carlo GGN diagonal ({@code q_n = sum_c
 * (J_n' s_{n,c})^2}); and, through {@link #forEach}, any quantity built chunk by chunk from terms
 * of single samples (the per-sample gradients {@code ∇ℓ_n}, their squared norms and their variance:
 * {@link SampleGradientChunks}).
 *
 * <p><b>Why chunks give the same mean.</b> For chunks C_1, ..., C_K of the samples, {@code (1/N)
 * sum_n q_n = (1/N) sum_k sum_{n in C_k} q_n}. Each q_n depends on sample n alone: a pass's output
 * gradients are those of the per-sample loss ℓ_n (the mean loss's 1/N is not in them) and its loss
 * factor is S_n's, so a chunk's own forward and gradient pass gives the q_n of the batch's pass.
 * Each chunk returns its sums, not means, and the total is divided once, by the batch's N. A
 * Monte-Carlo quantity draws its random vectors for the whole batch in one stream and takes the
 * chunk's part of it ({@link Sums#of}'s {@code first}), so chunking does not change the draws.
 *
 * <p><b>The chunk size.</b> The quantity runs once on {@value MemoryProbe#SAMPLES} samples (its own
 * forward and gradient pass, then its walk) through a counting backend ({@link MemoryProbe}), which
 * scales every batch it saw to c samples: {@code peak(c)}, the peak of a chunk of c samples, and
 * {@code pass(N)}, the peak of the batch's pass and its gradients. The whole batch is computed on the caller's pass
 * when {@code peak(N)} fits {@code --memory-limit} (and its part beyond the pass fits the memory
 * left: the usable heap, or native memory, as {@link MemoryEstimate#check}); otherwise in chunks of
 * the largest c with {@code pass(N) + peak(c)} within the limit and {@code peak(c)} within the
 * memory left (then evened out: {@code ceil(N / K)} for the {@code K = ceil(N / c)} chunks that c
 * needs), the batch's pass being held by the caller meanwhile. Where not even one sample fits,
 * the quantity is refused with these sizes. Host arrays outside the backend are not in the probe's
 * count (the estimate's headroom covers small ones); a quantity that keeps large ones names them
 * ({@link Host}: an output of the whole batch, copies per sample of a chunk), and they are added to
 * {@code peak(c)}, on the Java heap. Where its output alone does not fit beside the batch's pass, the
 * quantity is refused with its size. The probe's log is kept per network and quantity, so repeated
 * calls (a benchmark's runs) probe once. The limit is the caller's: in training, a second-order
 * step gives its curvature {@code --memory-limit} less what the step holds itself (the parameters,
 * their updates, the solve's vectors: {@code org.hbp.train.StepMemory}), so its chunks fit beside them.
 *
 * <p><b>Inside an estimate's trial run</b> (the pass on a counting backend: {@code --strategy
 * diag-*} of curvature, spectrum, bench and train) the plan takes the memory and precision of the
 * real backend under it ({@link MemoryProbe#real}), and the quantity runs as a self-fitting section
 * ({@link MemoryProbe#selfFitting}): the estimate counts what it keeps, not its peak on the trial's
 * samples, since at the run's batch its own plan keeps it within the limit.
 */
final class SampleChunks {
  private SampleChunks() {}

  /** A quantity's sums over the samples of a pass. */
  interface Sums {
    /**
     * Each parameter's sum over the samples of {@code chunk}, one item in its shape (fresh batches;
     * a parameter left out counts as zero); the chunk holds samples {@code first, first + 1, ...} of a
     * batch of {@code total}. {@code limit}: the memory limit for the quantity's own checks (none
     * while the probe measures it). {@code ticks}: where the walk reports each layer it reaches.
     */
    Map<String, Batch> of(Pass chunk, int first, int total, long limit, LayerTicks ticks);
  }

  /**
   * A per-sample quantity: its name in messages ("the Hessian diagonal"), a key of what its memory
   * depends on besides the network (the Monte-Carlo vectors per sample, say), what to do when one
   * sample does not fit, its sums, what it keeps on the Java heap outside the backend ({@link
   * Host}), and whether its name is plural ("the per-sample gradients ... do not fit").
   */
  record Quantity(String name, String key, String advice, Sums sums, Host host, boolean plural) {
    /** A quantity that keeps nothing outside the backend, named in the singular. */
    Quantity(String name, String key, String advice, Sums sums) {
      this(name, key, advice, sums, Host.NONE, false);
    }
  }

  /**
   * What a quantity keeps on the Java heap outside the backend, which the probe does not see:
   * {@code output} bytes for the whole batch, held while every chunk runs (per-sample gradients
   * copied out for writing, accumulators), described by {@code what} in a refusal, and {@code
   * perSample} bytes per sample of a chunk (its host copies, dropped after the chunk).
   */
  record Host(long output, String what, long perSample) {
    static final Host NONE = new Host(0, "", 0);

    /** The bytes with a chunk of {@code c} samples. */
    long at(long c) {
      return MemoryEstimate.saturatedAdd(output, MemoryEstimate.saturatedMultiply(perSample, c));
    }
  }

  /** Where a chunk's sums go: samples {@code first .. first + count - 1}; the receiver releases them. */
  interface Receiver {
    void accept(int first, int count, Map<String, Batch> sums);
  }

  /** A batch of {@code samples} split into chunks of {@code size} samples, the last one shorter. */
  record Plan(int samples, int size) {
    int chunks() {
      return (samples + size - 1) / size;
    }

    boolean chunked() {
      return size < samples;
    }

    /** "6 chunks of 84 samples (the last of 80)". */
    String describe() {
      int last = samples - (chunks() - 1) * size;
      return chunks() + " chunks of " + size + (size == 1 ? " sample" : " samples") + (last == size ? "" : " (the last of " + last + ")");
    }
  }

  /** The probes' logs, per network and quantity key. */
  private static final Map<Network, Map<String, MemoryProbe>> PROBES = Collections.synchronizedMap(new WeakHashMap<>());

  /**
   * The quantity's mean over the pass's samples, in chunks where the whole batch does not fit
   * {@code limit} ({@link #plan}); {@code notices} gets one line when it chunks.
   *
   * @throws UserError when one sample does not fit
   */
  static Map<String, Batch> mean(Pass pass, Quantity q, long limit, Consumer<String> notices) {
    return mean(pass, q, limit, notices, WalkProgress.NONE);
  }

  /** As {@link #mean(Pass, Quantity, long, Consumer)}, reporting the walk's layers chunk by chunk to {@code progress}. */
  static Map<String, Batch> mean(Pass pass, Quantity q, long limit, Consumer<String> notices, WalkProgress progress) {
    return mean(pass, q, plan(pass, q, limit), limit, notices, progress);
  }

  /** The quantity's mean over the pass's samples, split as {@code plan} says (tests force a plan). */
  static Map<String, Batch> mean(Pass pass, Quantity q, Plan plan, long limit, Consumer<String> notices) {
    return mean(pass, q, plan, limit, notices, WalkProgress.NONE);
  }

  /** As above, reporting the walk's layers chunk by chunk to {@code progress}. */
  static Map<String, Batch> mean(Pass pass, Quantity q, Plan plan, long limit, Consumer<String> notices, WalkProgress progress) {
    Backend be = pass.net.be;
    Map<String, Batch> total = new LinkedHashMap<>();
    forEach(pass, q, plan, limit, notices, progress, (first, count, sums) -> add(be, total, sums));
    return scaled(pass.net, total, pass.samples);
  }

  /**
   * The quantity's sums over each chunk of the pass's samples, split as {@code plan} says, handed to
   * {@code receiver} in order: the whole batch on the caller's pass where the plan does not chunk,
   * else each chunk on its own pass (released after its sums are received); {@code notices} gets
   * one line when it chunks.
   */
  static void forEach(Pass pass, Quantity q, Plan plan, long limit, Consumer<String> notices, Receiver receiver) {
    forEach(pass, q, plan, limit, notices, WalkProgress.NONE, receiver);
  }

  /** As above, the walk's layers reported to {@code progress} ({@link WalkProgress}: chunks x layers units). */
  static void forEach(Pass pass, Quantity q, Plan plan, long limit, Consumer<String> notices, WalkProgress progress, Receiver receiver) {
    MemoryProbe.selfFitting(pass.net.be, () -> {
      sweep(pass, q, plan, limit, notices, progress, receiver);
      return null;
    });
  }

  private static void sweep(Pass pass, Quantity q, Plan plan, long limit, Consumer<String> notices, WalkProgress progress, Receiver receiver) {
    int n = pass.samples, layers = pass.net.layers().size(), chunks = plan.chunked() ? (n + plan.size() - 1) / plan.size() : 1;
    if (!plan.chunked()) {
      receiver.accept(0, n, q.sums().of(pass, 0, n, limit, new LayerTicks(progress, 0, 1, layers)));
      progress.at((long) layers, layers, "done");
      return;
    }
    notices.accept(q.name() + " of batch " + n + (q.plural() ? " do" : " does") + " not fit the memory limit " + MemoryEstimate.bytes(limit)
        + " at once: computing " + (q.plural() ? "them" : "it") + " in " + plan.describe());
    Backend be = pass.net.be;
    for (int first = 0; first < n; first += plan.size()) {
      int count = Math.min(plan.size(), n - first), at = first;
      List<Batch> slices = new ArrayList<>();
      Pass part = chunk(pass, first, count, slices);
      try {
        receiver.accept(at, count, q.sums().of(part, at, n, limit, new LayerTicks(progress, first / plan.size(), chunks, layers)));
      } finally {
        part.close();
        for (Batch s : slices) be.release(s);
      }
    }
    progress.at((long) chunks * layers, (long) chunks * layers, "done");
  }

  /**
   * The split of the pass's batch: whole where {@code peak(N)} fits, else the largest chunk that
   * fits beside the batch's pass (see the class comment).
   *
   * @throws UserError when one sample does not fit, with the sizes
   */
  static Plan plan(Pass pass, Quantity q, long limit) {
    return MemoryProbe.selfFitting(pass.net.be, () -> planned(pass, q, limit));
  }

  private static Plan planned(Pass pass, Quantity q, long limit) {
    int n = pass.samples;
    Network net = pass.net;
    MemoryProbe probe = probe(pass, q);
    MemoryEstimate.Memory memory = MemoryEstimate.memoryOf(net.be);
    boolean heap = memory == MemoryEstimate.Memory.HEAP;
    LongUnaryOperator footprint = MemoryEstimate.footprint(memory);
    LongUnaryOperator peak = c -> probe.peaks(c, phase -> 1, footprint).get("sums");
    Host host = q.host();
    long held = probe.peaks(n, phase -> 1, footprint).get("pass"), whole = peak.applyAsLong(n), beyond = Math.max(0, whole - held);
    if (MemoryEstimate.saturatedAdd(whole, host.at(n)) <= limit && fitsMemory(memory, beyond, host.at(n))) return new Plan(n, n);
    long left = MemoryEstimate.available(memory), heapLeft = heap ? left : host.at(1) > 0 ? MemoryEstimate.available(MemoryEstimate.Memory.HEAP) : Long.MAX_VALUE;
    if (host.output() > 0 && (MemoryEstimate.saturatedAdd(held, host.output()) > limit || host.output() > heapLeft))
      throw new UserError(q.name() + " of batch " + n + " take" + (q.plural() ? "" : "s") + " " + MemoryEstimate.bytes(host.output())
          + " on the Java heap (" + host.what() + "), beside the batch's pass of " + MemoryEstimate.bytes(held) + " (estimated at "
          + MemoryEstimate.where(net.be) + "): over the memory limit " + MemoryEstimate.bytes(limit)
          + (heapLeft < Long.MAX_VALUE ? " or the " + MemoryEstimate.bytes(heapLeft) + " of Java heap left" : "") + "; " + q.advice());
    LongPredicate fits = c -> {
      long p = peak.applyAsLong(c), h = host.at(c);
      return MemoryEstimate.saturatedAdd(MemoryEstimate.saturatedAdd(held, p), h) <= limit
          && (heap ? MemoryEstimate.saturatedAdd(p, h) <= left : p <= left && h <= heapLeft);
    };
    if (!fits.test(1)) {
      long one = MemoryEstimate.saturatedAdd(peak.applyAsLong(1), host.at(1));
      throw new UserError(q.name() + " do" + (q.plural() ? "" : "es") + " not fit even one sample at a time: a sample's pass and " + q.name()
          + " take " + MemoryEstimate.bytes(one) + " (estimated at " + MemoryEstimate.where(net.be) + "), beside the batch's pass of "
          + MemoryEstimate.bytes(held) + ", over the memory limit " + MemoryEstimate.bytes(limit)
          + (left < Long.MAX_VALUE ? " or the " + MemoryEstimate.bytes(left) + " of memory left" : "") + "; " + q.advice());
    }
    int lo = 1, hi = n - 1; // lo fits; the largest c in [lo, hi] that fits
    while (lo < hi) {
      int mid = (int) (((long) lo + hi + 1) / 2);
      if (fits.test(mid)) lo = mid;
      else hi = mid - 1;
    }
    int chunks = (n + lo - 1) / lo;
    return new Plan(n, (n + chunks - 1) / chunks); // as few chunks as the largest size needs, of even sizes
  }

  /**
   * Whether {@code backend} bytes in the backend's memory and {@code host} bytes on the Java heap fit
   * the memory left (both on the heap for the cpu backend).
   */
  private static boolean fitsMemory(MemoryEstimate.Memory memory, long backend, long host) {
    if (memory == MemoryEstimate.Memory.HEAP) {
      long both = MemoryEstimate.saturatedAdd(backend, host);
      return both <= MemoryEstimate.available(memory, both);
    }
    return backend <= MemoryEstimate.available(memory, backend) && (host == 0 || host <= MemoryEstimate.available(MemoryEstimate.Memory.HEAP, host));
  }

  /** The probe's log of the quantity on {@value MemoryProbe#SAMPLES} samples: phase "pass", then "sums". */
  private static MemoryProbe probe(Pass pass, Quantity q) {
    Network net = pass.net;
    Map<String, MemoryProbe> known = PROBES.computeIfAbsent(net, k -> Collections.synchronizedMap(new HashMap<>()));
    MemoryProbe cached = known.get(q.key());
    if (cached != null) return cached;
    MemoryProbe probe = new MemoryProbe(net.be, MemoryEstimate.precisionOf(net.be).bytes());
    Backend pb = probe.backend();
    Network pn = net.on(pb);
    probe.phase("pass", false);
    Batch[] xy = MemoryEstimate.probeBatch(net, pb);
    Pass p = pn.run(pass.parameters, xy[0], xy[1]);
    try {
      for (String name : pn.parameterNames()) p.gradient(name); // as the caller's pass may hold them
      probe.phase("sums", false);
      for (Batch b : q.sums().of(p, 0, MemoryProbe.SAMPLES, Long.MAX_VALUE, LayerTicks.NONE).values()) pb.release(b);
    } catch (OutOfMemoryError e) {
      // the trial itself (the real kernels on 2 samples) does not fit the process: no chunk of samples can
      throw new UserError(q.name() + " do" + (q.plural() ? "" : "es") + " not fit even one sample at a time: the trial on "
          + MemoryProbe.SAMPLES + " samples that plans " + (q.plural() ? "their" : "its") + " chunks ran out of memory at "
          + MemoryEstimate.where(net.be) + " (" + e.getMessage() + "), whatever --memory-limit; give the process more memory "
          + "(JAVA_TOOL_OPTIONS=-Xmx16g)" + otherThanTheLimit(q.advice()));
    } finally {
      p.close();
      pb.release(xy[0]);
      pb.release(xy[1]);
    }
    known.put(q.key(), probe);
    return probe;
  }

  /** A quantity's advice without raising --memory-limit (which does not help where the process runs out), as ", or ..." or "". */
  private static String otherThanTheLimit(String advice) {
    String rest = advice.replace(", or raise --memory-limit", "").replace("raise --memory-limit, or ", "").replace("raise --memory-limit", "").trim();
    return rest.isEmpty() ? "" : ", or " + rest;
  }

  /** The pass of samples {@code first .. first + count - 1} of the pass's batch; the copies it made go to {@code slices}. */
  private static Pass chunk(Pass pass, int first, int count, List<Batch> slices) {
    Backend be = pass.net.be;
    int n = pass.samples;
    Batch x = slice(be, pass.inputs, first, count, n, slices), y = slice(be, pass.targets, first, count, n, slices);
    Map<String, Batch> data = new LinkedHashMap<>();
    pass.data.forEach((k, v) -> data.put(k, slice(be, v, first, count, n, slices)));
    return pass.net.run(pass.parameters, x, y, data);
  }

  /**
   * Samples {@code first .. first + count - 1} of a batch of {@code total} samples (a batch shared by the samples as it is),
   * through the host: only those samples are read.
   */
  static Batch slice(Backend be, Batch b, int first, int count, int total, List<Batch> slices) {
    if (b.samples() != total) return b;
    Batch s = be.fromArray(count, b.directions(), b.rows(), b.cols(), be.toArray(b, first, count));
    slices.add(s);
    return s;
  }

  /** Adds a chunk's sums to the total, releasing what is replaced. */
  private static void add(Backend be, Map<String, Batch> total, Map<String, Batch> sums) {
    sums.forEach((name, s) -> {
      Batch before = total.get(name);
      if (before == null) total.put(name, s);
      else {
        total.put(name, be.add(before, s));
        be.release(before);
        be.release(s);
      }
    });
  }

  /** {@code sum / n} for every parameter, one item in its shape (zeros where there is no sum); releases the sums. */
  private static Map<String, Batch> scaled(Network net, Map<String, Batch> sums, int n) {
    Map<String, Batch> out = new LinkedHashMap<>();
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      Batch sum = sums.get(p);
      out.put(p, sum == null ? net.be.fill(s[0], s[1], 0) : net.be.reshape(net.be.scale(sum, 1.0 / n), s[0], s[1]));
      if (sum != null) net.be.release(sum);
    }
    return out;
  }
}
