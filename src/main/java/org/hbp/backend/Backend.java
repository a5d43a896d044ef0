package org.hbp.backend;

import java.util.function.DoubleUnaryOperator;

/**
 * The numeric kernels that generated operators and the runtime call: a narrow interface so that a
 * CPU, an OpenCL or another backend can stand behind it. Every kernel works item by item on
 * {@link Batch}es and returns a new batch; none modifies its arguments.
 *
 * <p><b>Broadcasting.</b> Kernels with two batch operands broadcast each batch axis: the two
 * extents must be equal, or one of them 1 (that operand is reused along the axis). The result has
 * the larger extent. A mismatch throws {@link IllegalArgumentException} naming both operands.
 *
 * <p>Indices (for {@link #gather} and {@link #scatterAdd}) are held in batches as integral doubles,
 * column-major positions into the source item; -1 stands for a padded zero.
 */
public interface Backend {
  /** A short name for messages and benchmark tables, e.g. {@code cpu}. */
  String name();

  /**
   * Declares the storage of {@code b} dead: neither b nor any view of it (a reshape, a
   * column/direction view) is used again. A backend with native memory frees it at once, so the
   * next allocation can reuse it; the default does nothing (the garbage collector frees it).
   * Generated operators release their temporaries before they return.
   */
  default void release(Batch b) {}

  /**
   * Returns once every kernel called so far has finished. Host backends compute synchronously (the
   * default does nothing); device backends enqueue kernels and return at once, so timings must
   * call this before reading the clock.
   */
  default void finish() {}

  /** Whether two batches share storage (one is a view of the other, or both of a third). */
  default boolean sharesStorage(Batch a, Batch b) {
    return a == b;
  }

  // ---- transfer --------------------------------------------------------------------------

  /**
   * A batch from host data: {@code samples*directions} items of {@code rows x cols}, each
   * column-major, items in sample-major order. The array is copied.
   */
  Batch fromArray(int samples, int directions, int rows, int cols, double[] data);

  /** The batch's entries as laid out by {@link #fromArray} (a fresh array). */
  double[] toArray(Batch b);

  /**
   * The entries of samples {@code first .. first + count - 1} of {@code b} as {@link #toArray} lays
   * them out (a fresh array of {@code count} items per direction): {@code toArray(b)}'s range of
   * those samples. The CPU, BLAS and OpenCL backends read only those samples; this default reads
   * the whole batch. (A batch is cut into chunks of samples by this.)
   */
  default double[] toArray(Batch b, int first, int count) {
    long item = BackendChecks.checkSampleRange(b, first, count);
    double[] all = toArray(b);
    return java.util.Arrays.copyOfRange(all, (int) (first * item), (int) ((first + count) * item));
  }

  // ---- constants -------------------------------------------------------------------------

  /** One {@code rows x cols} item (shared by all samples and directions) filled with value. */
  Batch fill(int rows, int cols, double value);

  /** The shared {@code n x n} identity. */
  Batch eye(int n);

  // ---- free views ------------------------------------------------------------------------

  /** Each item reinterpreted as {@code rows x cols} (column-major; same entry count). */
  Batch reshape(Batch a, int rows, int cols);

  /**
   * Each column of each item becomes its own direction: {@code [S x D] r x c} to {@code [S x D*c]
   * r x 1}; item (s, d) column j becomes direction {@code d*c + j}. Free in column-major storage.
   */
  Batch columnsAsDirections(Batch a);

  /** The inverse of {@link #columnsAsDirections}: {@code [S x D*c] r x 1} to {@code [S x D] r x c}. */
  Batch directionsAsColumns(Batch a, int cols);

  /**
   * The samples of a batch of single columns side by side: {@code [S x 1] r x 1} to {@code [1 x 1]
   * r x S}, sample n becoming column n. Free in column-major storage (items are sample-major): what
   * a factored {@code A A'} needs of per-sample columns {@code a_n}, without copying them.
   */
  Batch samplesAsColumns(Batch a);

  // ---- elementwise (item shapes equal, or one operand's items are 1x1 and broadcast) ---------

  Batch add(Batch a, Batch b);

