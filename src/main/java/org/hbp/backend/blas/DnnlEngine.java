package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

import java.lang.ref.Reference;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.hbp.backend.ConvGeometry;

/**
 * oneDNN ({@code org.bytedeco:dnnl}) for the float32 {@link BlasBackend}: the CPU engine and its
 * one stream, the caches of prepared primitives, and the helpers that wrap the backend's memory
 * and execute a primitive on it. The kernels, each in the backend's own memory layout, are in
 * <ul>
 *   <li>{@link DnnlConvolutions} ({@link #convolutions}): direct convolutions, forward (with a
 *       bias or without), adjoint and weight gradient;</li>
 *   <li>{@link DnnlElementwise} ({@link #elementwise}): the built-in sigmoid and tanh, their
 *       derivatives, and entrywise sums, differences, products and quotients of two batches;</li>
 *   <li>{@link DnnlMatmul} ({@link #matmul}): float32 matrix products.</li>
 * </ul>
 * oneDNN has neither float64 convolutions nor float64 elementwise kernels on CPUs; the float64
 * backend runs hbp's own on the Vector API ({@link VectorConvolution}, {@link VectorElementwise}),
 * or, without it, unfold, gemm and Java loops.
 *
 * <p><b>Threads.</b> oneDNN runs on OpenMP threads (its bundled libgomp), {@code
 * OMP_NUM_THREADS} of them, by default one per core. The {@code hbp} launcher sets {@code
 * OMP_WAIT_POLICY=PASSIVE} and libgomp's {@code GOMP_SPINCOUNT=30000}: after a call they spin
 * for tens of microseconds, enough to catch the next call of a pass without being woken, then
 * sleep, leaving the cores to the Java kernels between calls.
 *
 * <p>Primitives are created once per shape and kept (at most {@value #CACHED} shapes in each of
 * the caches: convolutions and elementwise functions together, binary kernels, matmuls). Calls
 * are serialized: every kernel runs holding this engine's lock (its monitor), which guards the
 * shared stream and the caches; the backend's passes call kernels from one thread. A shape oneDNN
 * rejects throws {@link Unsupported}, and the backend falls back to unfold and gemm.
 */
final class DnnlEngine {
  private static final int CACHED = 128;
  /** The kinds of a {@link Key}: the convolutions' passes ({@link DnnlConvolutions}) and the elementwise functions ({@link DnnlElementwise}). */
  static final int FORWARD = 0, ADJOINT = 2, WEIGHT_GRADIENT = 3, ELTWISE = 4, ELTWISE_BACKWARD = 5, FORWARD_BIAS = 6;

  private static volatile DnnlEngine instance;
  private static volatile String unavailable;

  final dnnl_engine engine = new dnnl_engine();
  private final dnnl_stream stream = new dnnl_stream();
  private final Map<Key, DnnlPrepared> cache = lru();
  /** Shapes oneDNN rejected. */
  private final Set<Key> rejected = new HashSet<>();

  private final DnnlConvolutions convolutions;
  private final DnnlElementwise elementwise;
  private final DnnlMatmul matmul;

  /** Geometries to treat as rejected by oneDNN: tests of the fallback set it (none otherwise). */
  static volatile Predicate<ConvGeometry> rejectForTesting = g -> false;

