package org.hbp.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.UserError;
import org.hbp.io.NdArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importer on graphs built here with the ONNX schema's builders (no PyTorch): layouts of the
 * weights it takes (Gemm with and without transB, MatMul), and the errors for attributes hbp's
 * modules do not express, shapes it does not take, and graphs it does not map, each naming the node;
 * tied weights.
 */
class OnnxImporterTest {
  @TempDir Path dir;

  private static TensorProto tensor(String name, double[] data, long... dims) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.DOUBLE_VALUE);
    for (long d : dims) t.addDims(d);
    for (double v : data) t.addDoubleData(v);
    return t.build();
  }

  private static ValueInfoProto value(String name, Long... dims) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (Long d : dims) s.addDim(d == null ? TensorShapeProto.Dimension.newBuilder().setDimParam("N") : TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(11).setShape(s))).build();
  }

  private static NodeProto node(String op, String name, List<String> in, String out, AttributeProto... attrs) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(in).addOutput(out);
    for (AttributeProto a : attrs) n.addAttribute(a);
    return n.build();
  }

  private static AttributeProto ints(String name, long... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) a.addInts(x);
    return a.build();
  }

  private static AttributeProto integer(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
  }

  private Path write(GraphProto g) throws Exception {
    Path p = dir.resolve("m.onnx");
    Files.write(p, ModelProto.newBuilder().setIrVersion(8).setGraph(g).build().toByteArray());
    return p;
  }

  private static final double[] B23 = {1, 2, 3, 4, 5, 6};

  @Test
  void gemmWeightsArePyTorchsOutByIn() throws Exception {
    // transB = 1: B is [out, in] as is; transB = 0: B is [in, out] and is transposed; MatMul's [in, out] too
    GraphProto g = GraphProto.newBuilder().addInput(value("x", null, 3L)).addOutput(value("z", null, 2L))
        .addInitializer(tensor("B", B23, 2, 3)).addInitializer(tensor("C", new double[] {7, 8}, 2))
        .addInitializer(tensor("B2", new double[] {1, 0, 0, 1}, 2, 2)).addInitializer(tensor("M", new double[] {1, 2, 3, 4}, 2, 2))
        .addNode(node("Gemm", "g1", List.of("x", "B", "C"), "h", integer("transB", 1)))
        .addNode(node("Gemm", "g2", List.of("h", "B2"), "h2"))
        .addNode(node("MatMul", "m", List.of("h2", "M"), "z")).build();
    ImportedNetwork net = OnnxImporter.load(write(g), "mse", List.of());
    assertEquals(List.of("linear", "linear_nobias", "linear_nobias"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    NdArray w0 = net.parameters().get("0.W");
    assertArrayEquals(new int[] {2, 3}, w0.shape());
    assertArrayEquals(B23, w0.data());
    assertArrayEquals(new double[] {7, 8}, net.parameters().get("0.b").data());
    NdArray w2 = net.parameters().get("2.W"); // M = [[1, 2], [3, 4]] as [in, out]: W = M'
    assertArrayEquals(new double[] {1, 3, 2, 4}, w2.data());
    assertTrue(NetworkText.of(net).contains("  linear(m = 2);"), NetworkText.of(net));
  }

  private UserError importError(GraphProto g) throws Exception {
    Path p = write(g);
    return assertThrows(UserError.class, () -> OnnxImporter.load(p, "mse", List.of()));
  }

  private static GraphProto.Builder image() {
    return GraphProto.newBuilder().addInput(value("x", null, 2L, 4L, 4L)).addOutput(value("z", null, 8L));
  }

  @Test
  void attributesHbpsModulesDoNotExpressAreNamed() throws Exception {
    double[] w = new double[2 * 1 * 3 * 3];
    UserError e = importError(image().addInitializer(tensor("W", w, 2, 1, 3, 3))
        .addNode(node("Conv", "conv", List.of("x", "W"), "z", integer("group", 2))).build());
    assertTrue(e.getMessage().contains("node 0 'conv' (Conv): group = 2; hbp maps groups = 1"), e.getMessage());

    e = importError(image().addNode(node("MaxPool", "pool", List.of("x"), "z", ints("kernel_shape", 2, 2), integer("ceil_mode", 1))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (MaxPool): ceil_mode 1 on the input of per-sample shape [2, 4, 4]; hbp maps floor mode"),
        e.getMessage());

    e = importError(image().addNode(node("MaxPool", "pool", List.of("x"), "z", ints("kernel_shape", 2, 2), ints("dilations", 2, 2))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (MaxPool): dilations [2, 2] on the input of per-sample shape [2, 4, 4]; hbp maps pooling "
        + "without dilation"), e.getMessage());

    e = importError(image().addNode(node("MaxPool", "pool", List.of("x"), "z", ints("kernel_shape", 2, 2), ints("strides", 2, 1))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (MaxPool): strides [2, 1] on the input of per-sample shape [2, 4, 4]; hbp maps the same "
        + "value on both axes"), e.getMessage());

    e = importError(image().addNode(node("MaxPool", "pool", List.of("x"), "z", ints("kernel_shape", 2, 2), ints("pads", 2, 2, 2, 2))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (MaxPool): kernel_shape [2, 2], strides [1, 1], pads 2 on the input of per-sample shape "
        + "[2, 4, 4]; hbp maps a positive window and stride and a padding of at most half the window"), e.getMessage());

    e = importError(image().addNode(node("AveragePool", "pool", List.of("x"), "z", ints("kernel_shape", 3, 3), ints("strides", 2, 2),
        ints("pads", 1, 1, 1, 1))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (AveragePool): count_include_pad 0 with pads 1 on the input of per-sample shape "
        + "[2, 4, 4]; hbp maps an average over the whole window, padded zeros included"), e.getMessage());

    e = importError(image().addNode(node("AveragePool", "pool", List.of("x"), "z", ints("kernel_shape", 2, 3))).build());
    assertTrue(e.getMessage().contains("node 0 'pool' (AveragePool): kernel_shape [2, 3] on the input of per-sample shape [2, 4, 4]; hbp maps "
        + "square windows"), e.getMessage());

    e = importError(GraphProto.newBuilder().addInput(value("x", null, 3L)).addOutput(value("z", null, 3L))
        .addNode(node("Elu", "elu", List.of("x"), "z", AttributeProto.newBuilder().setName("alpha").setF(0.5f).build())).build());
    assertTrue(e.getMessage().contains("node 0 'elu' (Elu): alpha = 0.5; the built-in elu has alpha 1"), e.getMessage());
  }

  /** One initializer read by two Gemm nodes of the same attributes: one named instance, one parameter (tied weights). */
  @Test
  void aWeightReadByTwoGemmsIsOneNamedInstance() throws Exception {
    ImportedNetwork net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addInitializer(tensor("W", new double[] {1, 2, 3, 4}, 2, 2))
        .addNode(node("Gemm", "a", List.of("x", "W"), "h")).addNode(node("Gemm", "b", List.of("h", "W"), "z")).build()), "mse", List.of());
    String text = NetworkText.of(net);
    assertTrue(net.isGraph(), text);
    assertTrue(text.contains("  tied_W = linear_nobias(m = 2);") && text.contains("  v0 = tied_W(x);") && text.contains("  v1 = tied_W(v0);")
        && text.contains("  loss mse(v1);"), text);
    assertEquals(List.of("tied_W.W"), net.parameterNames());
    assertArrayEquals(new double[] {1, 3, 2, 4}, net.parameters().get("tied_W.W").data()); // B [in, out] transposed
    // the initializer W [in, out] is held transposed: results name it by hbp's name, and an array under 'W' is read in W's own layout
    InitializerNames names = new InitializerNames(net);
    assertEquals("tied_W.W", names.name("tied_W.W"));
    assertArrayEquals(new double[] {1, 3, 2, 4}, names.toHbp(java.util.Map.of("W", NdArray.of(new double[] {1, 2, 3, 4}, 2, 2))).get("tied_W.W").data());
  }

  private static NodeProto constantNode(String out, double[] data, long... dims) {
    return node("Constant", out, List.of(), out, AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
        .setT(tensor("", data, dims)).build());
  }

  /** x - c is constant_shift with data -c, c - x constant_minus with c; c / x, a constant of another shape are refused, naming the node. */
  @Test
  void arithmeticWithConstantsKeepsTheConstantAsDataOrNamesTheNode() throws Exception {
    ImportedNetwork net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addNode(constantNode("c", new double[] {1, -2}, 2)).addNode(node("Sub", "s", List.of("x", "c"), "h"))
        .addNode(constantNode("k", new double[] {0.5}))
        .addNode(node("Sub", "t", List.of("k", "h"), "z")).build()), "mse", List.of());
    assertEquals(List.of("constant_shift", "constant_minus"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    assertTrue(net.parameterNames().isEmpty(), net.parameterNames().toString());
    assertArrayEquals(new double[] {-1, 2}, net.data().get("0.c").data());
    assertArrayEquals(new double[] {0.5, 0.5}, net.data().get("1.c").data());
    UserError e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addNode(constantNode("c", new double[] {3})).addNode(node("Div", "d", List.of("c", "x"), "z")).build());
    assertTrue(e.getMessage().contains("node 1 'd' (Div): divides the constant 'c' by the value; hbp maps Div of a value by a constant"), e.getMessage());
    // per channel on an image [N, C, H, W] = [N, 2, 2, 1]: hbp's layout has the channel fastest, so c [2, 1, 1] repeats
    net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addNode(constantNode("c", new double[] {1, 2}, 2, 1, 1)).addNode(node("Mul", "m", List.of("x", "c"), "z")).build()), "mse", List.of());
    assertEquals(List.of("constant_scale"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    assertArrayEquals(new double[] {1, 2, 1, 2}, net.data().get("0.c").data());
    // entries along H: not per channel, refused
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addNode(constantNode("c", new double[] {1, 2}, 1, 2, 1)).addNode(node("Mul", "m", List.of("x", "c"), "z")).build());
    assertTrue(e.getMessage().contains("node 1 'm' (Mul): its constant has shape [1, 2, 1] and the value per-sample shape [2, 2, 1]; hbp maps Mul "
        + "with a constant that is a scalar"), e.getMessage());
  }

  /**
   * Mul by an initializer is a learned scale, its parameter the initializer's values under its name: [2] on a vector
   * (learned_scale), a 0-d one first (learned_scale_scalar, shape [1]), per channel [C, 1, 1] on an image
   * (learned_scale_channels); another shape is refused. Sub and Div of a vector by one are a learned subtraction and
   * division, or with --constants the fixed constant_shift and constant_divide; the initializer first a learned
   * minus (b - x) or reciprocal (b / x), per channel of an image refused, naming the node, the initializer and --constants.
   * Add of a per-channel initializer to an image is a learned per-channel bias.
   */
  @Test
  void mulSubAndDivByAnInitializerAreLearnedOrWithConstantsFixed() throws Exception {
    ImportedNetwork net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addInitializer(tensor("g", new double[] {2, -3}, 2)).addInitializer(tensor("t", new double[] {0.5}))
        .addNode(node("Mul", "m", List.of("x", "g"), "h")).addNode(node("Mul", "n", List.of("t", "h"), "z")).build()), "mse", List.of());
    assertEquals(List.of("learned_scale", "learned_scale_scalar"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    assertEquals(List.of("0.w", "1.a"), net.parameterNames());
    assertArrayEquals(new double[] {2, -3}, net.parameters().get("0.w").data());
    assertArrayEquals(new int[] {1}, net.parameters().get("1.a").shape());
    assertArrayEquals(new double[] {0.5}, net.parameters().get("1.a").data());
    InitializerNames names = new InitializerNames(net);
    assertEquals("g", names.name("0.w"));
    assertEquals("t", names.name("1.a"));
    assertTrue(net.data().isEmpty(), net.data().keySet().toString());

    // per channel [C, 1, 1] on an image: learned_scale_channels, its parameter g the initializer's C values
    net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addInitializer(tensor("c", new double[] {1, 2}, 2, 1, 1)).addNode(node("Mul", "m", List.of("x", "c"), "z")).build()), "mse", List.of());
    assertEquals(List.of("learned_scale_channels"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    assertArrayEquals(new int[] {2}, net.parameters().get("0.g").shape());
    assertEquals("c", new InitializerNames(net).name("0.g"));
    UserError e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addInitializer(tensor("c", new double[] {1, 2}, 1, 2, 1)).addNode(node("Mul", "m", List.of("x", "c"), "z")).build());
    assertTrue(e.getMessage().contains("node 0 'm' (Mul): multiplies by the initializer 'c' of shape [1, 2, 1], the value of per-sample shape "
        + "[2, 2, 1]; an initializer is a parameter or a buffer") && e.getMessage().contains("hbp maps Mul by an initializer (a learned scale) with one entry"),
        e.getMessage());
    assertTrue(e.getMessage().contains("--map Mul=my-specs/op.hbp:module"), e.getMessage());
    // one scalar read by two Muls: not tied, refused
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addInitializer(tensor("t", new double[] {0.5}, 1)).addNode(node("Mul", "m", List.of("x", "t"), "h"))
        .addNode(node("Mul", "n", List.of("h", "t"), "z")).build());
    assertTrue(e.getMessage().contains("node 0 'm' (Mul): multiplies by the initializer 't', which 2 nodes read"), e.getMessage());
    for (String op : List.of("Sub", "Div")) {
      // x - b, x / b: a learned subtraction or division (b a parameter)
      GraphProto g = GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
          .addInitializer(tensor("b", new double[] {1, 2}, 2)).addNode(node(op, "s", List.of("x", "b"), "z")).build();
      net = OnnxImporter.load(write(g), "mse", List.of());
      assertEquals(List.of(op.equals("Sub") ? "learned_subtract" : "learned_divide"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
      assertEquals("b", new InitializerNames(net).name(net.parameterNames().get(0)));
      // with --constants b: fixed data (x - b as x + (-b)), no parameter
      net = OnnxImporter.load(write(g), "mse", List.of(), java.util.Set.of("b"));
      assertEquals(List.of(op.equals("Sub") ? "constant_shift" : "constant_divide"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
      assertTrue(net.parameterNames().isEmpty(), net.parameterNames().toString());
      assertArrayEquals(op.equals("Sub") ? new double[] {-1, -2} : new double[] {1, 2}, net.data().get("0.c").data());
      // b - x, b / x: a learned vector minus or divided by the value (b a parameter), [2] and [1] (one entry, any value)
      for (double[] b : new double[][] {{1, 2}, {3}}) {
        net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
            .addInitializer(tensor("b", b, b.length)).addNode(node(op, "s", List.of("b", "x"), "z")).build()), "mse", List.of());
        String module = (op.equals("Sub") ? "learned_minus" : "learned_reciprocal") + (b.length == 1 ? "_scalar" : "");
        assertEquals(List.of(module), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
        assertArrayEquals(b, net.parameters().get(net.parameterNames().get(0)).data());
        assertEquals("b", new InitializerNames(net).name(net.parameterNames().get(0)));
      }
      // b - x, b / x per channel of an image: refused, naming the node, the initializer and --map (--constants for Sub only:
      // --constants b makes b - x constant_minus; c / x has no module)
      e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
          .addInitializer(tensor("b", new double[] {1, 2}, 2, 1, 1)).addNode(node(op, "s", List.of("b", "x"), "z")).build());
      assertTrue(e.getMessage().contains("node 0 's' (" + op + "): " + (op.equals("Sub") ? "subtracts the value from the initializer 'b' of shape [2, 1, 1]"
          : "divides the initializer 'b' of shape [2, 1, 1] by the value")) && e.getMessage().contains("--map " + op + "="), e.getMessage());
      assertEquals(op.equals("Sub"), e.getMessage().contains("name it with --constants b"), e.getMessage());
    }
    // per channel [1, C, 1, 1] added to an image (the initializer first): learned_bias_channels, its parameter b the C values
    net = OnnxImporter.load(write(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addInitializer(tensor("c", new double[] {1, 2}, 1, 2, 1, 1)).addNode(node("Add", "a", List.of("c", "x"), "z")).build()), "mse", List.of());
    assertEquals(List.of("learned_bias_channels"), net.layers().stream().map(ImportedNetwork.Layer::module).toList());
    assertArrayEquals(new double[] {1, 2}, net.parameters().get("0.b").data());
    assertArrayEquals(new int[] {2}, net.parameters().get("0.b").shape());
    // a scalar added to an image: refused, naming the node and what Add of an initializer maps
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L, 2L, 1L)).addOutput(value("z", null, 2L, 2L, 1L))
        .addInitializer(tensor("c", new double[] {1}, 1)).addNode(node("Add", "a", List.of("x", "c"), "z")).build());
    assertTrue(e.getMessage().contains("node 0 'a' (Add): adds the initializer 'c' of shape [1]") && e.getMessage().contains("with C entries ([C, 1, 1] "
        + "or [1, C, 1, 1]) to an image [N, C, H, W]") && e.getMessage().contains("name it with --constants c"), e.getMessage());
  }

  @Test
  void graphNetworksAndBadInputsAreRefusedWithTheNodeNamed() throws Exception {
    // one initializer read by two nodes that differ (transB): not one instance
    UserError e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addInitializer(tensor("W", new double[] {1, 2, 3, 4}, 2, 2))
        .addNode(node("Gemm", "a", List.of("x", "W"), "h", integer("transB", 1))).addNode(node("Gemm", "b", List.of("h", "W"), "z")).build());
    assertTrue(e.getMessage().contains("node 1 'b' (Gemm) reads initializer 'W', which node 0 'a' (Gemm) reads too; hbp ties"), e.getMessage());
    // a branch whose value reaches no output
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addNode(node("Relu", "r", List.of("x"), "h")).addNode(node("Tanh", "t", List.of("x"), "z")).build());
    assertTrue(e.getMessage().contains("node 0 'r' (Relu): its value 'h' is read by no node and is not the graph's output"), e.getMessage());
    // Concat along another axis than the channels
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 1L, 2L, 2L)).addOutput(value("z", null, 1L, 4L, 2L))
        .addNode(node("Relu", "r", List.of("x"), "a")).addNode(node("Tanh", "t", List.of("x"), "b"))
        .addNode(node("Concat", "cat", List.of("a", "b"), "z", integer("axis", 2))).build());
    assertTrue(e.getMessage().contains("node 2 'cat' (Concat): concatenates along axis 2; hbp maps Concat of computed values along axis 1"), e.getMessage());
    // a merge hbp does not have
    e = importError(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L))
        .addNode(node("Relu", "r", List.of("x"), "a")).addNode(node("Pow", "d", List.of("x", "a"), "z")).build());
    assertTrue(e.getMessage().contains("node 1 'd' (Pow): reads 2 computed values (x, a); hbp merges values by Add, Sub and Mul"), e.getMessage());
    // an axis of the input without a fixed size
    e = importError(GraphProto.newBuilder().addInput(value("x", null, null)).addOutput(value("z", null, 2L))
        .addNode(node("Relu", "r", List.of("x"), "z")).build());
    assertTrue(e.getMessage().contains("input 'x' axis 1 has no fixed size"), e.getMessage());
    // the loss is needed
    Path p = write(GraphProto.newBuilder().addInput(value("x", null, 2L)).addOutput(value("z", null, 2L)).addNode(node("Relu", "r", List.of("x"), "z")).build());
    e = assertThrows(UserError.class, () -> OnnxImporter.load(p, null, List.of()));
    assertTrue(e.getMessage().contains("holds no loss; give one with --loss"), e.getMessage());
  }
}
