package org.hbp.network;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.hbp.UserError;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.Precision;
import org.hbp.backend.blas.BlasBackend;
import org.hbp.backend.opencl.OpenClBackend;

/**
 * The memory a run will need, by part, computed before anything large is allocated, and checked
 * against {@code --memory-limit} and the memory the parts live in. The model:
 *
 * <ul>
 *   <li><b>Parameters</b>: {@code sum_p numel(p) * b} bytes, b the bytes of an entry (8 for
 *       float64, 4 for float32), from the shapes alone: checked before parameters are read or
 *       initialized ({@link #checkParameters}).</li>
 *   <li><b>The pass and the products</b> (activations, every layer's forward cache and the memo
 *       slots of the generated operators, output gradients, parameter gradients, the optimizer's
 *       state and CG vectors, the explicit kfra/bda matrices, the exact strategy's per-product
 *       working set, evaluation): measured, not modelled, by running the same code on 2 samples
 *       and 3 directions through a counting backend ({@link MemoryProbe}), which sorts every batch
 *       into shared, per sample, per direction, or per sample and direction, and scales each to
 *       the run's N and V; replaying the probe's allocations and releases at that size gives the
 *       peak, exact for what goes through the backend (activations and products are linear in N
 *       and V, the kfra/bda matrices do not depend on N), with each array's footprint in its
 *       memory ({@link #footprint}: on the heap, G1 gives arrays of half a region or more whole
 *       regions).</li>
 *   <li><b>Host copies</b>: arrays copied to the Java heap for output (products, dense blocks,
 *       steps written to .npz; losses, logits and targets of an evaluation), 8 bytes an entry.</li>
 * </ul>
 *
 * <p>Where each part lives: the {@code cpu} backend keeps batches on the Java heap; {@code blas-*}
 * in native memory (JavaCPP), bounded by {@code org.bytedeco.javacpp.maxBytes} (by default the
 * maximum heap, {@code -Xmx}) and the physical memory; {@code opencl-*} in device memory. The
 * total of all parts must stay within {@code --memory-limit}; heap parts within {@value
 * #HEAP_HEADROOM} of the heap still free ({@link Runtime#maxMemory} less what is in use after a
 * garbage collection: the garbage collector needs room, and kernels have scratch the probe does
 * not see); native parts within JavaCPP's limit and the physical memory available. Above any of
 * these, the run is refused with the estimate by part, never left to run out of memory.
 */
public final class MemoryEstimate {
  /** The share of the free heap the heap parts may take. */
  public static final double HEAP_HEADROOM = 0.8;

  /** Where a part is held. */
  public enum Memory {
    HEAP("Java heap"), NATIVE("native memory"), DEVICE("device memory");

    final String label;

    Memory(String label) {
      this.label = label;
    }
  }

  /** One part of the estimate. */
  public record Part(String name, long bytes, Memory memory) {}

  private final List<Part> parts;
  private final String context;
  private final String advice;

  MemoryEstimate(List<Part> parts, String context, String advice) {
    this.parts = List.copyOf(parts);
    this.context = context;
    this.advice = advice;
  }

  public List<Part> parts() {
    return parts;
  }

  /** The bytes of all parts. */
  public long total() {
    long t = 0;
    for (Part p : parts) t = saturatedAdd(t, p.bytes());
    return t;
  }

  /** The bytes of the parts held in one memory. */
  public long total(Memory m) {
    long t = 0;
    for (Part p : parts) if (p.memory() == m) t = saturatedAdd(t, p.bytes());
    return t;
  }

  /** The bytes of a named part (0 if there is none). */
  public long part(String name) {
    for (Part p : parts) if (p.name().equals(name)) return p.bytes();
    return 0;
  }

  /** "parameters 0.2 GiB, forward and gradient pass 3.1 GiB, ..." (parts of 0 bytes left out). */
  public String describe() {
    List<String> out = new ArrayList<>();
    for (Part p : parts) if (p.bytes() > 0) out.add(p.name() + " " + bytes(p.bytes()));
    return String.join(", ", out);
  }

