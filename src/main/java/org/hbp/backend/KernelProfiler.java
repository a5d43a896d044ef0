package org.hbp.backend;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where a run's time goes, kernel by kernel: a proxy of a real backend ({@link #backend()}) that,
 * while recording ({@link #start} to {@link #stop}), times every call into the backend and counts
 * the floating-point operations of its matrix products. {@code hbp bench --profile} runs each row
 * once more through it.
 *
 * <p><b>What is timed.</b> The wall time of each call made through the proxy, from entry until the
 * backend has finished its work ({@link Backend#finish} after the call: a device backend's queue is
 * drained, so each kernel's time is its own; this serialises the device, which a normal run does
 * not). Calls the backend makes to itself inside a kernel are part of that kernel (a default
 * convolution's unfold and gemm count as one convolution). What the run spends outside the backend
 * (Java code of the operators and strategies between kernels) is the run's time less the kernels'.
 *
 * <p><b>Products.</b> {@link #PRODUCTS} are the matrix products and convolutions; each call's
 * count is {@code 2 m k n} per item of its result for a product of an {@code m x k} and a {@code
 * k x n} operand (items: the broadcast of both operands' samples and directions), and for a
 * convolution {@code 2 cout (c k k) (oh ow)} per item of its result (the unfolded product's
 * multiply-adds, whether or not the backend unfolds). Their time against their count is the rate
 * the products themselves reach, to set beside the GEMM rate and the whole run's rate.
 *
 * <p><b>Traffic.</b> Every call also counts the entries it streams: those of its batch operands,
 * each read once in full, and of its batch result, written once. A result that shares an
 * operand's storage (a reshape, a view) streams nothing, nor does a call without a batch result
 * (a release, a copy out to Java). This is the compulsory traffic of a kernel that touches its
 * operands once; set against a measured memory rate it gives the rate of the memory-bound kernels
 * (the entrywise maps, gathers and scatters between the products), which no GEMM rate bounds.
 *
 * <p>Thread-safe; calls from several threads at once each count their own time (the sum then
 * exceeds the wall time).
 */
public final class KernelProfiler implements InvocationHandler {
  /** The kernels counted as products. */
  public static final Set<String> PRODUCTS =
      Set.of("matmul", "matmulAdd", "matmulSumSamples", "convolution", "convolutionAdjoint", "convolutionWeightGradient");

  /** Calls that are bookkeeping, not kernels: never timed. */
  private static final Set<String> UNTIMED = Set.of("name", "sharesStorage", "finish", "convolvesDirectly", "multipliesStoredMaps");

  /**
   * One kernel's totals over the recorded stretch; {@code name} is the kernel's, or with shapes its
   * call's ({@link #of}); {@code entries}: the entries its calls streamed (see Traffic above).
   */
  public record Kernel(String name, long calls, double seconds, double flops, double entries) {
    public boolean product() {
      int paren = name.indexOf('(');
      return PRODUCTS.contains(paren < 0 ? name : name.substring(0, paren));
    }
  }

  /**
   * A recorded stretch: its wall time, and each kernel's totals (by time, the longest first).
   */
  public record Profile(double seconds, List<Kernel> kernels) {
    /** Seconds inside the products. */
    public double productSeconds() {
      return kernels.stream().filter(Kernel::product).mapToDouble(Kernel::seconds).sum();
    }

    /** Floating-point operations of the products. */
    public double productFlops() {
      return kernels.stream().filter(Kernel::product).mapToDouble(Kernel::flops).sum();
    }

    /** Seconds inside the kernels other than the products. */
    public double otherSeconds() {
      return kernels.stream().filter(k -> !k.product()).mapToDouble(Kernel::seconds).sum();
    }

    /** Entries streamed by the kernels other than the products. */
    public double otherEntries() {
      return kernels.stream().filter(k -> !k.product()).mapToDouble(Kernel::entries).sum();
    }

    /** Seconds inside any kernel. */
    public double kernelSeconds() {
      return kernels.stream().mapToDouble(Kernel::seconds).sum();
    }

    /** A stretch of {@code runs} runs of the same work as one run's mean: seconds, calls, FLOPs and entries divided by {@code runs}. */
    public Profile perRun(int runs) {
      List<Kernel> each = new ArrayList<>();
      for (Kernel k : kernels) each.add(new Kernel(k.name(), Math.round((double) k.calls() / runs), k.seconds() / runs, k.flops() / runs, k.entries() / runs));
      return new Profile(seconds / runs, List.copyOf(each));
    }
  }

  private final Backend real;
  private final Backend proxy;
  /** Whether calls are told apart by their operands' shapes too ({@link #key}). */
  private final boolean byShape;
  private final Map<String, double[]> totals = new LinkedHashMap<>(); // calls, nanoseconds, flops, entries
  private final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);
  private volatile boolean recording;
  private long startNanos;

  private KernelProfiler(Backend real, boolean byShape) {
    this.real = real;
    this.byShape = byShape;
    this.proxy = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, this);
  }

  /**
   * A profiler of {@code real}; run the work on {@link #backend()}. {@code byShape}: a kernel's
   * calls are counted apart by their operands' shapes ({@code matmul(1x10:16x144, 100x1:144x1024')}:
   * samples x directions : rows x cols of each batch operand, ' where it is transposed), else by
   * the kernel's name alone.
   */
  public static KernelProfiler of(Backend real, boolean byShape) {
    return new KernelProfiler(real, byShape);
  }

  /** The timing backend: every kernel runs on the real one, unchanged. */
  public Backend backend() {
    return proxy;
  }

  /** The backend under {@code be} where {@code be} is a profiler's timing backend, else null. */
  public static Backend under(Backend be) {
    return Proxy.isProxyClass(be.getClass()) && Proxy.getInvocationHandler(be) instanceof KernelProfiler k ? k.real : null;
  }

  /** Starts recording afresh (after {@link Backend#finish}, so that earlier work is not counted). */
  public synchronized void start() {
    real.finish();
    totals.clear();
    startNanos = System.nanoTime();
    recording = true;
  }

  /** Stops recording (after {@link Backend#finish}); the stretch since {@link #start}. */
  public synchronized Profile stop() {
    real.finish();
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    recording = false;
    List<Kernel> kernels = new ArrayList<>();
    for (Map.Entry<String, double[]> e : totals.entrySet())
      kernels.add(new Kernel(e.getKey(), (long) e.getValue()[0], e.getValue()[1] / 1e9, e.getValue()[2], e.getValue()[3]));
    kernels.sort(Comparator.comparingDouble(Kernel::seconds).reversed().thenComparing(Kernel::name));
    return new Profile(seconds, List.copyOf(kernels));
  }

  @Override
  public Object invoke(Object self, Method m, Object[] args) throws Throwable {
    if (m.getDeclaringClass() == Object.class) {
      return switch (m.getName()) {
        case "equals" -> self == args[0];
        case "hashCode" -> System.identityHashCode(self);
        default -> "profiled " + real;
      };
    }
    int[] d = depth.get();
    boolean timed = recording && d[0] == 0 && !UNTIMED.contains(m.getName());
    long t0 = timed ? System.nanoTime() : 0;
    d[0]++;
    Object r;
    try {
      r = m.invoke(real, args);
      if (timed) real.finish();
    } catch (InvocationTargetException e) {
      throw e.getCause();
    } finally {
      d[0]--;
    }
    if (timed) {
      long nanos = System.nanoTime() - t0;
      double flops = PRODUCTS.contains(m.getName()) ? flops(m.getName(), args) : 0;
      double entries = entries(real, args, r);
      synchronized (this) {
        if (recording) {
          double[] t = totals.computeIfAbsent(byShape ? key(m.getName(), args) : m.getName(), k -> new double[4]);
          t[0]++;
          t[1] += nanos;
          t[2] += flops;
          t[3] += entries;
        }
      }
    }
    return r;
  }

  /** A call's name with its operands' shapes: {@code kernel(SxD:RxC, ...)}, a transposed operand marked by '. */
  static String key(String kernel, Object[] args) {
    if (args == null) return kernel;
    List<String> shapes = new ArrayList<>();
    for (Object a : args) {
      if (a instanceof Batch b) shapes.add(b.samples() + "x" + b.directions() + ":" + b.rows() + "x" + b.cols());
      else if (a instanceof Boolean transposed && transposed && !shapes.isEmpty()) shapes.set(shapes.size() - 1, shapes.get(shapes.size() - 1) + "'");
    }
    return shapes.isEmpty() ? kernel : kernel + "(" + String.join(", ", shapes) + ")";
  }

  /**
   * The floating-point operations of a product's call: {@code 2 m k n} per item of its result
   * (matmul, matmulAdd, matmulSumSamples: the sum's items are those of the products it sums, the
   * broadcast of both operands), {@code 2 cout (c k k) (oh ow)} per item for the convolutions.
   */
  static double flops(String kernel, Object[] args) {
    switch (kernel) {
      case "matmul", "matmulAdd", "matmulSumSamples" -> {
        Batch a = (Batch) args[0], b = (Batch) args[2];
        boolean ta = (Boolean) args[1], tb = (Boolean) args[3];
        // the backends' own extents (matmulSumSamples: before its sum over the samples)
        BackendChecks.Product p = kernel.equals("matmulSumSamples") ? BackendChecks.matmulSumSamplesShape(a, ta, b, tb)
            : BackendChecks.matmulShape(a, ta, b, tb);
        return 2.0 * p.m() * p.k() * p.n() * p.samples() * p.directions();
      }
      case "convolution", "convolutionAdjoint" -> {
        // (w, x) or (w, y): the filters' rows are cout
        Batch w = (Batch) args[0], other = (Batch) args[1];
        ConvGeometry g = (ConvGeometry) args[2];
        return 2.0 * w.rows() * g.patchRows() * g.patches() * items(w, other);
      }
      case "convolutionWeightGradient" -> {
        Batch y = (Batch) args[0], x = (Batch) args[1];
        ConvGeometry g = (ConvGeometry) args[2];
        long cout = (long) y.rows() * y.cols() / g.patches(); // items of y hold cout x patches entries, in whichever shape
        return 2.0 * cout * g.patchRows() * g.patches() * items(y, x);
      }
      default -> {
        return 0;
      }
    }
  }

  /**
   * The entries a call streams: those of its batch operands and of its batch result; none where
   * it has no batch result or its result shares an operand's storage (a view).
   */
  static double entries(Backend real, Object[] args, Object result) {
    if (!(result instanceof Batch r)) return 0;
    double n = length(r);
    if (args != null)
      for (Object a : args)
        if (a instanceof Batch b) {
          if (real.sharesStorage(r, b)) return 0;
          n += length(b);
        }
    return n;
  }

  private static double length(Batch b) {
    return (double) b.items() * b.itemSize();
  }

  /** The items of a result broadcast from two operands: the larger sample count times the larger direction count. */
  private static double items(Batch a, Batch b) {
    return (double) Math.max(a.samples(), b.samples()) * Math.max(a.directions(), b.directions());
  }
}
