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
 * every allocation the four running sums are recorded for the current phase; the peak of a phase
 * for N samples and V directions is {@code max_t (c0 + N c1 + V c2 + N V c3)} over those
 * records, with the bytes of one sample and one direction in c1..c3. Inside a kernel, scratch
 * memory that never leaves it is not seen (the estimate's headroom covers it).
 */
final class MemoryProbe implements InvocationHandler {
  /** Samples of the probe's batches. */
  static final int SAMPLES = 2;
  /** Directions of the probe's products. */
  static final int DIRECTIONS = 3;

  private static final Set<String> VIEWS = Set.of("reshape", "columnsAsDirections", "directionsAsColumns");

  private record Live(Batch batch, int bucket, long bytes) {}

  private final Backend real;
  private final int entryBytes;
  private final Backend proxy;
  private final List<Live> live = new ArrayList<>();
  private final long[] now = new long[4];
  private final Map<String, List<long[]>> phases = new LinkedHashMap<>();
  private List<long[]> current;
  private boolean directionsScale;

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
   * Starts recording a phase (from the state now); {@code directions}: whether direction axes
   * that are multiples of {@value #DIRECTIONS} scale with V in it.
   */
  void phase(String name, boolean directions) {
    current = phases.computeIfAbsent(name, k -> new ArrayList<>());
    current.add(now.clone());
    directionsScale = directions;
  }

  /** The peak bytes of a phase for n samples and v directions (0 for a phase never recorded). */
  long peak(String name, long n, long v) {
    double best = 0;
    for (long[] s : phases.getOrDefault(name, List.of())) best = Math.max(best, s[0] + (double) n * s[1] + (double) v * s[2] + (double) n * v * s[3]);
    return best >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) Math.ceil(best);
  }

  /** The phases recorded so far, in order. */
  List<String> phases() {
    return List.copyOf(phases.keySet());
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
    live.add(new Live(b, bucket, bytes));
    now[bucket] += bytes;
    current.add(now.clone());
  }

  private void forget(Batch b) {
    for (int i = 0; i < live.size(); i++) {
      Live l = live.get(i);
      if (l.batch == b || real.sharesStorage(b, l.batch)) {
        live.remove(i);
        now[l.bucket] -= l.bytes;
        return;
      }
    }
  }
}