  /**
   * Refuses (UserError) when the total exceeds {@code limit} bytes, the heap parts
   * the free heap ({@link #HEAP_HEADROOM}), or the native parts JavaCPP's limit or the physical
   * memory available; the message gives the estimate by part and what to change.
   */
  public void check(long limit) {
    long total = total();
    if (total > limit) throw refusal(bytes(total) + " > --memory-limit " + bytes(limit));
    long heap = total(Memory.HEAP), free = usableHeap();
    if (heap > free)
      throw refusal(bytes(heap) + " on the Java heap > " + bytes(free) + " usable (" + (int) (HEAP_HEADROOM * 100) + "% of the "
          + bytes(freeHeap()) + " free of the maximum heap " + bytes(Runtime.getRuntime().maxMemory()) + "; java -Xmx sets it)");
    long nat = total(Memory.NATIVE);
    if (nat > 0) {
      long max = org.bytedeco.javacpp.Pointer.maxBytes(), used = org.bytedeco.javacpp.Pointer.totalBytes();
      if (max > 0 && nat > max - used)
        throw refusal(bytes(nat) + " of native memory > " + bytes(Math.max(0, max - used)) + " left under JavaCPP's limit " + bytes(max)
            + " (-Dorg.bytedeco.javacpp.maxBytes, by default the maximum heap -Xmx)");
      long physical = org.bytedeco.javacpp.Pointer.availablePhysicalBytes();
      if (physical > 0 && nat > physical) throw refusal(bytes(nat) + " of native memory > " + bytes(physical) + " of physical memory available");
    }
  }

  /**
   * The bytes a run may still take in memory {@code m} besides {@code limit}: the usable free heap
   * ({@link #HEAP_HEADROOM}), what JavaCPP's limit and the physical memory leave of native memory,
   * no bound of its own for device memory ({@code --memory-limit} only).
   */
  static long available(Memory m) {
    return available(m, Long.MAX_VALUE);
  }

  /**
   * {@link #available(Memory)}, where it matters: the heap's free memory is first taken without a
   * garbage collection (a lower bound), and collected only when that is below {@code needed}.
   */
  static long available(Memory m, long needed) {
    if (m == Memory.HEAP) {
      Runtime rt = Runtime.getRuntime();
      long quick = (long) ((rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) * HEAP_HEADROOM);
      return quick >= needed ? quick : usableHeap();
    }
    if (m == Memory.NATIVE) {
      long max = org.bytedeco.javacpp.Pointer.maxBytes(), used = org.bytedeco.javacpp.Pointer.totalBytes();
      long left = max > 0 ? Math.max(0, max - used) : Long.MAX_VALUE;
      long physical = org.bytedeco.javacpp.Pointer.availablePhysicalBytes();
      return physical > 0 ? Math.min(left, physical) : left;
    }
    return Long.MAX_VALUE;
  }

  private UserError refusal(String why) {
    return new UserError("not enough memory: estimate for " + context + ": " + describe() + ": " + why + "; " + advice);
  }

  /** The heap free now: the maximum heap less what is in use after a garbage collection. */
  static long freeHeap() {
    Runtime rt = Runtime.getRuntime();
    System.gc();
    return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
  }

  static long usableHeap() {
    return (long) (freeHeap() * HEAP_HEADROOM);
  }

  // ---- where a backend keeps its batches --------------------------------------------------

  /**
   * The memory a backend keeps its batches in; of a counting backend ({@link MemoryProbe}: an
   * estimate's trial run) that of the real backend under it.
   */
  public static Memory memoryOf(Backend be) {
    be = MemoryProbe.real(be);
    if (be instanceof BlasBackend) return Memory.NATIVE;
    if (be instanceof OpenClBackend) return Memory.DEVICE;
    return Memory.HEAP;
  }

  /**
   * The precision of a backend's batches (float64 for the cpu backend and unknown ones); of a
   * counting backend that of the real backend under it.
   */
  public static Precision precisionOf(Backend be) {
    be = MemoryProbe.real(be);
    if (be instanceof BlasBackend b) return b.precision();
    if (be instanceof OpenClBackend o) return o.precision();
    return Precision.FLOAT64;
  }

  static String where(Backend be) {
    return precisionOf(be).name().toLowerCase(Locale.ROOT) + " on " + be.name() + " (" + memoryOf(be).label + ")";
  }

  // ---- static parts ------------------------------------------------------------------------

  /** Entries of all parameters. */
  public static long parameterEntries(Network net) {
    long n = 0;
    for (String p : net.parameterNames()) {
      int[] s = net.parameterShape(p);
      n += (long) s[0] * s[1];
    }
    return n;
  }