  Batch subtract(Batch a, Batch b);

  /** Hadamard product. */
  Batch multiply(Batch a, Batch b);

  Batch divide(Batch a, Batch b);

  /** {@code c * a}. */
  Batch scale(Batch a, double c);

  /**
   * Zeros with a's batch axes and item shape: what a product with a zero matrix gives. Not
   * {@code scale(a, 0)}: a zero also where a holds NaN or an infinity, and no pass over a.
   */
  Batch zerosLike(Batch a);

  /** {@code a .^ exponent}. */
  Batch power(Batch a, double exponent);

  /**
   * {@code f} applied to every entry: host backends run its Java form, device backends compile its
   * OpenCL C form, so a map never leaves the device.
   */
  Batch map(Batch a, ScalarFunction f);

  /**
   * {@code f(a) .* b}, broadcast as {@link #multiply} does: a diagonal Jacobian {@code diag(f(a))}
   * applied to directions b in one pass (an activation's derivative from its output, times the
   * output gradient). The default maps, then multiplies.
   */
  default Batch mapMultiply(Batch a, ScalarFunction f, Batch b) {
    Batch fa = map(a, f);
    Batch r = multiply(fa, b);
    if (!sharesStorage(r, fa)) release(fa);
    return r;
  }

  // ---- per-item linear algebra -----------------------------------------------------------

  /** {@code op(a) * op(b)} per item, op = transpose where the flag is set. */
  Batch matmul(Batch a, boolean transposeA, Batch b, boolean transposeB);

  /**
   * {@code op(a) * op(b) + c} per item, with c broadcast over the batch axes as {@link #add} does:
   * a layer's {@code W*x + b} in one kernel. The default adds the product to c; a BLAS backend
   * writes c into the result and accumulates the product onto it (gemm with beta = 1), saving a
   * pass over the output.
   */
  default Batch matmulAdd(Batch a, boolean transposeA, Batch b, boolean transposeB, Batch c) {
    Batch product = matmul(a, transposeA, b, transposeB);
    Batch sum = add(product, c);
    if (!sharesStorage(sum, product)) release(product);
    return sum;
  }

  Batch transpose(Batch a);

  /**
   * The sum over the sample axis of {@code op(a) * op(b)}, per direction: one sample in the result.
   * What a parameter gradient needs: {@code sum_n dz_n x_n'} is one product of the side-by-side
   * items, never N outer products. An operand with one sample is used for every sample (the sum
   * then has N equal terms only if the other operand varies; a sum over a single stored sample is
   * that sample's product).
   */
  default Batch matmulSumSamples(Batch a, boolean transposeA, Batch b, boolean transposeB) {
    return sumSamples(matmul(a, transposeA, b, transposeB));
  }

  /** The Kronecker product of the items (dense; for forward expressions that use kron). */
  Batch kron(Batch a, Batch b);

  /** 1x1 items: the sum of each item's entries. */
  Batch sum(Batch a);

  /** 1x1 items: the trace of each (square) item. */
  Batch trace(Batch a);

  /** The diagonal of each square item as a column. */
  Batch diagonal(Batch a);

  /** The diagonal matrix of each column item. */
  Batch diagMatrix(Batch v);

  /** Softmax over each item's entries (shifted by the maximum). */
  Batch softmax(Batch a);

  /** 1x1 items: log(sum(exp(entries))), computed stably. */
  Batch logSumExp(Batch a);

  /** The inverse of each square item; throws ArithmeticException naming the item if singular. */
  Batch inverse(Batch a);

  /** 1x1 items: the determinant of each square item. */
  Batch determinant(Batch a);

  /**
   * Per item, the symmetric matrix {@code Q f(L) Q'} of the eigendecomposition {@code a = Q L Q'}
   * of the symmetric item (symmetrized as (a + a')/2 first): how PCH removes negative curvature of
   * a non-diagonal residual (f = abs or max(., 0)).
   */
  Batch symmetricEigenMap(Batch a, DoubleUnaryOperator f);

  // ---- structured linear maps (never materialized as matrices) ---------------------------

