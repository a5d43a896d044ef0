package org.hbp.network;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.dsl.Dsl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.NpyException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link TorchLayout} reads an array only in exactly the shape it expects: a parameter in PyTorch's
 * shape, directions {@code [V, *that shape]} with V at least 1, inputs {@code [N, *input shape]}
 * and targets {@code [N, *target shape]} with N at least 1; probabilities and class indices are
 * checked entry by entry. Every refusal names the file, the array, what it holds and what was expected.
 */
class TorchLayoutShapesTest {
  static final String CNN = "network c { input x: tensor(2, 4, 4); conv2d(cout = 3, k = 3, s = 1, p = 1, d = 1); sigmoid; flatten;"
      + " linear(m = 3); loss crossentropy; }";
  static final String MLP = "network m { input x: vector(5); linear(m = 4); tanh; linear(m = 3); loss squareloss; }";

  static List<ModuleSpec> library;

  @BeforeAll
  static void init() {
    library = NetworkResolver.library(ModuleLibrary.builtInSpecDirs());
  }

  static TorchLayout layout(String net) {
    NetworkSpec spec = NetworkResolver.resolve(Dsl.parse(net, "net.hbp"), null, library);
    return new TorchLayout(new Network(spec, ModuleLibrary.forSpecs(), new CpuBackend()));
  }

  static NdArray filled(DType t, int... shape) {
    int n = 1;
    for (int d : shape) n *= d;
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = 0.01 * (i % 17) - 0.05;
    return NdArray.of(d, t, shape);
  }

  static Map<String, NdArray> cnnParameters() {
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", filled(DType.FLOAT32, 3, 2, 3, 3));
    p.put("0.bias", filled(DType.FLOAT32, 3));
    p.put("3.weight", filled(DType.FLOAT32, 3, 48));
    p.put("3.bias", filled(DType.FLOAT32, 3));
    return p;
  }

  private static String message(Runnable r) {
    return assertThrows(NpyException.class, r::run).getMessage();
  }

  @Test
  void aConvWeightInChannelsLastOrderIsRefused() {
    TorchLayout l = layout(CNN);
    assertEquals(4, l.parameters(cnnParameters(), "p.npz").size());
    Map<String, NdArray> p = cnnParameters();
    p.put("0.weight", filled(DType.FLOAT32, 3, 3, 3, 2)); // channels last: the same first dim and number of entries
    assertEquals("p.npz: array '0.weight' has shape [3, 3, 3, 2] but [3, 2, 3, 3] was expected (parameter 0.W)",
        message(() -> l.parameters(p, "p.npz")));
    p.put("0.weight", filled(DType.FLOAT32, 3, 18)); // hbp's own matrix, not PyTorch's shape
    assertEquals("p.npz: array '0.weight' has shape [3, 18] but [3, 2, 3, 3] was expected (parameter 0.W)",
        message(() -> l.parameters(p, "p.npz")));
  }

  @Test
  void linearWeightsAndBiasesNeedTheirExactShape() {
    TorchLayout l = layout(MLP);
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.W", filled(DType.FLOAT64, 4, 5, 1));
    p.put("0.b", filled(DType.FLOAT64, 4));
    p.put("2.W", filled(DType.FLOAT64, 3, 4));
    p.put("2.b", filled(DType.FLOAT64, 3));
    assertEquals("p.npz: array '0.W' has shape [4, 5, 1] but [4, 5] was expected (parameter 0.W)", message(() -> l.parameters(p, "p.npz")));
    p.put("0.W", filled(DType.FLOAT64, 4, 5));
    p.put("2.b", filled(DType.FLOAT64, 3, 1));
    assertEquals("p.npz: array '2.b' has shape [3, 1] but [3] was expected (parameter 2.b)", message(() -> l.parameters(p, "p.npz")));
    p.put("2.b", filled(DType.FLOAT64, 3));
    assertEquals(4, l.parameters(p, "p.npz").size());
  }

  @Test
  void directionsNeedTheExactShapeAndAtLeastOne() {
    TorchLayout l = layout(CNN);
    assertEquals(2, l.directions("0.W", filled(DType.FLOAT64, 2, 3, 2, 3, 3), "v.npz").directions());
    assertEquals("v.npz: array '0.W' has shape [2, 3, 3, 3, 2] but [V, 3, 2, 3, 3] was expected (V directions for parameter 0.W)",
        message(() -> l.directions("0.W", filled(DType.FLOAT64, 2, 3, 3, 3, 2), "v.npz")));
    assertEquals("v.npz: array '0.W' has shape [2, 3, 18] but [V, 3, 2, 3, 3] was expected (V directions for parameter 0.W)",
        message(() -> l.directions("0.W", filled(DType.FLOAT64, 2, 3, 18), "v.npz")));
    assertEquals("v.npz: array '0.W' has shape [0, 3, 2, 3, 3]: no directions; V must be at least 1",
        message(() -> l.directions("0.W", filled(DType.FLOAT64, 0, 3, 2, 3, 3), "v.npz")));
  }