  /**
   * Before parameters are read or initialized: refuses when the parameters and {@code copies}
   * more of their size (optimizer state: 1 for momentum, 2 for Adam's moments) cannot fit.
   */
  public static void checkParameters(Network net, int copies, String advice, long limit) {
    long p = parameterEntries(net) * precisionOf(net.be).bytes();
    List<Part> parts = new ArrayList<>();
    parts.add(new Part("parameters", p, memoryOf(net.be)));
    if (copies > 0) parts.add(new Part("optimizer state", saturatedMultiply(p, copies), memoryOf(net.be)));
    new MemoryEstimate(parts, "network '" + net.spec.name() + "' (" + parameterEntries(net) + " parameters) at " + where(net.be), advice).check(limit);
  }

  // ---- curvature ---------------------------------------------------------------------------

  /** What {@code hbp curvature} computes: products with V directions, dense blocks, or CG solves. */
  public enum Output { VECTORS, DENSE, SOLVE }

  /**
   * {@link #curvature(Network, Map, int, CurvatureKind, Strategy, int, boolean, Output, int, long)}
   * with one block per parameter ({@code blocks} row groups each).
   */
  public static MemoryEstimate curvature(Network net, Map<String, Batch> parameters, int samples, CurvatureKind kind, Strategy strategy,
      int blocks, Output output, int directions, long limit) {
    return curvature(net, parameters, samples, kind, strategy, blocks, false, output, directions, limit);
  }

  private static long largestParameter(Network net) {
    long largest = 0;
    for (String p : net.parameterNames()) largest = Math.max(largest, net.parameterSize(p));
    return largest;
  }

  private static long largestJointEntries(Network net) {
    long largest = 0;
    for (List<String> group : Curvature.layerGroups(net)) {
      long d = 0;
      for (String p : group) d += net.parameterSize(p);
      largest = Math.max(largest, d);
    }
    return largest;
  }

  /**
   * The estimate of a curvature run on {@code samples} samples: the parameters (given: they are
   * the caller's and not counted again), the forward and gradient pass, the curvature (kfra/bda
   * matrices) and its products for the output, and the host copies of the output. The kfra/bda
   * matrices of a batch of {@code samples} are first checked layer by layer against
   * {@code limit} ({@link CurvatureStrategy#checkMemory}), so the probe never forms matrices above it.
   *
   * With {@code layerBlocks} (one joint block per layer, {@link Curvature#layerMatProd}; exact
   * strategy, {@code blocks} 1) the probe runs each layer's joint products, and for
   * {@link Output#SOLVE} its joint CG ({@link Curvature#layerSolve}), whose vectors span all the
   * layer's parameters (D entries) instead of one parameter's; the dense output is one D x D block
   * per layer, assembled on the heap.
   *
   * @param directions V of {@link Output#VECTORS} (ignored otherwise)
   */
  public static MemoryEstimate curvature(Network net, Map<String, Batch> parameters, int samples, CurvatureKind kind, Strategy strategy,
      int blocks, boolean layerBlocks, Output output, int directions, long limit) {
    return curvature(net, parameters, samples, kind, strategy, GgnRoute.NETWORK, blocks, layerBlocks, output, directions, limit);
  }

  /**
   * {@link #curvature(Network, Map, int, CurvatureKind, Strategy, int, boolean, Output, int, long)}
   * with the exact strategy's GGN route ({@link GgnRoute#FACTORED}: the loss factor's columns at the
   * layers' outputs, checked against {@code limit} at the run's batch first, then probed with the rest).
   */
  public static MemoryEstimate curvature(Network net, Map<String, Batch> parameters, int samples, CurvatureKind kind, Strategy strategy,
      GgnRoute route, int blocks, boolean layerBlocks, Output output, int directions, long limit) {
    return curvature(net, parameters, samples, kind, strategy, KfacOptions.defaults(), route, blocks, layerBlocks, output, directions, limit);
  }

