package org.hbp.cli;

import static org.hbp.cli.CliRun.hbp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Simplifier;
import org.hbp.dsl.Dsl;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.hbp.plot.RunMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end tests of the {@code hbp} command line through {@link Main#execute}. Runs with the
 * repository root as working directory (the specs are read from {@code modules-spec/}). Numbers
 * written by the CLI are checked against references computed here independently (by hand or with
 * EJML); NumPy files are row-major, derivatives use column-major vec.
 */
class CliTest {
  @TempDir Path dir;

  private static final ObjectMapper JSON = new ObjectMapper();

  private static void assertOk(CliRun r) {
    assertEquals(0, r.code(), () -> "exit code; err was: " + r.err() + "\nout was: " + r.out());
    assertEquals("", r.err(), "nothing on err");
  }

  /** Exit code 2 and exactly one line {@code hbp: message} on err. */
  private static void assertInputError(CliRun r, String message) {
    assertEquals(2, r.code(), () -> "exit code; err was: " + r.err() + "\nout was: " + r.out());
    assertEquals("hbp: " + message, r.err().strip());
    assertEquals(1, r.err().strip().lines().count(), "one line on err");
  }

  private List<String> namesIn(Path folder) throws IOException {
    try (Stream<Path> s = Files.list(folder)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  private static double[] random(Random rng, int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = rng.nextGaussian();
    return d;
  }

  private Path npy(String name, NdArray a) throws IOException {
    Path p = dir.resolve(name);
    Npy.write(p, a);
    return p;
  }

  private static final String[] QUADRATIC = {
      "derive", "-e", "x'*A*x", "--var", "x:vector(n)", "--var", "A:matrix(n,n)", "--wrt", "x", "--order", "2"};

  /** Random x.npy ([xn] entries) and A.npy ([4, 4]) drawn with {@code seed}; the arguments {@code --at x=.. --at A=..}. */
  private String[] randomPoint(long seed, int xn) throws IOException {
    Random rng = new Random(seed);
    Path x = npy("x.npy", NdArray.of(random(rng, xn), xn));
    Path a = npy("A.npy", NdArray.of(random(rng, 16), 4, 4));
    return new String[] {"--at", "x=" + x, "--at", "A=" + a};
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  // ============================================================ 1. derive SPEC (text)

  @Test
  void deriveLinearPrintsTheHbpRulesOfTable1() {
    CliRun r = hbp("derive", "modules-spec/linear.hbp");
    assertOk(r);
    r.assertOutContains("hbp       Hx = W'*Hz*W", "hbp       H_W = kron(x*x', Hz)", "hbp       H_b = Hz", "module linear");
  }

  @Test
  void moduleOptionSelectsOneModuleOfAFile() throws IOException {
    Path two = dir.resolve("two.hbp");
    Files.writeString(two, Files.readString(Path.of("modules-spec/linear.hbp")) + "\n"
        + Files.readString(Path.of("modules-spec/sigmoid.hbp")));
    CliRun both = hbp("derive", two.toString());
    assertOk(both);
    both.assertOutContains("module linear", "module sigmoid");

    CliRun one = hbp("derive", two.toString(), "--module", "sigmoid");
    assertOk(one);
    one.assertOutContains("module sigmoid");
    assertFalse(one.out().contains("linear"), one.out());
    assertFalse(one.out().contains("H_W"), one.out());

    CliRun lin = hbp("derive", two.toString(), "--module", "linear", "--format", "json");
    assertOk(lin);
    JsonNode a = JSON.readTree(lin.out());
    assertTrue(a.size() > 0);
    for (JsonNode o : a) assertEquals("linear", o.get("module").asText());
  }

  @Test
  void unknownModuleIsAnErrorNamingTheFileAndListingTheModules() throws IOException {
    Path two = dir.resolve("two.hbp");
    Files.writeString(two, Files.readString(Path.of("modules-spec/linear.hbp")) + "\n"
        + Files.readString(Path.of("modules-spec/sigmoid.hbp")));
    assertInputError(hbp("derive", two.toString(), "--module", "nope"),
        two + ": no module or loss named 'nope' (has: linear, sigmoid)");
    assertInputError(hbp("derive", "modules-spec/linear.hbp", "--module", "nope"),
        "modules-spec/linear.hbp: no module or loss named 'nope' (has: linear)");
  }

  // ============================================================ 2. formats

  @Test
  void jsonOfSigmoidHasTheKeysAndADiagonalResidual() throws IOException {
    CliRun r = hbp("derive", "modules-spec/sigmoid.hbp", "--format", "json");
    assertOk(r);
    JsonNode a = JSON.readTree(r.out());
    assertTrue(a.isArray() && a.size() == 1, r.out());
    for (JsonNode o : a) {
      for (String k : List.of("module", "wrt", "jacobian", "residual", "hbp", "residual_kind"))
        assertTrue(o.has(k), "key " + k + " in " + o);
      assertEquals("sigmoid", o.get("module").asText());
      assertEquals("x", o.get("wrt").asText());
      assertEquals("diagonal", o.get("residual_kind").asText());
    }
  }

  @Test
  void jsonOfLinearHasZeroResiduals() throws IOException {
    CliRun r = hbp("derive", "modules-spec/linear.hbp", "--format", "json");
    assertOk(r);
    JsonNode a = JSON.readTree(r.out());
    List<String> wrts = new ArrayList<>();
    for (JsonNode o : a) {
      for (String k : List.of("module", "wrt", "jacobian", "residual", "hbp", "residual_kind"))
        assertTrue(o.has(k), "key " + k + " in " + o);
      assertEquals("linear", o.get("module").asText());
      assertEquals("zero", o.get("residual_kind").asText(), o.toString());
      wrts.add(o.get("wrt").asText());
    }
    assertEquals(List.of("x", "W", "b"), wrts);
  }

  @Test
  void jsonOfCrossEntropyHasGradientHessianAndPsd() throws IOException {
    CliRun r = hbp("derive", "modules-spec/crossentropy.hbp", "--format", "json");
    assertOk(r);
    JsonNode a = JSON.readTree(r.out());
    assertEquals(1, a.size(), r.out());
    JsonNode o = a.get(0);
    assertEquals("crossentropy", o.get("module").asText());
    for (String k : List.of("gradient", "hessian", "psd")) assertTrue(o.has(k), "key " + k + " in " + o);
    assertTrue(o.get("psd").isBoolean(), o.toString());
    assertTrue(o.get("psd").asBoolean(), o.toString());
    assertEquals("softmax(x) - y", o.get("gradient").asText());
  }

  @Test
  void latexFormat() {
    CliRun r = hbp("derive", "modules-spec/linear.hbp", "--format", "latex");
    assertOk(r);
    r.assertOutContains("\\begin{aligned}", "\\end{aligned}");
  }

  @Test
  void badFormatIsAnError() {
    assertInputError(hbp("derive", "modules-spec/linear.hbp", "--format", "xml"),
        "unknown format 'xml'; expected text, latex or json");
  }

  // ============================================================ 3. ad hoc expressions

  @Test
  void hessianOfAQuadraticFormIsAPlusATransposed() {
    CliRun r = hbp(QUADRATIC);
    assertOk(r);
    String line = r.outLines().get(0);
    assertTrue(line.startsWith("H(x) = "), r.out());
    // The printed result must mean A + A' (the canonical term order puts A' first: "A' + A").
    Dsl.Scope scope = new Dsl.Scope();
    scope.add(new Expr.Var("x", Dsl.parseType("vector(n)", "test"), Expr.Role.FREE));
    scope.add(new Expr.Var("A", Dsl.parseType("matrix(n,n)", "test"), Expr.Role.FREE));
    Expr printed = Dsl.parseExpression(line.substring("H(x) = ".length()), scope, "output");
    Expr expected = Dsl.parseExpression("A + A'", scope, "expected");
    assertEquals(Simplifier.simplify(expected), Simplifier.simplify(printed), line);
    r.assertOutContains("shape n x n (column-major vec)");
  }

  @Test
  void hessianEvaluatedAtArraysIsAPlusATransposed() throws IOException {
    Random rng = new Random(11);
    Path x = npy("x.npy", NdArray.of(random(rng, 4), 4));
    NdArray a = NdArray.of(random(rng, 16), 4, 4);
    Path ap = npy("A.npy", a);
    Path out = dir.resolve("H.npy");
    CliRun r = hbp(concat(QUADRATIC, "--at", "x=" + x, "--at", "A=" + ap, "--out", out.toString()));
    assertOk(r);
    assertTrue(r.out().contains("wrote " + out + ": float64 [4, 4]"), r.out());
    NdArray h = Npy.read(out);
    assertEquals(DType.FLOAT64, h.dtype());
    assertArrayEquals(new int[] {4, 4}, h.shape());
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        assertEquals(a.get(i, j) + a.get(j, i), h.get(i, j), 1e-12, "H[" + i + "][" + j + "]");
    // row-major data: element (i, j) at i*4 + j
    double[] d = h.data();
    assertEquals(a.get(1, 2) + a.get(2, 1), d[1 * 4 + 2], 1e-12);
  }

  @Test
  void float32InputsAreAccepted() throws IOException {
    Random rng = new Random(12);
    Path x = npy("x32.npy", NdArray.of(random(rng, 4), DType.FLOAT32, 4));
    NdArray a = NdArray.of(random(rng, 16), DType.FLOAT32, 4, 4);
    Path ap = npy("A32.npy", a);
    Path out = dir.resolve("H32.npy");
    CliRun r = hbp(concat(QUADRATIC, "--at", "x=" + x, "--at", "A=" + ap, "--out", out.toString()));
    assertOk(r);
    NdArray h = Npy.read(out);
    assertEquals(DType.FLOAT64, h.dtype());
    assertArrayEquals(new int[] {4, 4}, h.shape());
    NdArray a32 = Npy.read(ap);
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        assertEquals(a32.get(i, j) + a32.get(j, i), h.get(i, j), 1e-12, "H[" + i + "][" + j + "]");
  }

  @Test
  void jacobianOfMatrixVectorProductWrtTheMatrixIsColumnMajor() throws IOException {
    double[] xv = {0.75, -1.5};
    double[] wv = {1, 2, 3, 4, 5, 6}; // W [3, 2] row-major
    Path w = npy("W.npy", NdArray.of(wv, 3, 2));
    Path x = npy("x2.npy", NdArray.of(xv, 2));
    Path out = dir.resolve("J.npy");
    CliRun r = hbp("derive", "-e", "W*x", "--var", "W:matrix(m,n)", "--var", "x:vector(n)", "--wrt", "W",
        "--at", "W=" + w, "--at", "x=" + x, "--out", out.toString());
    assertOk(r);
    NdArray j = Npy.read(out);
    assertArrayEquals(new int[] {3, 6}, j.shape());
    // z_i = sum_k W[i][k] x[k]; column-major vec(W) puts W[i][k] at i + 3*k.
    for (int i = 0; i < 3; i++)
      for (int c = 0; c < 6; c++) {
        int wi = c % 3, wk = c / 3;
        double expected = wi == i ? xv[wk] : 0.0;
        assertEquals(expected, j.get(i, c), 0.0, "J[" + i + "][" + c + "]");
      }
    assertEquals(-1.5, j.get(2, 2 + 3 * 1), 0.0);
    assertEquals(0.75, j.get(1, 1), 0.0);
  }

  @Test
  void jacobianOfTheInverseMatchesFiniteDifferences() throws IOException {
    int n = 3;
    Random rng = new Random(13);
    double[] xv = random(rng, n * n);
    for (int i = 0; i < n; i++) xv[i * n + i] += 4; // well conditioned
    DMatrixRMaj xm = new DMatrixRMaj(n, n, true, xv); // EJML is row-major like NumPy
    Path xp = npy("X.npy", NdArray.of(xv, n, n));
    Path out = dir.resolve("Jinv.npy");
    CliRun r = hbp("derive", "-e", "inv(X)", "--var", "X:matrix(n,n)", "--wrt", "X", "--at", "X=" + xp,
        "--out", out.toString());
    assertOk(r);
    NdArray j = Npy.read(out);
    assertArrayEquals(new int[] {n * n, n * n}, j.shape());

    double h = 1e-5;
    for (int c = 0; c < n * n; c++) {
      int pi = c % n, pj = c / n; // column-major vec index c = pi + n*pj
      DMatrixRMaj plus = xm.copy(), minus = xm.copy();
      plus.add(pi, pj, h);
      minus.add(pi, pj, -h);
      DMatrixRMaj ip = new DMatrixRMaj(n, n), im = new DMatrixRMaj(n, n);
      assertTrue(CommonOps_DDRM.invert(plus, ip));
      assertTrue(CommonOps_DDRM.invert(minus, im));
      for (int rrow = 0; rrow < n * n; rrow++) {
        int fi = rrow % n, fj = rrow / n;
        double fd = (ip.get(fi, fj) - im.get(fi, fj)) / (2 * h);
        assertEquals(fd, j.get(rrow, c), 1e-7 * Math.max(1, Math.abs(fd)), "J[" + rrow + "][" + c + "]");
      }
    }
  }

  // ============================================================ 4. input errors

  @Test
  void orderTwoOfANonScalarIsAnError() {
    assertInputError(hbp("derive", "-e", "A*x", "--var", "x:vector(n)", "--var", "A:matrix(n,n)", "--wrt", "x", "--order", "2"),
        "--order 2 needs a scalar expression, but A*x is vector(n)");
  }

  @Test
  void arrayOfTheWrongShapeIsAnError() throws IOException {
    Random rng = new Random(14);
    Path x = npy("x.npy", NdArray.of(random(rng, 3), 3));
    Path a = npy("A.npy", NdArray.of(random(rng, 16), 4, 4));
    Path out = dir.resolve("H.npy");
    CliRun r = hbp(concat(QUADRATIC, "--at", "x=" + x, "--at", "A=" + a, "--out", out.toString()));
    // The array bound second is blamed; the first is named by file only (its shape [3] is not shown).
    assertInputError(r, a + ": array 'A' has shape [4, 4], which makes n = 4, but " + x + " (array 'x', shape [3]) made n = 3");
    assertTrue(r.err().contains("'A'") && r.err().contains(a.toString()) && r.err().contains(x.toString()));
    assertFalse(Files.exists(out));

    CliRun swapped = hbp(concat(QUADRATIC, "--at", "A=" + a, "--at", "x=" + x, "--out", out.toString()));
    assertInputError(swapped, x + ": array 'x' has shape [3], which makes n = 3, but " + a + " (array 'A', shape [4, 4]) made n = 4");
  }

  @Test
  void arrayOfTheWrongRankIsAnError() throws IOException {
    Random rng = new Random(15);
    Path x = npy("x.npy", NdArray.of(random(rng, 4), 4));
    Path a = npy("A.npy", NdArray.of(random(rng, 16), 16));
    CliRun r = hbp(concat(QUADRATIC, "--at", "x=" + x, "--at", "A=" + a));
    assertInputError(r, a + ": array 'A' has shape [16] but A is matrix(n,n), so [n, n] was expected");
  }

  @Test
  void outNeedsAValueForEveryVariable() throws IOException {
    Path a = npy("A.npy", NdArray.of(random(new Random(16), 16), 4, 4));
    Path out = dir.resolve("H.npy");
    CliRun r = hbp(concat(QUADRATIC, "--at", "A=" + a, "--out", out.toString()));
    assertInputError(r, "no value for 'x': give --at x=FILE.npy");
    assertFalse(Files.exists(out));
  }

  @Test
  void missingSpecFileIsAnError() {
    assertInputError(hbp("derive", "modules-spec/no-such-module.hbp"), "spec file not found: modules-spec/no-such-module.hbp");
  }

  @Test
  void deriveOfAFileWithOnlyNetworksSaysThereIsNothingToDerive() {
    CliRun r = hbp("derive", "networks/fc.hbp");
    assertInputError(r, "networks/fc.hbp: no module or loss to derive (it declares only networks: fc; their modules' "
        + "rules come from their spec files, e.g. hbp derive modules-spec/linear.hbp)");
    assertTrue(r.out().isEmpty(), r.out());
  }

  @Test
  void syntaxErrorInASpecNamesFileLineAndColumn() throws IOException {
    Path bad = dir.resolve("bad.hbp");
    Files.writeString(bad, "module foo {\n  dims n;\n  input x: vector(n)\n  output z = x;\n}\n");
    CliRun r = hbp("derive", bad.toString());
    r.assertExit(2);
    assertTrue(r.err().startsWith("hbp: " + bad + ":4:3: "), r.err());
    // The wording after the position is the parser's (being edited elsewhere); pin its gist only.
    assertTrue(r.err().strip().startsWith("hbp: " + bad + ":4:3: expected ';' but found "), r.err());
    assertTrue(r.err().contains("'output'"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  @Test
  void wrtMustBeADeclaredVariable() {
    assertInputError(hbp("derive", "-e", "x'*A*x", "--var", "x:vector(n)", "--var", "A:matrix(n,n)", "--wrt", "y"),
        "--wrt y: no such variable; declare it with --var y:TYPE");
  }

  @Test
  void aVariableDeclaredTwiceAndAModuleOfAnExpressionAreRefused() {
    // a spec file refuses a variable declared twice; -e refused it not and took the last type
    assertInputError(hbp("derive", "-e", "sum(x)", "--var", "x:vector(n)", "--var", "x:vector(m)", "--wrt", "x"),
        "--var x is declared twice; declare each variable once");
    assertInputError(hbp("derive", "-e", "sum(x)", "--var", "x:vector(n)", "--wrt", "x", "--module", "foo"),
        "--module belongs to a spec file (hbp derive SPEC.hbp --module NAME), not to -e EXPR");
  }

  @Test
  void integerArraysAreRejected() throws IOException {
    Path x = npy("xi.npy", NdArray.of(new double[] {0, 1, 2, 3}, DType.INT64, 4));
    Path a = npy("A.npy", NdArray.of(random(new Random(17), 16), 4, 4));
    assertInputError(hbp(concat(QUADRATIC, "--at", "x=" + x, "--at", "A=" + a, "--out", dir.resolve("H.npy").toString())),
        x + ": array 'x' has dtype int64; float64 or float32 was expected");
    Path a32 = npy("Ai.npy", NdArray.of(new double[16], DType.INT32, 4, 4));
    Path xf = npy("x.npy", NdArray.of(new double[4], 4));
    assertInputError(hbp(concat(QUADRATIC, "--at", "x=" + xf, "--at", "A=" + a32)),
        a32 + ": array 'A' has dtype int32; float64 or float32 was expected");
  }

  @Test
  void missingArrayFileIsAnError() {
    Path nope = dir.resolve("nope.npy");
    assertInputError(hbp(concat(QUADRATIC, "--at", "x=" + nope)), "--at x: file not found: " + nope);
  }

  // ============================================================ 5. demo

  @Test
  void demoChecksEverySpecUsesAnOperatorComputesCurvatureTrainsAndPlots() throws IOException {
    Path out = dir.resolve("demo-output");
    CliRun r = ProgressCliTest.with("lines", "true", () -> hbp("demo", "--out", out.toString(), "--epochs", "1"));
    assertOk(r);
    List<String> lines = r.outLines();
    // the training runs' bars follow HBP_PROGRESS (here lines; off below)
    assertTrue(r.out().contains("epoch 1/1 [") && !r.out().contains("\r"), r.out());
    String rules = lines.stream().filter(l -> l.contains("numeric checks of derived rules")).findFirst().orElseThrow();
    String operators = lines.stream().filter(l -> l.contains("checks of generated operator methods")).findFirst().orElseThrow();
    Matcher m = Pattern.compile("(\\d+) numeric checks of derived rules against finite differences, 0 failed").matcher(rules);
    assertTrue(m.matches(), "line: " + rules);
    assertTrue(Integer.parseInt(m.group(1)) > 0);
    Matcher o = Pattern.compile("(\\d+) checks of generated operator methods against EJML references, 0 failed").matcher(operators);
    assertTrue(o.matches(), "line: " + operators);
    assertTrue(Integer.parseInt(o.group(1)) > 19 * 10);
    // part 1 stays readable: long rules (attention's run to kilobytes a line) are summarised in one line
    assertTrue(lines.stream().allMatch(l -> l.length() <= 250), "a line longer than 250 characters");
    r.assertOutContains("hbp derive modules-spec/multihead_attention.hbp --module multihead_attention prints them)", "hbp       H_b = Hz");
    // part 2: sigmoid(0) = 0.5, its derivative 0.25
    assertTrue(r.out().contains("z = sigmoid(x)         = [0.1192, 0.5000, 0.8808]") && r.out().contains("J'dz (backward)        = [0.1050, 0.2500, 0.1050]"),
        r.out());
    // part 3: the exact GGN block is its own reference; GGN and PCH are PSD
    r.assertOutContains("|C - GGN|/|GGN| = 0.000e+00");
    // part 4: two runs and the plots
    assertTrue(RunMetrics.read(out.resolve("sgd")).rows().size() == 2);
    assertTrue(RunMetrics.read(out.resolve("cg-newton")).rows().size() == 2);
    for (String png : List.of("loss-vs-epoch.png", "accuracy-vs-epoch.png", "loss-vs-time.png", "accuracy-vs-time.png"))
      assertTrue(Files.size(out.resolve("plots").resolve(png)) > 1000, png);
    // again: the demo replaces its previous runs; HBP_PROGRESS=off: no bar, a line per epoch
    CliRun again = ProgressCliTest.with("off", "true", () -> hbp("demo", "--out", out.toString(), "--epochs", "1"));
    assertOk(again);
    assertTrue(again.out().contains("epoch 1: train loss ") && !again.out().contains("epoch 1/1 ["), again.out());
    // a run file changed since is no longer the demo's own: refused before any work
    Files.writeString(out.resolve("sgd/metrics.csv"), "edited\n", java.nio.file.StandardOpenOption.APPEND);
    byte[] edited = Files.readAllBytes(out.resolve("sgd/metrics.csv"));
    CliRun refused = hbp("demo", "--out", out.toString(), "--epochs", "1");
    assertInputError(refused, "--out " + out + " holds sgd/metrics.csv, not written by hbp there (or changed since); "
        + "choose another --out, remove them, or pass --overwrite");
    assertArrayEquals(edited, Files.readAllBytes(out.resolve("sgd/metrics.csv")));
  }

  @Test
  void demoRefusesAFolderWithTheUsersFilesBeforeAnyWork() throws IOException {
    Path out = dir.resolve("mine");
    Files.createDirectories(out.resolve("plots"));
    Files.writeString(out.resolve("plots/loss-vs-epoch.png"), "my figure");
    CliRun first = hbp("demo", "--out", out.toString());
    assertEquals("", first.out(), "refused before part 1");
    assertInputError(first, "--out " + out.resolve("plots")
        + " holds loss-vs-epoch.png, not written by hbp there (or changed since); choose another --out, remove them, or pass --overwrite");
    Files.createDirectories(out.resolve("sgd"));
    Files.writeString(out.resolve("sgd/notes.txt"), "mine");
    assertInputError(hbp("demo", "--out", out.toString()), "--out " + out + ": " + out.resolve("sgd")
        + " holds notes.txt, which the demo does not write there; choose another --out");
    assertEquals("my figure", Files.readString(out.resolve("plots/loss-vs-epoch.png")));
    assertEquals("mine", Files.readString(out.resolve("sgd/notes.txt")));
  }

  // ============================================================ 6. atomic output

  @Test
  void failedEvaluationLeavesNoOutputAndNoTemporary() throws IOException {
    String[] at = randomPoint(18, 3);
    Path outDir = Files.createDirectory(dir.resolve("out"));
    CliRun r = hbp(concat(concat(QUADRATIC, at), "--out", outDir.resolve("H.npy").toString()));
    r.assertExit(2);
    assertEquals(List.of(), namesIn(outDir));
  }

  @Test
  void failedEvaluationKeepsAnExistingOutputUnchanged() throws IOException {
    String[] at = randomPoint(19, 3);
    Path outDir = Files.createDirectory(dir.resolve("out"));
    Path target = outDir.resolve("H.npy");
    Npy.write(target, NdArray.scalar(42));
    byte[] before = Files.readAllBytes(target);
    CliRun r = hbp(concat(concat(QUADRATIC, at), "--out", target.toString()));
    r.assertExit(2);
    assertEquals(List.of("H.npy"), namesIn(outDir));
    assertArrayEquals(before, Files.readAllBytes(target));
  }

  @Test
  void failedWriteLeavesNoTemporary() throws IOException {
    // The evaluation succeeds but the final rename fails: the target is a non-empty directory.
    String[] at = randomPoint(20, 4);
    Path outDir = Files.createDirectory(dir.resolve("out"));
    Path target = Files.createDirectory(outDir.resolve("H.npy"));
    Files.writeString(target.resolve("keep.txt"), "keep");
    CliRun r = hbp(concat(concat(QUADRATIC, at), "--out", target.toString()));
    r.assertExit(2);
    assertTrue(r.err().startsWith("hbp: "), r.err());
    assertEquals(List.of("H.npy"), namesIn(outDir));
    assertEquals(List.of("keep.txt"), namesIn(target));
  }

  // ============================================================ bugs found by these tests, now fixed

  @Test
  void jsonShapeOfAHessianIsSquare() throws IOException {
    CliRun r = hbp(concat(QUADRATIC, "--format", "json"));
    assertOk(r);
    assertEquals("[n, n]", JSON.readTree(r.out()).get("shape").asText());
  }

  @Test
  void jsonOutputStaysJsonWhenEvaluating() throws IOException {
    String[] at = randomPoint(21, 4);
    CliRun r = hbp(concat(concat(QUADRATIC, "--format", "json"), concat(at, "--out", dir.resolve("H.npy").toString())));
    assertOk(r);
    JSON.readTree(r.out()); // must be one JSON document
    try (var p = JSON.createParser(r.out())) {
      p.readValueAsTree();
      assertEquals(null, p.nextToken(), "nothing after the JSON document: " + r.out());
    }
  }

  @Test
  void outputIntoAMissingFolderNamesTheOutput() throws IOException {
    String[] at = randomPoint(22, 4);
    Path target = dir.resolve("no").resolve("H.npy");
    CliRun r = hbp(concat(concat(QUADRATIC, at), "--out", target.toString()));
    assertEquals(2, r.code());
    assertFalse(r.err().contains(".tmp"), r.err());
    assertTrue(r.err().contains(target.toString()), r.err());
  }
}
