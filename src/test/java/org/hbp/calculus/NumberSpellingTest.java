package org.hbp.calculus;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.hbp.dsl.Dsl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Numbers print in the DSL's own spelling (1e-5, not Java's 1.0E-5) and parse back to the same double. */
class NumberSpellingTest {
  @ParameterizedTest
  @CsvSource({
      "1e-5, 1e-5", "0.00001, 1e-5", "1.5e-7, 1.5e-7", "-3e-7, -3e-7", "2.5e20, 2.5e20", "1e15, 1e15", "100000000000000, 100000000000000",
      "0.001, 0.001", "0.5, 0.5", "123, 123", "-2, -2", "1234567.25, 1234567.25"})
  void printsInTheDslSpellingAndParsesBack(double value, String printed) {
    assertEquals(printed, Printer.number(value));
    Expr back = Dsl.parseExpression(printed, new Dsl.Scope(), "number");
    double parsed = back instanceof Expr.Num n ? n.value() : back instanceof Expr.Scale s ? s.coefficient() * ((Expr.Num) s.operand()).value()
        : Double.NaN;
    assertEquals(value, parsed, 0.0, printed + " parses back as " + back);
  }
}