  /** unfold (im2col) of each item, read as the column-major tensor (c, h, w) of g. */
  Batch unfold(Batch x, ConvGeometry g);

  /** The adjoint of unfold (col2im, summing overlaps): items (c*k*k) x patches to c x (h*w). */
  Batch fold(Batch columns, ConvGeometry g);

  // ---- convolutions: unfold fused with a product ------------------------------------------

  /**
   * {@code w * unfold(x) + bias * ones'} per item, or {@code w * unfold(x)} when bias is null: a
   * convolution with the rows of {@code w} ({@code cout x (c*k*k)}) as filters and a bias per
   * filter ({@code bias}: cout x 1 items, broadcast over the batch axes as {@link #add} does), which
   * is how generated operators compute a product with an unfolding plus its bias. The default
   * unfolds and multiplies; a backend with a direct convolution (oneDNN, cuDNN) never forms the
   * unfolded matrix, whose {@code k*k} copies of the input dominate the memory traffic of an im2col
   * convolution, and adds the bias in its kernel. Items of x have {@code c*h*w} entries (as for
   * {@link #unfold}); the result's items are {@code cout x patches}.
   */
  default Batch convolution(Batch w, Batch x, ConvGeometry g, Batch bias) {
    BackendChecks.checkBias("convolution", w, bias);
    Batch u = unfold(x, g);
    Batch r;
    if (bias == null) r = matmul(w, false, u, false);
    else {
      // bias * ones(patches)': the bias repeated in every column, accumulated onto by the product
      Batch ones = fill(1, g.patches(), 1.0);
      Batch c = matmul(bias, false, ones, false);
      r = matmulAdd(w, false, u, false, c);
      release(ones);
      if (!sharesStorage(r, c)) release(c);
    }
    release(u);
    return r;
  }

  /**
   * Whether {@link #convolution}{@code (w, x, g, null)} runs without forming {@code unfold(x)}:
   * a direct convolution kernel that takes these operands (for a convolution's {@code J_W v}, the
   * filters of w in directions). Where it does not, a caller holding the unfolding already
   * multiplies by it instead. Bookkeeping, not a kernel: nothing is computed.
   */
  default boolean convolvesDirectly(Batch w, Batch x, ConvGeometry g) {
    return false;
  }

  /**
   * Whether {@code f(x) .* v} is faster as {@link #multiply}{@code (fx, v)} of a stored {@code fx
   * = f(x)} than as {@link #mapMultiply}{@code (x, f, v)}, for a caller that keeps {@code fx}
   * (a memo computed once per forward pass, as a diagonal Jacobian's derivative is): where x is
   * multiplied into several directions of v, a plain product may stream at the memory's rate where
   * the map's pass does not. Where this says true, the two give the same entries ({@link
   * #mapMultiply} rounds f(x) to the entry's precision before the product, as a stored f(x) is).
   * Bookkeeping, not a kernel: nothing is computed. The default: never.
   */
  default boolean multipliesStoredMaps(Batch x, Batch v) {
    return false;
  }

  /**
   * {@code fold(w' * y)} per item: the adjoint of {@link #convolution} in x (a convolution's
   * backward pass to its input), items {@code c x (h*w)}. Items of y have {@code rows(w) * patches}
   * entries.
   */
  default Batch convolutionAdjoint(Batch w, Batch y, ConvGeometry g) {
    Batch p = matmul(w, true, y, false);
    Batch r = fold(p, g);
    release(p);
    return r;
  }

  /**
   * {@code sum_n y_n * unfold(x_n)'} over the samples, per direction: the adjoint of
   * {@link #convolution} in w, summed over the batch (a convolution's weight gradient), as
   * {@link #matmulSumSamples} sums (an operand with one sample is used for every sample).
   */
  default Batch convolutionWeightGradient(Batch y, Batch x, ConvGeometry g) {
    Batch u = unfold(x, g);
    Batch r = matmulSumSamples(y, false, u, true);
    release(u);
    return r;
  }

  /**
   * {@code out[j] = x[index[j]]} (0 where index[j] = -1); items shaped like the index items. The
   * index batch has one direction.
   */
  Batch gather(Batch x, Batch index);

