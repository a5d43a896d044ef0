package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hbp.UserError;
import org.hbp.network.NetworkResolver;
import org.hbp.verify.SpecVerifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input is reported at the place it occurs with what was expected (issue 14's "Messages" and
 * the int-indexing limit): each case gave a bare Java message or a later crash before.
 */
class InputMessagesTest {
  @TempDir Path tmp;

  private static final String OK = "module m {\n  dims n;\n  input x: vector(n);\n  output z = sigmoid(x);\n}\n";

  private DslException fileError(byte[] bytes) throws Exception {
    Path f = tmp.resolve("spec.hbp");
    Files.write(f, bytes);
    DslException e = assertThrows(DslException.class, () -> Dsl.parseFile(f));
    assertTrue(e.getMessage().startsWith(f + ":"), e.getMessage());
    return e;
  }

  private static DslException textError(String text) {
    DslException e = assertThrows(DslException.class, () -> Dsl.parse(text, "t.hbp"));
    assertTrue(e.getMessage().startsWith("t.hbp:" + e.line() + ":" + e.column() + ": "), e.getMessage());
    return e;
  }

  @Test
  void invalidUtf8IsNamedByLineAndColumn() throws Exception {
    byte[] good = OK.getBytes(StandardCharsets.UTF_8);
    byte[] bad = new byte[good.length + 2];
    System.arraycopy(good, 0, bad, 0, good.length);
    bad[good.length] = 'q';
    bad[good.length + 1] = (byte) 0xC3; // a truncated two-byte sequence at the end (was "Input length = 1")
    DslException e = fileError(bad);
    assertEquals(6, e.line(), e.getMessage());
    assertEquals(2, e.column(), e.getMessage());
    assertTrue(e.detail().contains("0xC3") && e.detail().contains("not valid UTF-8"), e.getMessage());
    // inside a line: after "  dims " on line 2 (the column counts characters, a multi-byte one as one)
    String withUmlaut = OK.replace("dims n;", "dims \u00fcn;");
    byte[] u = withUmlaut.getBytes(StandardCharsets.UTF_8);
    int at = withUmlaut.indexOf('\u00fc') + 2; // byte offset of "n" after the two-byte u-umlaut
    u[at] = (byte) 0xFF;
    DslException e2 = fileError(u);
    assertEquals(2, e2.line(), e2.getMessage());
    assertEquals(9, e2.column(), e2.getMessage());
  }

  @Test
  void utf16IsRecognised() throws Exception {
    DslException bom = fileError(OK.getBytes(StandardCharsets.UTF_16)); // Java writes a byte order mark
    assertTrue(bom.detail().contains("UTF-16") && bom.detail().contains("UTF-8"), bom.getMessage());
    DslException noBom = fileError(OK.getBytes(StandardCharsets.UTF_16LE));
    assertTrue(noBom.detail().contains("NUL") && noBom.detail().contains("UTF-16"), noBom.getMessage());
    assertEquals(1, noBom.line());
    assertEquals(2, noBom.column(), noBom.getMessage());
  }

  @Test
  void aUtf8ByteOrderMarkIsAccepted() throws Exception {
    Path f = tmp.resolve("bom.hbp");
    Files.write(f, ("\uFEFF" + OK).getBytes(StandardCharsets.UTF_8));
    assertEquals("m", Dsl.parseFile(f).modules().get(0).name());
  }

  @Test
  void hugeDimensionsArePositioned() {
    DslException twenty = textError(OK.replace("vector(n)", "vector(123456789012345678901)")); // was "For input string"
    assertEquals(3, twenty.line());
    assertEquals(19, twenty.column());
    assertTrue(twenty.detail().contains("at most 2147483647"), twenty.getMessage());
    DslException tera = textError(OK.replace("vector(n)", "vector(1000000000000)")); // generated "new int[] {1000000000000, 1}"
    assertTrue(tera.detail().contains("at most 2147483647"), tera.getMessage());
    DslException entries = textError(OK.replace("vector(n)", "matrix(100000, 100000)"));
    assertTrue(entries.detail().contains("10000000000 entries"), entries.getMessage());
    assertEquals(3, entries.line());
    DslException overflow = textError(OK.replace("vector(n)", "vector(n*2000000000*2000000000*2000000000)"));
    assertTrue(overflow.detail().contains("too large"), overflow.getMessage());
    DslException derived = textError(OK.replace("dims n;", "dims n, big = 60000*60000;").replace("vector(n)", "vector(big)"));
    assertTrue(derived.detail().contains("3600000000 entries"), derived.getMessage());
  }

  @Test
  void aNetworkLayerTooLargeToIndexIsRefused() {
    String net = "network big {\n  input x: vector(65536);\n  linear(m = 65537);\n  loss squareloss;\n}\n";
    List<ModuleSpec> lib = NetworkResolver.library(List.of(Path.of("modules-spec")));
    DslException e = assertThrows(DslException.class, () -> NetworkResolver.resolve(Dsl.parse(net, "big.hbp"), null, lib));
    assertTrue(e.getMessage().startsWith("big.hbp:3:"), e.getMessage());
    assertTrue(e.detail().contains("param W") && e.detail().contains("4295032832 entries"), e.getMessage());
    String input = "network wide {\n  input x: tensor(50000, 50000, 3);\n  relu;\n  loss squareloss;\n}\n";
    DslException in = textError(input);
    assertTrue(in.detail().contains("7500000000 entries"), in.getMessage());
  }

  @Test
  void overLongModuleNamesAreRefusedAtTheName() {
    String name = "a".repeat(Dsl.MAX_NAME_LENGTH + 1);
    DslException e = textError(OK.replace("module m", "module " + name));
    assertEquals(1, e.line());
    assertEquals(8, e.column());
    assertTrue(e.detail().contains("limited to " + Dsl.MAX_NAME_LENGTH), e.getMessage());
    Dsl.parse(OK.replace("module m", "module " + "a".repeat(Dsl.MAX_NAME_LENGTH)), "ok.hbp");
  }

  @Test
  void derivativesMustBeElementwise() {
    DslException d1 = textError("elementwise f(u) = u.^2 { d1 = sum(u); }\n" + OK.replace("sigmoid(x)", "f(x)"));
    assertEquals(1, d1.line());
    assertEquals(32, d1.column());
    assertTrue(d1.detail().contains("d1") && d1.detail().contains("elementwise in u") && d1.detail().contains("sum(u)"), d1.getMessage());
    assertTrue(!d1.getMessage().contains("Sum["), d1.getMessage());
    DslException body = textError("elementwise g(t) = tr(t);\n" + OK.replace("sigmoid(x)", "g(x)"));
    assertTrue(body.detail().contains("tr(t)"), body.getMessage());
  }

  @Test
  void verifyOfAFileWithoutModulesSaysSo() throws Exception {
    Path f = tmp.resolve("net.hbp");
    Files.writeString(f, "network n {\n  input x: vector(4);\n  relu;\n  loss squareloss;\n}\n");
    UserError e = assertThrows(UserError.class, () -> SpecVerifier.verify(f, null, 1, 1));
    assertTrue(e.getMessage().startsWith(f + ": no module or loss to verify"), e.getMessage());
    assertTrue(!e.getMessage().contains("null"), e.getMessage());
  }
}