  @Test
  void anEmptyBatchIsRefused() {
    TorchLayout l = layout(MLP);
    assertEquals("b.npz: array 'x' has shape [0, 5]: an empty batch; at least one sample is needed",
        message(() -> l.inputs(filled(DType.FLOAT32, 0, 5), "b.npz")));
    assertEquals("b.npz: array 'y' has shape [0, 3]: an empty batch; at least one sample is needed",
        message(() -> l.targets(filled(DType.FLOAT32, 0, 3), 0, "b.npz")));
  }

  @Test
  void targetsNeedTheExactShape() {
    TorchLayout l = layout(MLP);
    assertEquals(2, l.targets(filled(DType.FLOAT32, 2, 3), 2, "b.npz").samples());
    assertEquals("b.npz: array 'y' has shape [2, 3, 1] but [2, 3] was expected (the targets of squareloss)",
        message(() -> l.targets(filled(DType.FLOAT32, 2, 3, 1), 2, "b.npz")));
    assertEquals("b.npz: array 'y' has shape [6] but [2, 3] was expected (the targets of squareloss)",
        message(() -> l.targets(filled(DType.FLOAT32, 6), 2, "b.npz")));
  }

  @Test
  void probabilitiesMustBeNonNegativeAndSumToOne() {
    TorchLayout l = layout(CNN);
    Batch ok = l.targets(NdArray.of(new double[] {0.2, 0.3, 0.5, 0, 1, 0}, 2, 3), 2, "b.npz");
    assertEquals(2, ok.samples());
    assertEquals("b.npz: array 'y' has -0.25 at index [1, 0]; expected probabilities (crossentropy: entries >= 0, each row summing to 1)",
        message(() -> l.targets(NdArray.of(new double[] {0.2, 0.3, 0.5, -0.25, 1.25, 0}, 2, 3), 2, "b.npz")));
    assertEquals("b.npz: array 'y' row 0 sums to 2.0; expected probabilities (crossentropy: entries >= 0, each row summing to 1 within 3.0e-06)",
        message(() -> l.targets(NdArray.of(new double[] {1, 1, 0, 0, 1, 0}, 2, 3), 2, "b.npz")));
    // float32 rounding of a normalised row is fine
    float a = 0.1f, b = 0.7f, c = 1 - a - b;
    assertEquals(1, l.targets(NdArray.of(new double[] {a, b, c}, DType.FLOAT32, 1, 3), 1, "b.npz").samples());
  }

  @Test
  void classLabelsMustBeWholeNumbersInRange() {
    TorchLayout l = layout(CNN);
    assertEquals("b.npz: array 'y' has 2.5 at index 1; expected a class index in [0, 3)",
        message(() -> l.targets(NdArray.of(new double[] {0, 2.5}, DType.FLOAT64, 2), 2, "b.npz")));
    assertEquals("b.npz: array 'y' has -1.0 at index 0; expected a class index in [0, 3)",
        message(() -> l.targets(NdArray.of(new double[] {-1, 2}, DType.INT64, 2), 2, "b.npz")));
    assertEquals("b.npz: array 'y' has shape [3] but [2] was expected (one class per sample of x)",
        message(() -> l.targets(NdArray.of(new double[] {0, 1, 2}, DType.INT64, 3), 2, "b.npz")));
  }

  @Test
  void classLabelsOfEverySmallIntegerTypeGiveTheSameOneHotRows() {
    TorchLayout l = layout(CNN);
    // one-hot rows written out from the definition: label k puts a 1 at column k of its row
    double[] expected = {0, 0, 1, 1, 0, 0, 0, 1, 0};
    Backend be = new CpuBackend();
    for (DType t : new DType[] {DType.INT64, DType.INT32, DType.INT16, DType.INT8, DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64,
        DType.FLOAT16, DType.FLOAT32}) {
      Batch y = l.targets(NdArray.of(new double[] {2, 0, 1}, t, 3), 3, "b.npz");
      assertArrayEquals(expected, be.toArray(y), t.numpyName());
    }
    // bool labels are classes 0 and 1
    Batch y = l.targets(NdArray.of(new double[] {1, 0}, DType.BOOL, 2), 2, "b.npz");
    assertArrayEquals(new double[] {0, 1, 0, 1, 0, 0}, be.toArray(y));
  }

