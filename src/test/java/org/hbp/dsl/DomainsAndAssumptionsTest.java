package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Printer;
import org.hbp.calculus.Shape;
import org.hbp.calculus.Simplifier;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRule;
import org.hbp.derive.ModuleRules;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Assumptions rewrite only what is not differentiated (targets, data); variables declare their
 * domain after their type; dimensions are positive. Expected messages and forms written by hand.
 */
class DomainsAndAssumptionsTest {
  private static Spec parse(String text) {
    return Dsl.parse(text, "spec.hbp");
  }

  /** Parsing {@code text} fails with a DslException whose message is {@code message}. */
  private static void assertRefused(String text, String message) {
    assertEquals(message, assertThrows(DslException.class, () -> parse(text)).getMessage());
  }

  private static String lines(String... lines) {
    return String.join("\n", lines) + "\n";
  }

  private static LossRule lossRule(ModuleSpec m, String wrt) {
    return ModuleRules.lossRules(m).stream().filter(d -> d.wrt().name().equals(wrt)).findFirst().orElseThrow();
  }

  private static ModuleRule moduleRule(ModuleSpec m, String wrt) {
    return ModuleRules.moduleRules(m).stream().filter(d -> d.wrt().name().equals(wrt)).findFirst().orElseThrow();
  }

  // ---------------- assumptions ----------------

  @Test
  void crossEntropyUsesItsTargetOnlyAssumption() throws Exception {
    String text = Files.readString(Path.of("modules-spec/crossentropy.hbp"));
    ModuleSpec with = parse(text).modules().get(0);
    // without the assumption and without the domain probability (whose columns sum to 1 by definition)
    ModuleSpec without = parse(text.replace("assume sum(y) == 1;", "").replace(" probability;", ";")).modules().get(0);
    ModuleSpec domainOnly = parse(text.replace("assume sum(y) == 1;", "")).modules().get(0);
    assertEquals("softmax(x) - y", Printer.text(lossRule(domainOnly, "x").gradient()));
    // the gradient of -y'log(softmax(x)) is sum(y) softmax(x) - y; with sum(y) == 1 it is softmax(x) - y
    String g = Printer.text(lossRule(with, "x").gradient());
    String gWithout = Printer.text(lossRule(without, "x").gradient());
    assertFalse(g.contains("sum(y)"), g);
    assertTrue(gWithout.contains("sum(y)"), gWithout);
    assertEquals(Domain.PROBABILITY, with.domain("y"));
  }

  @Test
  void anAssumptionOnDataIsAllowedAndUsed() {
    ModuleSpec m = parse(lines("loss l {", "  dims n;", "  input x: vector(n);", "  data w: vector(n);", "  assume sum(w) == 2;",
        "  output E = sum(w)*(x'*x);", "}")).modules().get(0);
    assertEquals("4*x", Printer.text(lossRule(m, "x").gradient()));
  }

  static Stream<Arguments> refusedAssumptions() {
    return Stream.of(
        Arguments.of(lines("loss l {", "  dims c;", "  input x: vector(c);", "  target y: vector(c);", "  assume sum(x) == 1;",
            "  output E = sum(x) + y'*x;", "}"),
            "spec.hbp:5:14: 'assume' may mention only targets and data, which are not differentiated, but x is an input;"
                + " an assumption about it would change its derivatives"),
        Arguments.of(lines("loss l {", "  dims c;", "  input x: vector(c);", "  target y: vector(c);", "  assume sum(y) == sum(x);",
            "  output E = y'*x;", "}"),
            "spec.hbp:5:24: 'assume' may mention only targets and data, which are not differentiated, but x is an input;"
                + " an assumption about it would change its derivatives"),
        Arguments.of(lines("loss l {", "  dims c;", "  input x: vector(c);", "  target y: vector(c);", "  assume 1 == sum(y);",
            "  output E = y'*x;", "}"),
            "spec.hbp:5:10: the left side of 'assume' must mention a target or data variable (it is rewritten into the right side),"
                + " but 1 mentions none"));
  }

  @ParameterizedTest
  @MethodSource("refusedAssumptions")
  void assumptionsAboutDifferentiatedVariablesAreRefused(String text, String message) {
    assertRefused(text, message);
  }

  @Test
  void theSimplifierRefusesAnAssumptionAboutAnInputToo() {
    Expr.Var x = new Expr.Var("x", Shape.SCALAR, Expr.Role.INPUT);
    assertThrows(IllegalArgumentException.class, () -> Simplifier.assumption(x, new Expr.Num(1)));
  }

  // ---------------- domains ----------------

  @Test
  void domainsAreReadAndDefaulted() {
    ModuleSpec m = parse(lines("loss l {", "  dims n;", "  input x: vector(n) positive;", "  data S: matrix(n, n) spd;",
        "  target y: vector(n) onehot;", "  target t: vector(n);", "  target s: vector(n) sign;", "  target p: vector(n);",
        "  assume sum(p) == 1;", "  output E = x'*S*x + y'*x + t'*x + s'*x + p'*x;", "}")).modules().get(0);
    assertEquals(List.of(Domain.POSITIVE, Domain.SPD, Domain.ONEHOT, Domain.REAL, Domain.SIGN, Domain.PROBABILITY),
        m.variables().stream().map(v -> m.domain(v.name())).toList());
  }

