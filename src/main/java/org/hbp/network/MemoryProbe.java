package org.hbp.network;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.KernelProfiler;

/**
 * Counts the storage of the batches a backend hands out and has not had released, while a run
 * goes through it on {@value #SAMPLES} samples and {@value #DIRECTIONS} directions, so that the
 * peak can be scaled to any batch size N and direction count V.
 *
 * <p>{@link #backend()} is a proxy of the real backend: every kernel runs on it unchanged. A
 * batch it returns counts as allocated unless it shares storage with an argument or with a batch
 * still counted (a view: {@code reshape}, {@code columnsAsDirections}, {@code directionsAsColumns}
 * never count); {@link Backend#release} uncounts the batch it names. A batch dropped without a
 * release stays counted (an over-estimate). Each batch falls in one of four buckets by how it
 * scales: shared, per sample (its sample axis is a multiple of {@value #SAMPLES}), per direction
 * (its direction axis a multiple of {@value #DIRECTIONS}, counted so only where {@link
 * #phase} allows it: during products, where directions come from the caller), or both. After
 * allocation and release is logged with the phase it happened in; {@link #peaks} replays the log
 * for N samples and V directions, each batch at its size there. Inside a kernel, scratch memory
 * that never leaves it is not seen (the estimate's headroom covers it).
 *
 * <p><b>Quantities that fit themselves.</b> A quantity that plans its own chunks of samples against
 * the limit at the run's batch ({@link SampleChunks}: the diagonals, the per-sample gradients) runs
 * in the trial on {@value #SAMPLES} samples, where it does not chunk; scaled to N, its peak would be
 * that of the whole batch at once, which the run never holds. So it runs as a self-fitting section
 * ({@link #selfFitting}): its allocations and releases are logged, and what it keeps counts after
 * it, but the totals inside it are left out of the peaks (its own plan keeps them within the limit).
 */
final class MemoryProbe implements InvocationHandler {
  /** Samples of the probe's batches. */
  static final int SAMPLES = 2;
  /** Directions of the probe's products. */
  static final int DIRECTIONS = 3;

  private static final Set<String> VIEWS = Set.of("reshape", "columnsAsDirections", "directionsAsColumns");

  private record Live(Batch batch, int bucket, long bytes, int id) {}

  /**
   * An allocation (bytes of one unit of its bucket), with bucket -1 the release of allocation
   * {@code id}, with bucket -2 the end of a self-fitting section; {@code counted}: whether the total
   * after it counts for the peak (not inside a self-fitting section).
   */
  private record Event(String phase, int bucket, long bytes, int id, boolean counted) {}

  private final Backend real;
  private final int entryBytes;
  private final Backend proxy;
  private final List<Live> live = new ArrayList<>();
  private final long[] now = new long[4];
  private final List<Event> events = new ArrayList<>();
  private final List<String> phases = new ArrayList<>();
  private String current;
  private boolean directionsScale;
  /** How deep in self-fitting sections the run is (0: outside). */
  private int selfFitting;