  private DnnlEngine() {
    check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "stream");
    convolutions = new DnnlConvolutions(this);
    elementwise = new DnnlElementwise(this);
    matmul = new DnnlMatmul(this);
  }

  /**
   * The shared instance, or null when oneDNN cannot be used here: its natives did not load, or the
   * system property {@code hbp.blas.dnnl} is {@code false} (the im2col path is then used, e.g. to
   * compare the two). {@link #unavailableReason} says why.
   */
  static DnnlEngine get() {
    DnnlEngine d = instance;
    if (d != null || unavailable != null) return d;
    synchronized (DnnlEngine.class) {
      if (instance != null || unavailable != null) return instance;
      if (!Boolean.parseBoolean(System.getProperty("hbp.blas.dnnl", "true"))) {
        unavailable = "disabled by -Dhbp.blas.dnnl=false";
        return null;
      }
      try {
        Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        instance = new DnnlEngine();
      } catch (Throwable e) {
        unavailable = "oneDNN (org.bytedeco:dnnl, classifier " + Loader.getPlatform() + ") could not be loaded: " + e;
      }
      return instance;
    }
  }

  /** Why {@link #get} returns null, or null when oneDNN is in use. */
  static String unavailableReason() {
    get();
    return unavailable;
  }

  /** The convolutions' kernels. */
  DnnlConvolutions convolutions() {
    return convolutions;
  }

  /** The elementwise and binary kernels. */
  DnnlElementwise elementwise() {
    return elementwise;
  }

  /** The matrix products. */
  DnnlMatmul matmul() {
    return matmul;
  }

  /**
   * Thrown when oneDNN has no primitive for a shape (it rejected its descriptors): the backend then
   * computes it without oneDNN (unfold and gemm, Java maps). Remembered per shape, so it is asked once.
   */
  static final class Unsupported extends RuntimeException {
    Unsupported(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** How many shapes oneDNN rejected (so far, in this process). */
  synchronized int rejectedShapes() {
    return rejected.size();
  }

  /**
   * What one convolution or elementwise call needs besides its pointers: the key of the prepared
   * primitives. For {@link #ELTWISE} and {@link #ELTWISE_BACKWARD}, {@code cout} is the algorithm
   * and {@code images} the entry count.
   */
  record Key(int kind, ConvGeometry g, int cout, long images, long strideY) {}

  /** Makes the primitives of a shape into p (what is made is in p, for cleanup on failure); IllegalStateException when oneDNN refuses. */
  @FunctionalInterface
  interface Builder {
    void build(DnnlPrepared p);
  }

  /** A cache of prepared primitives keeping the {@value #CACHED} most recently used, destroying the ones it drops. */
  static <K> Map<K, DnnlPrepared> lru() {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<K, DnnlPrepared> eldest) {
        if (size() <= CACHED) return false;
        eldest.getValue().destroy();
        return true;
      }
    };
  }

  /**
   * The cached primitives of a convolution's or elementwise function's shape, made by {@code build}
   * on first use; {@link Unsupported} if oneDNN has none, remembered so that it is not asked again.
   * The caller holds this engine's lock.
   */
  DnnlPrepared prepare(Key key, Builder build) {
    assert Thread.holdsLock(this);
    DnnlPrepared p = cache.get(key);
    if (p != null) return p;
    if (rejected.contains(key)) throw new Unsupported("oneDNN has no primitive for " + key, null);
    p = new DnnlPrepared();
    try {
      if (key.g() != null && rejectForTesting.test(key.g())) throw new IllegalStateException("oneDNN: rejected for testing");
      build.build(p);
    } catch (IllegalStateException e) {
      p.destroy();
      rejected.add(key);
      throw new Unsupported("oneDNN has no primitive for " + key + ": " + e.getMessage(), e);
    }
    cache.put(key, p);
    return p;
  }

  /**
   * The primitives of {@code key} in {@code cache} (a kernel's own, made by {@link #lru}), made by
   * {@code build} on first use; {@link Unsupported} ("oneDNN has no {@code what} for key") when
   * oneDNN refuses, asked again on the next call. The caller holds this engine's lock.
   */
  <K> DnnlPrepared cached(Map<K, DnnlPrepared> cache, K key, String what, Builder build) {
    assert Thread.holdsLock(this);
    DnnlPrepared p = cache.get(key);
    if (p != null) return p;
    p = new DnnlPrepared();
    try {
      build.build(p);
    } catch (IllegalStateException e) {
      p.destroy();
      throw new Unsupported("oneDNN has no " + what + " for " + key + ": " + e.getMessage(), e);
    }
    cache.put(key, p);
    return p;
  }

  static void check(int status, String what) {
    if (status != dnnl_success) throw new IllegalStateException("oneDNN: " + what + " failed with status " + status);
  }

  /** A memory object over {@code base} from entry {@code offset} on (an untyped pointer counts bytes). */
  dnnl_memory memory(dnnl_memory_desc md, Pointer base, long offset) {
    dnnl_memory m = new dnnl_memory();
    check(dnnl_memory_create(m, md, engine, new Pointer(base).position(offset * Float.BYTES)), "a memory object");
    return m;
  }

  /**
   * Submits a primitive on the memory objects, bound to {@code args}, to the stream; {@link #await}
   * waits for it. The caller holds this engine's lock, as for {@link #await} and {@link #run}.
   */
  void execute(dnnl_primitive primitive, int[] args, dnnl_memory[] memories) {
    assert Thread.holdsLock(this);
    dnnl_exec_arg_t a = new dnnl_exec_arg_t(args.length);
    for (int i = 0; i < args.length; i++) a.position(i).arg(args[i]).memory(memories[i]);
    a.position(0);
    check(dnnl_primitive_execute(primitive, stream, args.length, a), "executing a primitive");
    a.deallocate();
  }

  /** Waits for the primitives submitted to the stream ({@code what} names them in the error). */
  void await(String what) {
    assert Thread.holdsLock(this);
    check(dnnl_stream_wait(stream), "waiting for " + what);
  }

  static void destroy(dnnl_memory... ms) {
    for (dnnl_memory m : ms) if (m != null) dnnl_memory_destroy(m);
  }

  /**
   * Executes a primitive on the memory objects (bound to {@code args}) and waits for it; then
   * destroys the memory objects. {@code batches}, whose blocks they point into, stay reachable
   * until then.
   */
  void run(dnnl_primitive primitive, int[] args, dnnl_memory[] memories, String what, BlasBatch... batches) {
    try {
      execute(primitive, args, memories);
      await(what);
    } finally {
      destroy(memories);
      Reference.reachabilityFence(batches);
    }
  }
}