  @Test
  void aPositiveVariableSimplifiesAbs() {
    ModuleSpec real = parse(lines("module m {", "  dims n;", "  input x: vector(n);", "  output z = abs(x);", "}")).modules().get(0);
    ModuleSpec positive = parse(lines("module m {", "  dims n;", "  input x: vector(n) positive;", "  output z = abs(x);", "}")).modules().get(0);
    assertTrue(Printer.text(moduleRule(real, "x").closedForm().jacobian()).contains("sign"), Printer.text(moduleRule(real, "x").closedForm().jacobian()));
    assertEquals("eye(n)", Printer.text(moduleRule(positive, "x").closedForm().jacobian()));
  }

  static Stream<Arguments> domainErrors() {
    return Stream.of(
        Arguments.of(lines("module m {", "  dims n;", "  input x: vector(n) blue;", "  output z = x;", "}"),
            "spec.hbp:3:22: unknown domain 'blue' of x; expected one of real, positive, spd, probability, onehot, sign"),
        Arguments.of(lines("module m {", "  dims n;", "  param S: vector(n) spd;", "  input x: vector(n);", "  output z = S .* x;", "}"),
            "spec.hbp:3:22: S: 'spd' needs a square matrix(n, n), but the type is vector(n)"),
        Arguments.of(lines("module m {", "  dims n, m;", "  param S: matrix(n, m) spd;", "  input x: vector(m);", "  output z = S*x;", "}"),
            "spec.hbp:3:25: S: 'spd' needs a square matrix(n, n), but the type is matrix(n,m)"),
        Arguments.of(lines("loss l {", "  dims n;", "  input x: vector(n) onehot;", "  output E = sum(x);", "}"),
            "spec.hbp:3:22: 'onehot' is not a domain of input x; inputs may be real, positive, spd (labels are targets or data)"),
        Arguments.of(lines("loss l {", "  input x: vector(3);", "  target y: scalar probability;", "  output E = y*sum(x);", "}"),
            "spec.hbp:3:20: y: 'probability' needs a vector or a matrix (one probability column each), but the type is scalar"),
        Arguments.of(lines("module m {", "  dims n;", "  input x: vector(n);", "  index i: vector(n) positive;", "  output z = gather(x, i);", "}"),
            "spec.hbp:4:22: an index map takes no domain, but i is declared 'positive'"));
  }

  @ParameterizedTest
  @MethodSource("domainErrors")
  void badDomainsAreRefusedAtTheirPlace(String text, String message) {
    assertRefused(text, message);
  }

  // ---------------- dimensions ----------------

  static Stream<Arguments> dimErrors() {
    return Stream.of(
        Arguments.of(lines("module m {", "  input x: vector(0);", "  output z = x;", "}"),
            "spec.hbp:2:19: a dimension must be positive, but found 0"),
        Arguments.of(lines("module m {", "  dims n;", "  input x: matrix(n, n - n);", "  output z = x;", "}"),
            "spec.hbp:3:22: a dimension must be positive, but n - n is 0"),
        Arguments.of(lines("module m {", "  dims n0;", "  dims n = n0 - n0;", "  input x: vector(n);", "  output z = x;", "}"),
            "spec.hbp:3:12: a dimension must be positive, but derived dim 'n' = n0 - n0 is 0"),
        Arguments.of(lines("module m {", "  dims n;", "  input x: vector(1 - n);", "  output z = x;", "}"),
            "spec.hbp:3:19: a dimension must be positive, but 1 - n is below 1 for all values of its dims"));
  }

  @ParameterizedTest
  @MethodSource("dimErrors")
  void zeroAndNegativeDimsAreRefused(String text, String message) {
    assertRefused(text, message);
  }

  @Test
  void dimsThatCanBePositiveAreAccepted() {
    parse(lines("module m {", "  dims n, k;", "  dims p = n - k + 1;", "  input x: vector(p);", "  output z = x;", "}"));
  }
  /**
   * Label smoothing (PyTorch's CrossEntropyLoss(label_smoothing=0.1)) with a onehot target: the
   * domain means sum(y) = 1, so the Hessian is (0.9*sum(y) + 0.1)*(diag(p) - p*p') =
   * diag(p) - p*p' with p = softmax(x), worked out by hand, proven PSD and factored, as with
   * {@code assume sum(y) == 1;}. A real target says nothing of sum(y): not proven.
   */
  @Test
  void aOnehotOrProbabilityVectorTargetSumsToOne() {
    String body = "  input x: vector(c);\n  output E = -(0.9*y + (0.1/c)*ones(c))'*log(softmax(x));\n}\n";
    for (String domain : List.of("onehot", "probability")) {
      ModuleSpec m = parse("loss lsce {\n  dims c;\n  target y: vector(c) " + domain + ";\n" + body).modules().get(0);
      LossRule r = ModuleRules.lossRules(m).get(0);
      assertEquals("diag(softmax(x)) - softmax(x)*softmax(x)'", Printer.text(r.hessian()), domain);
      assertEquals(Boolean.TRUE, r.psd().value(), domain);
      assertTrue(r.factor().isPresent(), domain);
    }
    ModuleSpec real = parse("loss lsce {\n  dims c;\n  target y: vector(c);\n" + body).modules().get(0);
    LossRule r = ModuleRules.lossRules(real).get(0);
    assertTrue(Printer.text(r.hessian()).contains("sum(y)"), Printer.text(r.hessian()));
    assertEquals(null, r.psd().value());
    assertEquals("no structural proof found; the Hessian depends on sum(y): if y sums to 1 (class labels or probabilities), declare it onehot "
        + "or probability (e.g. 'target y: vector(c) onehot;') or write 'assume sum(y) == 1;'", r.psd().reason());
  }
}
