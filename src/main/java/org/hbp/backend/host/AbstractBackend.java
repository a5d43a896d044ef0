package org.hbp.backend.host;

import static org.hbp.backend.BackendChecks.ADD;
import static org.hbp.backend.BackendChecks.DIVIDE;
import static org.hbp.backend.BackendChecks.MULTIPLY;
import static org.hbp.backend.BackendChecks.SUBTRACT;

import java.util.Objects;
import org.hbp.backend.Backend;
import org.hbp.backend.BackendChecks;
import org.hbp.backend.Batch;

/**
 * What every backend does the same way: operand checks ({@link #own}), the free views (reshape,
 * column/direction views share storage), the dispatch of the four elementwise operators to one
 * broadcasting kernel, the checks of {@link #meanSamples}, and sharing and release of pooled
 * storage ({@link PooledBatch}). A backend names its batch class and supplies the elementwise
 * kernel, and the views unless its batches are pooled (they make their own).
 *
 * @param <B> the backend's batch class
 */
public abstract class AbstractBackend<B extends Batch> implements Backend {
  private final String name;
  private final Class<B> batchClass;

  protected AbstractBackend(String name, Class<B> batchClass) {
    this.name = Objects.requireNonNull(name);
    this.batchClass = Objects.requireNonNull(batchClass);
  }

  @Override
  public final String name() {
    return name;
  }

  /**
   * Why a batch of this backend's class is not this backend's (another precision, another
   * device), as the end of a sentence naming it, or null when it is.
   */
  protected String foreign(B b) {
    return null;
  }

  /** Whether {@code b} is a batch of this backend (live or released). */
  protected final boolean isOwn(Batch b) {
    return batchClass.isInstance(b) && foreign(batchClass.cast(b)) == null;
  }

  /**
   * {@code b} as a live batch of this backend, or an IllegalArgumentException naming the kernel
   * and the operand (an IllegalStateException for a released batch).
   */
  protected final B own(String kernel, String operand, Batch b) {
    Objects.requireNonNull(b, () -> kernel + ": operand " + operand + " is null");
    if (!batchClass.isInstance(b))
      throw new IllegalArgumentException(kernel + ": operand " + operand + " " + b.describe() + " is a " + b.getClass().getName()
          + ", not a batch of the " + name + " backend");
    B x = batchClass.cast(b);
    String why = foreign(x);
    if (why != null) throw new IllegalArgumentException(kernel + ": operand " + operand + " " + b.describe() + " " + why);
    if (x instanceof PooledBatch<?> p) p.requireLive(kernel, operand);
    return x;
  }

  /**
   * The same storage as {@code x}, seen as {@code [samples x directions] rows x cols} (the entry
   * count is unchanged). This serves backends of {@link PooledBatch}es (they make their own
   * views); a backend of other batches overrides it.
   */
  protected B view(B x, int samples, int directions, int rows, int cols) {
    if (x instanceof PooledBatch<?> p) return batchClass.cast(p.view(samples, directions, rows, cols));
    throw new UnsupportedOperationException(name + ": " + batchClass.getSimpleName() + " is not a PooledBatch; the backend must override view");
  }

  /**
   * Whether {@code a} and {@code b} share storage: for {@link PooledBatch}es of this backend, the
   * same live storage (one is a view of the other, or both of a third); otherwise the same batch.
   */
  @Override
  public boolean sharesStorage(Batch a, Batch b) {
    if (batchClass.isInstance(a) && batchClass.isInstance(b) && a instanceof PooledBatch<?> x && b instanceof PooledBatch<?> y)
      return x.sharesStorage(y);
    return Backend.super.sharesStorage(a, b);
  }

  /**
   * {@link #release} for a backend of {@link PooledBatch}es: hands the storage of {@code b} back
   * to {@code pool} for reuse by a later allocation of the same size (its views die with it);
   * releasing it again, or a view of it, is a no-op. A batch that is not this backend's is an
   * IllegalArgumentException naming it.
   */
  protected final <S extends PooledStorage> void releaseTo(StoragePool<S> pool, Batch b) {
    Objects.requireNonNull(b, "release: operand b is null");
    if (!isOwn(b)) own("release", "b", b); // throws, naming the wrong kind of batch
    @SuppressWarnings("unchecked") // this backend's batches are PooledBatch<S> on storage from pool
    PooledBatch<S> p = (PooledBatch<S>) b;
    p.releaseTo(pool);
  }

  @Override
  public Batch reshape(Batch a, int rows, int cols) {
    B x = own("reshape", "a", a);
    BackendChecks.checkReshape(x, rows, cols);
    return view(x, x.samples(), x.directions(), rows, cols);
  }

  @Override
  public Batch columnsAsDirections(Batch a) {
    B x = own("columnsAsDirections", "a", a);
    return view(x, x.samples(), BackendChecks.columnsAsDirections(x), x.rows(), 1);
  }

  @Override
  public Batch directionsAsColumns(Batch a, int cols) {
    B x = own("directionsAsColumns", "a", a);
    BackendChecks.checkDirectionsAsColumns(x, cols);
    return view(x, x.samples(), x.directions() / cols, x.rows(), cols);
  }

  @Override
  public Batch samplesAsColumns(Batch a) {
    B x = own("samplesAsColumns", "a", a);
    BackendChecks.checkSamplesAsColumns(x);
    return view(x, 1, 1, x.rows(), x.samples());
  }

  // ---- elementwise ---------------------------------------------------------------------------

  @Override
  public Batch add(Batch a, Batch b) {
    return elementwise("add", ADD, a, b);
  }

  @Override
  public Batch subtract(Batch a, Batch b) {
    return elementwise("subtract", SUBTRACT, a, b);
  }

  @Override
  public Batch multiply(Batch a, Batch b) {
    return elementwise("multiply", MULTIPLY, a, b);
  }

  @Override
  public Batch divide(Batch a, Batch b) {
    return elementwise("divide", DIVIDE, a, b);
  }

  private Batch elementwise(String kernel, int op, Batch a, Batch b) {
    B x = own(kernel, "a", a), y = own(kernel, "b", b);
    return elementwise(kernel, op, x, y, BackendChecks.elementwise(kernel, x, y));
  }

  /**
   * {@code x op y} entry by entry ({@link BackendChecks#ADD} and the others) with the result shape
   * and broadcasting {@code e} already checked.
   */
  protected abstract Batch elementwise(String kernel, int op, B x, B y, BackendChecks.Elementwise e);

  /** Whether x and y are laid out alike (no broadcasting): the elementwise kernel is one pass over the entries. */
  protected static boolean sameLayout(BackendChecks.Elementwise e, Batch x, Batch y) {
    return !e.aScalar() && !e.bScalar() && x.samples() == y.samples() && x.directions() == y.directions();
  }

  // ---- batch axes ----------------------------------------------------------------------------

  @Override
  public Batch meanSamples(Batch a, int n) {
    B x = own("meanSamples", "a", a);
    BackendChecks.checkMeanSamples(x, n);
    return Backend.super.meanSamples(x, n);
  }
}