  /** The adjoint of gather: {@code out[index[j]] += g[j]}, items {@code rows x cols}. */
  Batch scatterAdd(Batch g, Batch index, int rows, int cols);

  /**
   * {@code multiply(y, gather(x, index))}, entry for entry the same, in one pass where the backend
   * fuses it: each gathered entry is multiplied as it is read, and the gathered batch is never
   * stored. A network multiplies the directions it gathers through a max-pool by the selected
   * Jacobian diagonal of the activation before the pool ({@code DiagonalSelections}). The default
   * composes the two kernels.
   */
  default Batch gatherMultiply(Batch x, Batch index, Batch y) {
    Batch g = gather(x, index);
    try {
      return multiply(y, g);
    } finally {
      release(g);
    }
  }

  /**
   * {@code scatterAdd(multiply(y, g), index, rows, cols)}, entry for entry the same (each product
   * rounded to the backend's precision before it is summed), in one pass where the backend fuses it.
   * The adjoint of {@link #gatherMultiply} in x. The default composes the two kernels.
   */
  default Batch multiplyScatterAdd(Batch y, Batch g, Batch index, int rows, int cols) {
    Batch p = multiply(y, g);
    try {
      return scatterAdd(p, index, rows, cols);
    } finally {
      release(p);
    }
  }

  /**
   * The index map of max-pooling: for each sample of {@code x} (one-direction items holding a
   * tensor (c, h, w) column-major, {@code c x (h*w)}), the position in the item of the maximum of
   * each k x k window (stride k), as a {@code c x (h/k * w/k)} item of the result: position
   * {@code ch + c*(y + h*x)}, the first maximum in column-major window order on ties, a NaN
   * winning. h and w must be divisible by k. {@link #windowArgmax(Batch, int, int, int, int, int, int)}
   * with stride k and no padding.
   */
  default Batch windowArgmax(Batch x, int c, int h, int w, int k) {
    BackendChecks.checkWindowArgmax(x, c, h, w, k);
    return windowArgmax(x, c, h, w, k, k, 0);
  }

  /**
   * The index map of max-pooling with stride and padding: for each sample of {@code x}
   * (one-direction items holding a tensor (c, h, w) column-major, {@code c x (h*w)}), the position
   * in the item of the maximum of each k x k window at stride s of x padded by p on each side with
   * -inf (the padding is never chosen; a window of padding only gives -1), as a {@code c x (oh*ow)}
   * item of the result, {@code oh = (h + 2p - k)/s + 1}, {@code ow = (w + 2p - k)/s + 1} (floor
   * mode: rows and columns no whole window covers are dropped): position {@code ch + c*(y + h*x)},
   * the first maximum in column-major window order on ties, a NaN winning. Windows overlap where
   * s &lt; k (an entry may then be the maximum of several). The default computes on the host;
   * backends override it to stay on their memory.
   */
  default Batch windowArgmax(Batch x, int c, int h, int w, int k, int s, int p) {
    BackendChecks.checkWindowArgmax(x, c, h, w, k, s, p);
    int oh = BackendChecks.pooledSize(h, k, s, p), ow = BackendChecks.pooledSize(w, k, s, p), n = x.samples(), in = c * h * w, out = c * oh * ow;
    double[] xs = toArray(x);
    int[] idx = new int[n * out];
    for (int a = 0; a < n; a++) BackendChecks.windowArgmax(xs, a * in, c, h, w, k, s, p, idx, a * out);
    double[] positions = new double[idx.length];
    for (int i = 0; i < idx.length; i++) positions[i] = idx[i];
    return fromArray(n, 1, c, oh * ow, positions);
  }

  // ---- batch axes ------------------------------------------------------------------------

  /** The sum over the sample axis ([S x D] to [1 x D]). */
  Batch sumSamples(Batch a);

  /**
   * The mean over the sample axis given the batch size n: a batch with one sample is the same for
   * every sample, so its mean is itself.
   */
  default Batch meanSamples(Batch a, int n) {
    return a.samples() == 1 ? a : scale(sumSamples(a), 1.0 / n);
  }
}