  MemoryProbe(Backend real, int entryBytes) {
    this.real = real;
    this.entryBytes = entryBytes;
    this.proxy = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, this);
    phase("start", false);
  }

  /** The counting backend. */
  Backend backend() {
    return proxy;
  }

  /**
   * The backend that runs the kernels of {@code be}: {@code be} itself, or where it is a counting
   * backend (a trial run of an estimate, a probe inside it) or a profiler's timing backend the real one under it, whose memory
   * and precision the run's plans and messages must name ({@link MemoryEstimate#memoryOf}).
   */
  static Backend real(Backend be) {
    while (true) {
      MemoryProbe p = of(be);
      Backend under = p != null ? p.real : KernelProfiler.under(be); // a profiler's timing backend (hbp bench --profile) too
      if (under == null) return be;
      be = under;
    }
  }

  /** The probe whose counting backend {@code be} is, or null. */
  private static MemoryProbe of(Backend be) {
    return Proxy.isProxyClass(be.getClass()) && Proxy.getInvocationHandler(be) instanceof MemoryProbe p ? p : null;
  }

  /**
   * Runs {@code work}, a quantity that fits itself into the limit, on {@code be}; where {@code be}
   * is a counting backend (of every probe under it too) as a self-fitting section: the totals
   * inside it are left out of the peaks, what it keeps counts from its end on.
   */
  static <T> T selfFitting(Backend be, java.util.function.Supplier<T> work) {
    List<MemoryProbe> probes = new ArrayList<>();
    for (MemoryProbe p = of(be); p != null; p = of(p.real)) probes.add(p);
    for (MemoryProbe p : probes) p.selfFitting++;
    try {
      return work.get();
    } finally {
      for (MemoryProbe p : probes)
        if (--p.selfFitting == 0) p.events.add(new Event(p.current, -2, 0, -1, true)); // the total it leaves counts
    }
  }

  /**
   * Starts recording a phase; {@code directions}: whether direction axes that are multiples of
   * {@value #DIRECTIONS} scale with V in it.
   */
  void phase(String name, boolean directions) {
    current = name;
    if (!phases.contains(name)) phases.add(name);
    directionsScale = directions;
  }

  /**
   * The peak bytes of each phase for n samples and the phase's V directions, replaying the
   * allocations and releases in order; each batch's bytes at that size go through {@code
   * footprint} (what an array of that many bytes takes in its memory: headers, rounding to
   * regions or pages). A phase's peak includes what earlier phases left live.
   */
  Map<String, Long> peaks(long n, java.util.function.ToLongFunction<String> directions, java.util.function.LongUnaryOperator footprint) {
    Map<String, Long> peak = new LinkedHashMap<>();
    for (String p : phases) peak.put(p, 0L);
    Map<Integer, Long> live = new java.util.HashMap<>();
    double total = 0;
    String phase = null;
    long v = 1;
    for (Event e : events) {
      if (!e.phase.equals(phase)) {
        phase = e.phase;
        v = directions.applyAsLong(phase);
      }
      if (e.bucket == -2) {
        // the end of a self-fitting section: the total as it leaves it
      } else if (e.bucket < 0) {
        Long b = live.remove(e.id);
        if (b != null) total -= b;
      } else {
        double units = (e.bucket & 1) != 0 ? n : 1;
        if ((e.bucket & 2) != 0) units *= v;
        double raw = units * e.bytes;
        long b = raw >= Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : footprint.applyAsLong((long) raw);
        live.put(e.id, b);
        total += b;
      }
      if (e.counted) peak.merge(phase, (long) Math.min(total, Long.MAX_VALUE), Math::max);
    }
    return peak;
  }

  /** The shared bytes counted now (for example the parameters the probe copied). */
  long sharedNow() {
    return now[0];
  }

  @Override
  public Object invoke(Object self, Method m, Object[] args) throws Throwable {
    Object r;
    try {
      r = m.invoke(real, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
    if (m.getDeclaringClass() == Object.class) return r;
    if (m.getName().equals("release") && args != null && args[0] instanceof Batch b) {
      forget(b);
      return r;
    }
    if (!(r instanceof Batch b) || VIEWS.contains(m.getName())) return r;
    if (args != null) for (Object a : args) if (a instanceof Batch x && (x == b || real.sharesStorage(b, x))) return r;
    for (Live l : live) if (l.batch == b || real.sharesStorage(b, l.batch)) return r;
    count(b);
    return r;
  }

  private void count(Batch b) {
    boolean perSample = b.samples() > 1 && b.samples() % SAMPLES == 0;
    boolean perDirection = directionsScale && b.directions() > 1 && b.directions() % DIRECTIONS == 0;
    long bytes = (long) b.rows() * b.cols() * entryBytes * (perSample ? b.samples() / SAMPLES : b.samples())
        * (perDirection ? b.directions() / DIRECTIONS : b.directions());
    int bucket = (perSample ? 1 : 0) + (perDirection ? 2 : 0);
    int id = events.size();
    live.add(new Live(b, bucket, bytes, id));
    now[bucket] += bytes;
    events.add(new Event(current, bucket, bytes, id, selfFitting == 0));
  }

  private void forget(Batch b) {
    for (int i = 0; i < live.size(); i++) {
      Live l = live.get(i);
      if (l.batch == b || real.sharesStorage(b, l.batch)) {
        live.remove(i);
        now[l.bucket] -= l.bytes;
        events.add(new Event(current, -1, 0, l.id, selfFitting == 0));
        return;
      }
    }
  }
}