  /**
   * {@link #curvature(Network, Map, int, CurvatureKind, Strategy, GgnRoute, int, boolean, Output, int, long)}
   * with the Monte-Carlo strategies' {@code options} (kfac's and diag-ggn-mc's {@code --mc-samples} vectors per sample), as
   * the run uses them.
   */
  public static MemoryEstimate curvature(Network net, Map<String, Batch> parameters, int samples, CurvatureKind kind, Strategy strategy,
      KfacOptions options, GgnRoute route, int blocks, boolean layerBlocks, Output output, int directions, long limit) {
    return curvature(net, parameters, samples, kind, strategy, options, route, blocks, layerBlocks, output, directions, null, limit);
  }

  /**
   * {@link #curvature(Network, Map, int, CurvatureKind, Strategy, KfacOptions, GgnRoute, int, boolean, Output, int, long)}
   * for the blocks of the parameters {@code only} alone ({@code null}: every parameter's), as {@code hbp spectrum --scope
   * block:NAME} takes products with one block: the products, their directions and the outputs are counted for those
   * blocks (with {@code layerBlocks}, the layers that hold one of them), the pass and the curvature for the whole network.
   */
  public static MemoryEstimate curvature(Network net, Map<String, Batch> parameters, int samples, CurvatureKind kind, Strategy strategy,
      KfacOptions options, GgnRoute route, int blocks, boolean layerBlocks, Output output, int directions, java.util.Collection<String> only,
      long limit) {
    java.util.function.Predicate<String> in = name -> only == null || only.contains(name);
    route.check(kind, strategy);
    if (route == GgnRoute.FACTORED) FactoredBlocks.checkMemory(net, samples, limit);
    if (layerBlocks && blocks != 1) throw new IllegalArgumentException("per-layer joint blocks have no row groups, not " + blocks);
    // the explicit matrices of the run's batch first: the probe below runs on a small batch
    strategy.implementation().checkMemory(net, samples, limit);
    int bytes = precisionOf(net.be).bytes();
    Memory m = memoryOf(net.be);
    MemoryProbe probe = new MemoryProbe(net.be, bytes);
    Network pn = net.on(probe.backend());
    Backend pb = probe.backend();
    probe.phase("pass", false);
    Batch[] xy = probeBatch(net, pb);
    Pass pass = pn.run(parameters, xy[0], xy[1]);
    for (String name : pn.parameterNames()) pass.gradient(name);
    pass.loss();
    List<String> productPhases = new ArrayList<>();
    Map<String, Integer> phaseDirections = new LinkedHashMap<>();
    try {
      probe.phase("curvature", false);
      Curvature c = Curvature.of(pass, kind, strategy, options, route, limit, line -> {});
      if (layerBlocks) {
        for (List<String> group : c.layerGroups()) {
          if (group.stream().noneMatch(in)) continue;
          String phase = "products " + String.join(",", group);
          productPhases.add(phase);
          if (output == Output.SOLVE) {
            // the joint CG: its vectors (x, r, p, Ap and their updates) over every parameter of the layer
            probe.phase(phase, false);
            phaseDirections.put(phase, 1);
            Map<String, Batch> minusG = new LinkedHashMap<>();
            for (String name : group) minusG.put(name, pb.scale(pass.gradient(name), -1));
            ConjugateGradient.JointResult r = c.layerSolve(minusG, 0.5, new ConjugateGradient.Settings(0, 0, 2));
            for (Batch b : r.solution().values()) pb.release(b);
            for (Batch b : minusG.values()) pb.release(b);
          } else {
            // products with directions on every parameter of the layer (the dense block: each parameter's unit directions in turn,
            // the others' zero directions alongside, as many as the largest parameter's entries)
            probe.phase(phase, true);
            int largest = 0;
            for (String name : group) largest = Math.max(largest, pn.parameterSize(name));
            phaseDirections.put(phase, output == Output.DENSE ? largest : directions);
            Map<String, Batch> v = new LinkedHashMap<>();
            for (String name : group) {
              int[] s = pn.parameterShape(name);
              v.put(name, net.be.fromArray(1, MemoryProbe.DIRECTIONS, s[0], s[1], new double[MemoryProbe.DIRECTIONS * s[0] * s[1]]));
            }
            for (Batch b : c.layerMatProd(v).values()) pb.release(b);
            for (Batch b : v.values()) net.be.release(b);
          }
        }
      }
      for (String name : layerBlocks ? List.<String>of() : pn.parameterNames()) {
        if (!in.test(name)) continue;
        int[] s = pn.parameterShape(name);
        int n = s[0] * s[1];
        String phase = "products " + name;
        productPhases.add(phase);
        if (output == Output.SOLVE) {
          probe.phase(phase, false);
          phaseDirections.put(phase, 1);
          Batch minusG = pb.scale(pass.gradient(name), -1);
          ConjugateGradient.Result r = ConjugateGradient.solve(pb, v -> c.matProd(name, v, Math.min(blocks, s[0])), 0.5, minusG,
              new ConjugateGradient.Settings(0, 0, 2));
          pb.release(r.solution());
          pb.release(minusG);
        } else {
          probe.phase(phase, true);
          phaseDirections.put(phase, output == Output.DENSE ? n : directions);
          Batch v = net.be.fromArray(1, MemoryProbe.DIRECTIONS, s[0], s[1], new double[MemoryProbe.DIRECTIONS * n]);
          pb.release(c.matProd(name, v, blocks));
          net.be.release(v);
        }
      }
      c.release();
    } finally {
      pass.close();
      net.be.release(xy[0]);
      net.be.release(xy[1]);
    }
    List<Part> parts = new ArrayList<>();
    parts.add(new Part("parameters", parameterEntries(net) * bytes, m));
    Map<String, Long> peaks = probe.peaks(samples, phase -> phaseDirections.getOrDefault(phase, 1), footprint(m));
    // a strategy that fits its preparation into the limit itself (in chunks of samples) counts for what it keeps
    long passPeak = peaks.get("pass"), curvaturePeak = strategy.implementation().fitsItsPreparation() ? passPeak : peaks.get("curvature");
    for (String phase : productPhases) curvaturePeak = Math.max(curvaturePeak, peaks.get(phase));
    parts.add(new Part("batch, forward and gradient pass", passPeak, m));
    String products = output == Output.SOLVE ? (layerBlocks ? "joint CG solves (one per layer)" : "CG solves")
        : output == Output.DENSE ? "products for the dense " + (layerBlocks ? "joint blocks" : "blocks")
        : (layerBlocks ? "joint " : "") + "products with " + directions + " direction" + (directions == 1 ? "" : "s");
    parts.add(new Part((strategy == Strategy.EXACT ? "exact " : strategy.label() + " matrices and ") + products, Math.max(0, curvaturePeak - passPeak), m));
    long outputs = 0, largest = 0, largestJoint = 0, entries = 0;
    for (String name : net.parameterNames()) {
      if (!in.test(name)) continue;
      long n = net.parameterSize(name);
      entries += n;
      largest = Math.max(largest, n);
      // the dense joint blocks are counted per layer below
      long copy = output == Output.DENSE ? (layerBlocks ? 0 : n * n) : output == Output.VECTORS ? n * directions : n;
      outputs = saturatedAdd(outputs, saturatedMultiply(copy, 8));
    }
    if (layerBlocks && output == Output.DENSE) {
      for (List<String> group : Curvature.layerGroups(net)) {
        if (group.stream().noneMatch(in)) continue;
        long d = 0;
        for (String name : group) d += net.parameterSize(name);
        largestJoint = Math.max(largestJoint, d);
        outputs = saturatedAdd(outputs, saturatedMultiply(saturatedMultiply(d, d), 8));
      }
    }
    if (route == GgnRoute.FACTORED) {
      // t (r x D) and a layer's S_z t (|z| x D) per sample hold D in their items' columns, which the probe does not scale
      long d = output == Output.VECTORS ? directions : output == Output.SOLVE ? 1 : layerBlocks ? largestJointEntries(net) : largestParameter(net);
      parts.add(new Part("factored products' r x D and |z| x D items per sample", FactoredBlocks.productBytes(net, samples, d), m));
    }
    if (output == Output.VECTORS) parts.add(new Part("directions", saturatedMultiply(entries * bytes, directions), m));
    if (output == Output.DENSE) parts.add(new Part("identity directions of the largest " + (layerBlocks ? "parameter" : "block"),
        saturatedMultiply(largest * largest, bytes), m));
    if (largestJoint > 0) {
      // LayerBlocks.dense fills a D x D array on the heap, then copies it to the backend
      long dd = saturatedMultiply(largestJoint, largestJoint);
      parts.add(new Part("largest joint block, assembled", saturatedMultiply(dd, 8), Memory.HEAP));
      parts.add(new Part("largest joint block, on the backend", saturatedMultiply(dd, bytes), m));
    }
    parts.add(new Part("outputs copied for writing", outputs, Memory.HEAP));
    return new MemoryEstimate(parts, "batch " + samples + " at " + where(net.be), "use a smaller batch"
        + (output == Output.VECTORS ? " or fewer directions" : output == Output.DENSE ? " or products (--vectors) instead of --dense" : "")
        + (strategy == Strategy.EXACT ? "" : " or --strategy exact") + ", or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)");
  }