  @Test
  void aTargetOfTheWrongShapeIsRefusedForItsShapeWhateverItsDtype() {
    // [N, 1] integer labels: the shape is what is wrong, not the dtype
    assertEquals("b.npz: array 'y' has shape [2, 1] but [2] (class indices) or [2, 3] (probabilities) was expected (the targets of crossentropy)",
        message(() -> layout(CNN).targets(NdArray.of(new double[] {0, 2}, DType.INT64, 2, 1), 2, "b.npz")));
    assertEquals("b.npz: array 'y' has shape [2] but [2, 3] was expected (the targets of squareloss)",
        message(() -> layout(MLP).targets(NdArray.of(new double[] {0, 2}, DType.INT64, 2), 2, "b.npz")));
  }
  /** The layout of a network with a loss of the user's own (target declared by {@code domain}) after linear(m = 3), from a file. */
  static TorchLayout ownLoss(String domain, String output) {
    return withLoss("loss own { dims c; input x: vector(c); target y: vector(c) " + domain + "; output E = " + output + "; }", "own");
  }

  /** The layout of a network ending in linear(m = 3) and the loss declared by {@code loss}, used as {@code use}, from a file. */
  static TorchLayout withLoss(String loss, String use) {
    try {
      java.nio.file.Path file = java.nio.file.Files.createTempFile("own", ".hbp");
      file.toFile().deleteOnExit();
      java.nio.file.Files.writeString(file, loss + "\nnetwork n { input x: vector(4); linear(m = 3); loss " + use + "; }\n");
      NetworkSpec spec = NetworkResolver.resolve(Dsl.parseFile(file), null, library);
      return new TorchLayout(new Network(spec, ModuleLibrary.forSpecs(), new CpuBackend()));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static final String LSCE = "-(0.9*y + (0.1/c)*ones(c))'*log(softmax(x))";

  /** Class indices become the same one-hot rows for any loss whose target is a vector declared onehot, as for crossentropy. */
  @Test
  void classIndicesServeAnyOnehotTarget() {
    TorchLayout l = ownLoss("onehot", LSCE);
    assertEquals(true, l.takesClassIndices());
    Backend be = new CpuBackend();
    double[] fromIndices = be.toArray(l.targets(NdArray.of(new double[] {2, 0}, DType.INT64, 2), 2, "b.npz"));
    double[] fromRows = be.toArray(l.targets(NdArray.of(new double[] {0, 0, 1, 1, 0, 0}, 2, 3), 2, "b.npz"));
    assertArrayEquals(new double[] {0, 0, 1, 1, 0, 0}, fromRows);
    assertArrayEquals(fromRows, fromIndices);
    assertEquals("b.npz: array 'y' has 3.0 at index 1; expected a class index in [0, 3)",
        message(() -> l.targets(NdArray.of(new double[] {0, 3}, DType.INT64, 2), 2, "b.npz")));
    // a loss whose target is real takes values only
    assertEquals(false, ownLoss("", "sum((x - y).^2)").takesClassIndices());
  }

  /** Float targets are checked against the declared domain, entry by entry and column by column, naming the entry. */
  @Test
  void targetsMustLieInTheirDeclaredDomain() {
    TorchLayout onehot = ownLoss("onehot", LSCE);
    assertEquals("b.npz: array 'y' has 0.7 at index [0, 0]; expected one-hot columns (target y of own is declared onehot)",
        message(() -> onehot.targets(NdArray.of(new double[] {0.7, 0.7, 0.7, 0, 1, 0}, 2, 3), 2, "b.npz")));
    assertEquals("b.npz: array 'y' row 1 sums to 2.0 (it needs exactly one entry 1); expected one-hot columns (target y of own is declared onehot)",
        message(() -> onehot.targets(NdArray.of(new double[] {0, 0, 1, 1, 1, 0}, 2, 3), 2, "b.npz")));
    assertEquals("b.npz: array 'y' row 0 sums to 0.0 (it needs exactly one entry 1); expected one-hot columns (target y of own is declared onehot)",
        message(() -> onehot.targets(NdArray.of(new double[] {0, 0, 0, 1, 0, 0}, 2, 3), 2, "b.npz")));
    TorchLayout positive = ownLoss("positive", "sum(exp(x) - y .* x)");
    assertEquals(2, positive.targets(NdArray.of(new double[] {0.5, 1, 2, 3, 0.1, 7}, 2, 3), 2, "b.npz").samples());
    assertEquals("b.npz: array 'y' has -0.25 at index [1, 2]; expected entries > 0 (target y of own is declared positive)",
        message(() -> positive.targets(NdArray.of(new double[] {0.5, 1, 2, 3, 0.1, -0.25}, 2, 3), 2, "b.npz")));
    TorchLayout sign = ownLoss("sign", "sum(relu(1 - y .* x).^2)");
    assertEquals("b.npz: array 'y' has 0.0 at index [0, 1]; expected entries -1 or +1 (target y of own is declared sign)",
        message(() -> sign.targets(NdArray.of(new double[] {1, 0, -1, 1, 1, 1}, 2, 3), 2, "b.npz")));
    TorchLayout probability = ownLoss("probability", LSCE);
    assertEquals(2, probability.targets(NdArray.of(new double[] {0.2, 0.3, 0.5, 0, 1, 0}, 2, 3), 2, "b.npz").samples());
    assertEquals("b.npz: array 'y' row 1 sums to 0.5; expected columns of entries > 0 that sum to 1 (target y of own is declared probability), "
        + "each column summing to 1 within 3.0e-06",
        message(() -> probability.targets(NdArray.of(new double[] {0.2, 0.3, 0.5, 0, 0.5, 0}, 2, 3), 2, "b.npz")));
  }
  /** A matrix(c, k) onehot target: each column y[i, :, j] of each sample one-hot, named by its place in the file. */
  @Test
  void aMatrixTargetIsCheckedColumnByColumn() {
    TorchLayout l = withLoss("loss ownm { dims c, k; input x: vector(c); target Y: matrix(c, k) onehot; output E = -sum(Y'*log(softmax(x))); }",
        "ownm(k = 2)");
    assertEquals(false, l.takesClassIndices());
    // sample 0: column 0 = (1, 0, 0), column 1 = (0, 0, 1); rows of [3, 2]: (1, 0), (0, 0), (0, 1)
    assertEquals(1, l.targets(NdArray.of(new double[] {1, 0, 0, 0, 0, 1}, 1, 3, 2), 1, "b.npz").samples());
    // column 1 = (0, 1, 1)
    assertEquals("b.npz: array 'y' column [0, :, 1] sums to 2.0 (it needs exactly one entry 1); expected one-hot columns (target Y of ownm is "
        + "declared onehot)", message(() -> l.targets(NdArray.of(new double[] {1, 0, 0, 1, 0, 1}, 1, 3, 2), 1, "b.npz")));
  }
  static final String SCALAR = "network s { input x: vector(3); linear(m = 2); learned_scale_scalar; loss squareloss; }";

  static Map<String, NdArray> scalarNetParameters(NdArray a) {
    Map<String, NdArray> p = new LinkedHashMap<>();
    p.put("0.weight", filled(DType.FLOAT64, 2, 3));
    p.put("0.bias", filled(DType.FLOAT64, 2));
    p.put("1.a", a);
    return p;
  }

  /**
   * A scalar parameter (PyTorch shape [1]) is also read 0-d, as a state_dict holds
   * nn.Parameter(torch.tensor(0.7)) or a generated PyTorch module's 0-d Parameter: the value from
   * [] as from [1], and V directions from [V] as from [V, 1]. Other shapes are still refused.
   */
  @Test
  void aScalarParameterMayBeZeroDimensional() {
    TorchLayout l = layout(SCALAR);
    Batch zeroD = l.parameters(scalarNetParameters(NdArray.of(new double[] {0.7})), "p.npz").get("1.a");
    Batch oneD = l.parameters(scalarNetParameters(NdArray.of(new double[] {0.7}, 1)), "p.npz").get("1.a");
    Backend be = new CpuBackend();
    assertArrayEquals(new double[] {0.7}, be.toArray(zeroD), 0.0);
    assertArrayEquals(new double[] {0.7}, be.toArray(oneD), 0.0);
    assertEquals("p.npz: array '1.a' has shape [1, 1] but [1] was expected (parameter 1.a)",
        message(() -> l.parameters(scalarNetParameters(NdArray.of(new double[] {0.7}, 1, 1)), "p.npz")));
    Batch v = l.directions("1.a", NdArray.of(new double[] {0.5, -2.0}, 2), "v.npz");
    Batch v1 = l.directions("1.a", NdArray.of(new double[] {0.5, -2.0}, 2, 1), "v.npz");
    assertEquals(2, v.directions());
    assertArrayEquals(be.toArray(v1), be.toArray(v), 0.0);
  }
}