  /** This estimate with one more part (a caller's own storage, e.g. the Lanczos vectors of {@code hbp spectrum}); this one is not changed. */
  public MemoryEstimate plus(String name, long bytes, Memory memory) {
    List<Part> more = new ArrayList<>(parts);
    more.add(new Part(name, bytes, memory));
    return new MemoryEstimate(more, context, advice);
  }

  /**
   * The estimate of a forward and gradient pass on {@code samples} samples, with the parameters and
   * a host copy of the parameters' size for the output: what {@code hbp curvature --diagonal} holds
   * besides the diagonal, which fits itself into the rest ({@link SampleChunks}).
   */
  public static MemoryEstimate pass(Network net, Map<String, Batch> parameters, int samples) {
    int bytes = precisionOf(net.be).bytes();
    Memory m = memoryOf(net.be);
    MemoryProbe probe = new MemoryProbe(net.be, bytes);
    Network pn = net.on(probe.backend());
    probe.phase("pass", false);
    Batch[] xy = probeBatch(net, probe.backend());
    Pass pass = pn.run(parameters, xy[0], xy[1]);
    for (String name : pn.parameterNames()) pass.gradient(name);
    pass.close();
    net.be.release(xy[0]);
    net.be.release(xy[1]);
    List<Part> parts = new ArrayList<>();
    parts.add(new Part("parameters", parameterEntries(net) * bytes, m));
    parts.add(new Part("batch, forward and gradient pass", probe.peaks(samples, phase -> 1, footprint(m)).get("pass"), m));
    parts.add(new Part("outputs copied for writing", saturatedMultiply(parameterEntries(net), 8), Memory.HEAP));
    return new MemoryEstimate(parts, "batch " + samples + " at " + where(net.be),
        "use a smaller batch, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)");
  }

  // ---- training ----------------------------------------------------------------------------

  /**
   * The estimate of training with mini-batches of {@code batch} and evaluations of {@code
   * evaluationBatch} samples: the parameters, two training steps (a pass, its gradients and the
   * optimizer's step, whose state persists into the second) and an evaluation, run by the probe
   * with {@code step}: given the probe's network, it returns the optimizer step (a fresh optimizer
   * on that network, so its state goes through the probe too).
   *
   * @param parameters the initial parameters (the caller's; the probe steps copies of them)
   */
  public static MemoryEstimate training(Network net, Map<String, Batch> parameters, int batch, int evaluationBatch,
      Function<Network, BiConsumer<Pass, Map<String, Batch>>> step) {
    int bytes = precisionOf(net.be).bytes();
    MemoryProbe probe = new MemoryProbe(net.be, bytes);
    Network pn = net.on(probe.backend());
    Backend pb = probe.backend();
    probe.phase("parameters", false);
    Map<String, Batch> params = new LinkedHashMap<>();
    for (String name : pn.parameterNames()) params.put(name, pb.scale(parameters.get(name), 1));
    long parameterBytes = probe.sharedNow();
    probe.phase("step", false);
    BiConsumer<Pass, Map<String, Batch>> optimizer = step.apply(pn);
    for (int k = 0; k < 2; k++) {
      Batch[] xy = probeBatch(net, pb);
      Pass pass = pn.run(params, xy[0], xy[1]);
      pass.loss();
      Map<String, Batch> old = new LinkedHashMap<>(params);
      optimizer.accept(pass, params);
      pass.close();
      for (String name : pn.parameterNames()) if (params.get(name) != old.get(name)) pb.release(old.get(name));
      pb.release(xy[0]);
      pb.release(xy[1]);
    }
    probe.phase("evaluation", false);
    Batch[] xy = probeBatch(net, pb);
    pn.evaluate(params, xy[0], xy[1]);
    pb.release(xy[0]);
    pb.release(xy[1]);
    for (Batch p : params.values()) pb.release(p);
    Memory m = memoryOf(net.be);
    long stepPeak = probe.peaks(batch, phase -> 1, footprint(m)).get("step");
    long evaluationPeak = probe.peaks(evaluationBatch, phase -> 1, footprint(m)).get("evaluation");
    int[] out = net.loss.op.itemShape(net.loss.input), t = net.targetShape();
    List<Part> parts = new ArrayList<>();
    parts.add(new Part("parameters", parameterBytes, m));
    parts.add(new Part("training step (batch " + batch + ": pass, gradients, optimizer)", Math.max(0, stepPeak - parameterBytes), m));
    parts.add(new Part("evaluation (batch " + evaluationBatch + ")", Math.max(0, evaluationPeak - stepPeak), m));
    long hostEntries = (long) evaluationBatch * (1 + (long) out[0] * out[1] + (long) t[0] * t[1]);
    parts.add(new Part("evaluation copies", saturatedMultiply(hostEntries, 8), Memory.HEAP));
    return new MemoryEstimate(parts, "batch " + batch + " at " + where(net.be),
        "use a smaller --batch or --eval-batch, or raise --memory-limit (or the heap: JAVA_TOOL_OPTIONS=-Xmx8g)");
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * What an array of b bytes takes in a memory: on the heap a 16-byte header, 8-byte alignment,
   * and with G1 whole regions for arrays of half a region or more (humongous objects: a 4.8 MiB
   * array takes two 4 MiB regions); elsewhere b.
   */
  static java.util.function.LongUnaryOperator footprint(Memory m) {
    if (m != Memory.HEAP) return b -> b;
    long region = g1RegionBytes();
    return b -> {
      long a = saturatedAdd(b, 16 + 7) / 8 * 8;
      return region > 0 && a >= region / 2 ? saturatedAdd(a, region - 1) / region * region : a;
    };
  }

  /**
   * The bytes an array of {@code entries} entries of {@code be}'s batches takes in its memory:
   * {@code entries * b} (b the bytes of an entry of its precision) at its {@link #footprint}.
   */
  public static long arrayBytes(Backend be, long entries) {
    return footprint(memoryOf(be)).applyAsLong(saturatedMultiply(entries, precisionOf(be).bytes()));
  }

  /** G1's region size, or 0 when another collector runs. */
  static long g1RegionBytes() {
    try {
      var hs = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      if (hs == null || !Boolean.parseBoolean(hs.getVMOption("UseG1GC").getValue())) return 0;
      return Long.parseLong(hs.getVMOption("G1HeapRegionSize").getValue());
    } catch (RuntimeException | LinkageError e) {
      return 0;
    }
  }

  /** Inputs and one-hot targets of the probe's samples, on the probe's backend (so they count per sample). */
  static Batch[] probeBatch(Network net, Backend pb) {
    int[] in = net.inputShape(), t = net.targetShape();
    int n = MemoryProbe.SAMPLES;
    double[] x = new double[n * in[0] * in[1]], y = new double[n * t[0] * t[1]];
    for (int i = 0; i < x.length; i++) x[i] = ((i * 7919) % 13) / 13.0 - 0.5;
    for (int s = 0; s < n; s++) y[s * t[0] * t[1]] = 1;
    return new Batch[] {pb.fromArray(n, 1, in[0], in[1], x), pb.fromArray(n, 1, t[0], t[1], y)};
  }

  /** {@code a + b}, or {@link Long#MAX_VALUE} where it overflows. */
  public static long saturatedAdd(long a, long b) {
    long s = a + b;
    return ((a ^ s) & (b ^ s)) < 0 ? Long.MAX_VALUE : s;
  }

  /** {@code a * b} for non-negative a and b, or {@link Long#MAX_VALUE} where it overflows. */
  public static long saturatedMultiply(long a, long b) {
    long hi = Math.multiplyHigh(a, b), lo = a * b;
    return (hi == 0 && lo >= 0) ? lo : Long.MAX_VALUE;
  }

  /** Bytes for people: "512 B", "3.1 MiB", "4.50 GiB". */
  public static String bytes(long b) {
    if (b >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30));
    if (b >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", b / (double) (1L << 20));
    if (b >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
    return b + " B";
  }
}
