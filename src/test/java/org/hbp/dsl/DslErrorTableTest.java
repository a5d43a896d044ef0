package org.hbp.dsl;

import static org.hbp.dsl.DslErrors.assertDslError;
import static org.hbp.dsl.DslErrors.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The error messages of the DSL, input by input: syntax errors (no recovery, the first error
 * only, in words) and semantic errors, all as {@code source:line:col: detail} with a 1-based
 * column at the offending token. The expected messages are written by hand.
 */
class DslErrorTableTest {
  /**
   * The known functions by Levenshtein distance to "foo", ties alphabetical, worked out by hand:
   * 2 cos log; 3 abs det erf exp eye inv kron max min norm sin sum tr vec; 4 diag ones relu sign
   * sqrt step tanh unfold zeros; 6 flatten gather sigmoid softmax; 7 reshape softplus unfolding;
   * 8 logsumexp selection; 9 commutation; 11 diagonalizer; 12 logsumexp_cols.
   */
  private static final String KNOWN_BY_DISTANCE_TO_FOO = "cos, log, abs, det, erf, exp, eye, inv, kron, max, min, norm, sin, sum, tr, vec, diag, ones, "
      + "relu, sign, sqrt, step, tanh, unfold, zeros, flatten, gather, sigmoid, softmax, reshape, softplus, unfolding, logsumexp, "
      + "selection, commutation, diagonalizer, logsumexp_cols";


  /** Lines joined by newlines: line 1 is the first argument. */
  private static String lines(String... lines) {
    return String.join("\n", lines) + "\n";
  }

  /**
   * A module m with dims n, k and input x: vector(n), then the given items, one per line from
   * line 4 (so the column of the expression in {@code output z = ...} on line 4 is 14).
   */
  private static String module(String... items) {
    StringBuilder s = new StringBuilder("module m {\n  dims n, k;\n  input x: vector(n);\n");
    for (String item : items) s.append("  ").append(item).append('\n');
    return s.append("}\n").toString();
  }

  /**
   * A module m with dims c, h, w, k and input x: tensor(c, h, w), then the given items, one per
   * line from line 4, and output z = gather(x, idx).
   */
  private static String pool(String... items) {
    StringBuilder s = new StringBuilder("module m {\n  dims c, h, w, k;\n  input x: tensor(c, h, w);\n");
    for (String item : items) s.append("  ").append(item).append('\n');
    return s.append("  output z = gather(x, idx);\n}\n").toString();
  }

  /** Lets a0 = first, a1 = next(a0), ... a(n-1), one per line, and output z = a(n-1). */
  private static String[] letChain(int n, String first, String next) {
    String[] items = new String[n + 1];
    items[0] = "let a0 = " + first + ";";
    for (int k = 1; k < n; k++) items[k] = "let a" + k + " = " + String.format(next, k - 1) + ";";
    items[n] = "output z = a" + (n - 1) + ";";
    return items;
  }

  /** The index primitives as the messages list them. */
  private static final String PRIMITIVES = "window_argmax(INPUT, K) (the position of the maximum of each K x K window of INPUT, stride K)"
      + " or window_argmax_strided(INPUT, K, S, P) (the position of the maximum of each K x K window of INPUT at stride S, INPUT padded"
      + " by P on each side with -inf, floor mode) or pad_source(INPUT, P) (the source position in INPUT of each position of INPUT padded by P on each side, -1 in the padding)";

  static Stream<Arguments> files() {
    return Stream.of(
        // ---------------- syntax errors ----------------
        // missing semicolon
        row(lines("module m {", "  dims n;", "  input x: vector(n)", "  output z = x;", "}"),
            "spec.hbp:4:3: expected ';' but found keyword 'output'"),
        row(module("output z = x x;"),
            "spec.hbp:4:16: expected ';' but found name 'x'"),
        row(lines("module m {", "  dims n k;", "}"),
            "spec.hbp:2:10: expected ',' or ';' but found name 'k'"),
        // missing or extra parenthesis
        row(module("output z = (x + 1;"),
            "spec.hbp:4:20: expected ')' but found ';'"),
        row(module("output z = sigmoid(x;"),
            "spec.hbp:4:23: expected ',' or ')' but found ';'"),
        row(module("output z = x);"),
            "spec.hbp:4:15: expected ';' but found ')'"),
        // bad tokens and unexpected characters
        // number literals: finite doubles, and not a non-zero number that rounds to 0
        row(module("output z = 1e400*x;"),
            "spec.hbp:4:14: the number 1e400 is too large: a number literal must be a finite double, at most about 1.8e308"),
        row(module("output z = 1e-400*x + x;"),
            "spec.hbp:4:14: the number 1e-400 is too small: it is not zero but rounds to 0 in double precision (the smallest positive double "
                + "is about 4.9e-324); write 0 if 0 is meant"),
        row(module("output z = x @ x;"),
            "spec.hbp:4:16: unexpected character '@'"),
        row(module("output z = 2 \u00d7 x;"),
            "spec.hbp:4:16: unexpected character '\u00d7' (U+00D7)"),
        row(module("output z = \"x\";"),
            "spec.hbp:4:14: unexpected character '\"'"),
        row(module("output z = x .+ 1;"),
            "spec.hbp:4:16: unexpected character '.'"),
        row(module("output z = x .^ k;"),
            "spec.hbp:4:19: the exponent of '.^' must be a number (x.^2, x.^-0.5) but found name 'k'; for a variable exponent a of a "
                + "positive x write exp(a*log(x))"),
        row(module("output z = x .^ -(2);"),
            "spec.hbp:4:20: the exponent of '.^' must be a number (x.^2, x.^-0.5) but found '('; for a variable exponent a of a "
                + "positive x write exp(a*log(x))"),
        row(module("output z = x * * x;"),
            "spec.hbp:4:18: expected an expression but found '*'"),
        // a keyword as a name
        row(lines("module m {", "  dims n;", "  input output: vector(n);", "}"),
            "spec.hbp:3:9: expected a name but found keyword 'output'"),
        row("module { }",
            "spec.hbp:1:8: expected a name but found '{'"),
        // an unterminated module: at the end of input and before the next declaration
        row(lines("module m {", "  dims n;", "  input x: vector(n);", "  output z = x;"),
            "spec.hbp:5:1: expected '}' to close module 'm' (opened at 1:10) but found end of input"),
        row(lines("module a {", "  dims n;", "  input x: vector(n);", "  output z = x;", "module b { }"),
            "spec.hbp:5:1: expected '}' to close module 'a' (opened at 1:10) but found keyword 'module'"),
        row("elementwise f(t) = t { d1 = 1;",
            "spec.hbp:1:31: expected '}' to close elementwise 'f' (opened at 1:22) but found end of input"),
        // garbage after the end
        row(module("output z = x;") + "oops",
            "spec.hbp:6:1: expected a declaration (module, loss, elementwise or network) but found name 'oops'"),
        row(module("output z = x;") + "}",
            "spec.hbp:6:1: expected a declaration (module, loss, elementwise or network) but found '}'"),
        row(module("output z = x;") + "/* the end",
            "spec.hbp:6:1: unterminated comment: '/*' has no closing '*/'"),
        // empty expressions
        row(module("output z = ;"),
            "spec.hbp:4:14: expected an expression but found ';'"),
        row(module("output z = x + ;"),
            "spec.hbp:4:18: expected an expression but found ';'"),
        row(module("output z = sum(x, );"),
            "spec.hbp:4:21: expected an expression but found ')'"),
        // bad types
        row(lines("module m {", "  dims n;", "  input x: vec(n);", "}"),
            "spec.hbp:3:12: expected a type (scalar, vector(n), matrix(m,n) or tensor(c,h,w)) but found name 'vec'"),
        row(lines("module m {", "  dims n;", "  input x: matrix(n);", "}"),
            "spec.hbp:3:20: expected ',' but found ')'"),
        row(lines("module m {", "  dims n;", "  input x vector(n);", "}"),
            "spec.hbp:3:11: expected ':' but found keyword 'vector'"),
        // declarations and module items
        row("foo m { }",
            "spec.hbp:1:1: expected a declaration (module, loss, elementwise or network) but found name 'foo'"),
        row("netwrk n { }",
            "spec.hbp:1:1: expected a declaration (module, loss, elementwise or network) but found name 'netwrk'"),
        row(lines("module m {", "  dim n;", "}"),
            "spec.hbp:2:3: expected a module item (dims, input, param, data, index, target, let, assume or output) or '}' but found name 'dim'"),
        row(lines("loss l {", "  dims n;", "  input x: vector(n);", "  assume x = 1;", "}"),
            "spec.hbp:4:12: expected '==' but found '='"),
        row("elementwise f(t) = t",
            "spec.hbp:1:21: expected ';' or '{' but found end of input"),
        row("elementwise f(t, u) = t;",
            "spec.hbp:1:18: elementwise function 'f' declares 2 arguments, but an elementwise function takes one, the entry it maps; "
                + "a function of several inputs is a module with several inputs"),
        row("elementwise rec(t) = t .* rec(t);",
            "spec.hbp:1:27: elementwise function 'rec' calls itself in its body; a body cannot be recursive (its derivatives d1 and d2, "
                + "in a { ... } block after it, may use it)"),
        row("elementwise f(t) = t { 3 }",
            "spec.hbp:1:24: expected a derivative (d1 = ... or d2 = ...) or '}' but found number 3"),
        // only the first error is reported, nothing is repaired
        row(module("output z = x x;", "output w = x @;"),
            "spec.hbp:4:16: expected ';' but found name 'x'"),

        // ---------------- semantic errors ----------------
        row(module("output z = y;"),
            "spec.hbp:4:14: unknown name 'y'; known names, closest first: k, n, x"),
        row(module("output z = foo(x);"),
            "spec.hbp:4:14: unknown function 'foo'; known functions, closest first: " + KNOWN_BY_DISTANCE_TO_FOO),
        row(module("output z = x(1);"),
            "spec.hbp:4:14: 'x' is a variable, not a function"),
        row(module("output z = sigmoid;"),
            "spec.hbp:4:14: 'sigmoid' is a function; call it as sigmoid(...)"),
        row(lines("module m {", "  dims n;", "  input x: vector(q);", "  output z = x;", "}"),
            "spec.hbp:3:19: undeclared dim 'q'"),
        // shape mismatches name both operands and their shapes
        row(module("param W: matrix(n, k);", "output z = W*x;"),
            "spec.hbp:5:14: shape mismatch in '*': W is matrix(n,k) but x is vector(n); inner dimensions k and n differ"),
        row(module("param b: vector(k);", "output z = x + b;"),
            "spec.hbp:5:14: shape mismatch in '+': x is vector(n) but b is vector(k); shapes differ"),
        row(module("param W: matrix(n, k);", "output z = x .* W;"),
            "spec.hbp:5:14: shape mismatch in '.*': x is vector(n) but W is matrix(n,k); shapes differ"),
        row(lines("module m {", "  dims c, h, w;", "  input x: tensor(c, h, w);", "  output z = x';", "}"),
            "spec.hbp:4:14: cannot transpose x, a tensor(c,h,w); reshape it to a matrix first"),
        row(module("param A: matrix(n, n);", "output z = x / A;"),
            "spec.hbp:5:18: '/' divides by a scalar, but A is matrix(n,n); use ./ for elementwise division"),
        row(module("output z = x / 0;"),
            "spec.hbp:4:18: division by 0"),
        row(module("output z = x ./ 0;"),
            "spec.hbp:4:19: division by 0"),
        row(module("output z = x ./ (0);"),
            "spec.hbp:4:19: division by 0"),
        // a divisor that is not the literal 0 but simplifies to 0: refused at the divisor (column hand-counted)
        row(module("output z = x ./ (x - x);"),
            "spec.hbp:4:19: division by 0: the divisor (x - x) simplifies to 0 in every entry, so the quotient is not finite anywhere"),
        row(module("output z = x / (sum(x) - sum(x));"),
            "spec.hbp:4:18: division by 0: the divisor (sum(x) - sum(x)) simplifies to 0, so the quotient is not finite anywhere"),
        row(module("output z = x ./ zeros(n);"),
            "spec.hbp:4:19: division by 0: the divisor zeros(n) simplifies to 0 in every entry, so the quotient is not finite anywhere"),
        row(module("let d = 2*x - x - x;", "output z = sigmoid(x ./ d);"),
            "spec.hbp:5:27: division by 0: the divisor d simplifies to 0 in every entry, so the quotient is not finite anywhere"),
        // losses
        row(lines("loss l {", "  dims n;", "  input x: vector(n);", "  target y: vector(n);", "  output E = y - x;", "}"),
            "spec.hbp:5:14: loss 'l' must be scalar, but its output E is vector(n)"),
        row(module("target y: vector(n);", "output z = x;"),
            "spec.hbp:4:3: 'target' is allowed in a loss only"),
        row(lines("loss l {", "  dims n;", "  input x: vector(n);", "  param W: vector(n);", "  output E = x'*x;", "}"),
            "spec.hbp:4:3: 'param' is not allowed in a loss; a loss has no parameters"),
        row(module("assume x == x;", "output z = x;"),
            "spec.hbp:4:3: 'assume' is allowed in a loss only"),
        row(lines("loss l {", "  dims n;", "  input x: vector(n);", "  assume sum(x) == x;", "  output E = sum(x);", "}"),
            "spec.hbp:4:10: the sides of 'assume' differ in shape: sum(x) is scalar but x is vector(n)"),
        // outputs and inputs
        row(module("output z = x;", "output w = x;"),
            "spec.hbp:5:3: module 'm' already has output 'z'; only one output is allowed"),
        row(lines("module m {", "  dims n;", "  input x: vector(n);", "}"),
            "spec.hbp:4:1: module 'm' has no output; expected 'output NAME = EXPRESSION;'"),
        row(lines("module m {", "  dims n;", "  param x: vector(n);", "  output z = x;", "}"),
            "spec.hbp:1:8: module 'm' has no input; expected 'input NAME: TYPE;'"),
        row(module("output x = x;"),
            "spec.hbp:4:10: 'x' is already declared; the output needs a new name"),
        // duplicate declarations
        row(module("input x: vector(k);", "output z = x;"),
            "spec.hbp:4:9: variable 'x' is declared twice"),
        row(lines("module m {", "  dims n, n;", "}"),
            "spec.hbp:2:11: dim 'n' is declared twice"),
        row(module("input n: vector(n);"),
            "spec.hbp:4:9: 'n' is already declared as a dim"),
        row(module("output z = x;") + module("output z = x;"),
            "spec.hbp:6:8: module 'm' is declared twice"),
        // elementwise functions
        row("elementwise sigmoid(t) = t;",
            "spec.hbp:1:13: 'sigmoid' is a built-in function and cannot be redefined"),
        row("elementwise tr(t) = t;",
            "spec.hbp:1:13: 'tr' is a built-in function and cannot be redefined"),
        row(lines("elementwise f(t) = t;", "elementwise f(t) = 2*t;"),
            "spec.hbp:2:13: function 'f' is declared twice"),
        row("elementwise f(t) = ones(3);",
            "spec.hbp:1:20: the body of elementwise function 'f' must be scalar, but it is vector(3)"),
        row("elementwise f(t) = t { d3 = 1; }",
            "spec.hbp:1:24: expected d1 or d2 (the first or second derivative) but found name 'd3'"),
        row("elementwise f(t) = t { d1 = 1; d1 = 1; }",
            "spec.hbp:1:32: derivative d1 is given twice"),
        row("elementwise f(t) = t { d1 = ones(2); }",
            "spec.hbp:1:29: derivative d1 must be scalar, but it is vector(2)"),
        // local definitions (let)
        row(module("let x = 2;", "output z = x;"),
            "spec.hbp:4:7: let 'x': 'x' is already an input; a let needs a new name"),
        row(module("let n = 2*x;", "output z = n;"),
            "spec.hbp:4:7: let 'n': 'n' is already a dim; a let needs a new name"),
        row(module("let sin = 2*x;", "output z = sin;"),
            "spec.hbp:4:7: let 'sin': 'sin' is already a function; a let needs a new name"),
        row(module("output z = x;", "let z = 2*x;"),
            "spec.hbp:5:7: let 'z': 'z' is already the output; a let needs a new name"),
        row(module("let t = x;", "let t = 2*x;", "output z = t;"),
            "spec.hbp:5:7: let 't' is defined twice (first at 4:7)"),
        // a let that takes an earlier name is refused at the let, even where a use of that name comes first
        row(module("output z = x;", "let x = 2;"),
            "spec.hbp:5:7: let 'x': 'x' is already an input; a let needs a new name"),
        row(module("output z = 2*n;", "let n = 2*x;"),
            "spec.hbp:5:7: let 'n': 'n' is already a dim; a let needs a new name"),
        row(module("output z = 2*t;", "let t = x;", "let t = 2*x;"),
            "spec.hbp:6:7: let 't' is defined twice (first at 5:7)"),
        row(module("let t = x;", "input t: vector(n);", "output z = t;"),
            "spec.hbp:5:9: 't' is already defined by a let at 4:7; choose another name"),
        row(module("let t = x;", "output t = 2*t;"),
            "spec.hbp:5:10: 't' is already declared; the output needs a new name"),
        row(module("output z = 2*t;", "let t = x;"),
            "spec.hbp:4:16: 't' is used before its definition (let t at 5:7); move the let before its first use"),
        row(module("let u = 2*t;", "let t = x;", "output z = u;"),
            "spec.hbp:4:13: 't' is used before its definition (let t at 5:7); move the let before its first use"),
        row(module("let t = x + t;", "output z = t;"),
            "spec.hbp:4:15: let 't' refers to itself; a let names an expression of earlier names"),
        row(module("let m = 2*k;", "param W: matrix(m, n);", "output z = W*x / m;"),
            "spec.hbp:5:19: 'm' is a let (a value), but a dimension was expected here; name a dimension with 'dims m = ...;'"),
        // lets written out stay within the limits of text: 200 levels (a_k nests 2 + 2k), 100000 nodes (a_k has 2^(k+2) - 1: a15 131071)
        row(module(letChain(101, "sigmoid(x)", "sigmoid(a%d)")),
            "spec.hbp:104:14: let 'a100' with its lets written out nests 202 levels; expressions nest at most 200 levels"),
        row(module(letChain(100, "sigmoid(x)", "sigmoid(a%d)")),
            "spec.hbp:104:14: the output with its lets written out nests 201 levels; expressions nest at most 200 levels"),
        row(module(letChain(17, "x .* x", "a%1$d .* a%1$d")),
            "spec.hbp:19:13: let 'a15' with its lets written out has more than 100000 nodes (each use of a let copies its value); "
                + "use the lets fewer times inside each other"),
        row(module("let t = x .* x;", "output z = x;"),
            "spec.hbp:4:7: let 't' is never used; use it in a later let, the output or an assumption, or remove it"),
        row(module("let t = x .* x;", "let u = t + 1;", "output z = x;"),
            "spec.hbp:5:7: let 'u' is never used; use it in a later let, the output or an assumption, or remove it"),
        row(lines("loss l {", "  dims n;", "  input x: vector(n);", "  target y: vector(n);", "  let s = sum(x) + sum(y);",
                "  assume s == 1;", "  output E = sum(y .* x);", "}"),
            "spec.hbp:6:10: 'assume' may mention only targets and data, which are not differentiated, but x is an input; an assumption "
                + "about it would change its derivatives"),
        row("let t = 1;",
            "spec.hbp:1:1: expected a declaration (module, loss, elementwise or network) but found keyword 'let'"),
        // calls
        row(module("input A: matrix(n, n);", "output z = tr(A, A);"),
            "spec.hbp:5:14: tr expects 1 argument but got 2"),
        row(module("output z = sigmoid(x, x);"),
            "spec.hbp:4:14: sigmoid expects 1 argument but got 2"),
        row(module("output z = erf(x, 2);"),
            "spec.hbp:4:14: erf expects 1 argument but got 2"),
        row(module("output z = sin();"),
            "spec.hbp:4:14: sin expects 1 argument but got 0"),
        row(module("output z = cos'(x, x);"),
            "spec.hbp:4:14: cos expects 1 argument but got 2"),
        row(module("output z = norm(x, 2);"),
            "spec.hbp:4:14: norm expects 1 argument but got 2"),
        row(module("output z = norm(sum(x));"),
            "spec.hbp:4:19: norm expects a vector, matrix or tensor, but sum(x) is a scalar; use abs(sum(x))"),
        row(module("output z = norm'(x);"),
            "spec.hbp:4:14: 'norm' is not an elementwise function; only those have derivatives f'(x)"),
        row(module("input A: matrix(n, k);", "output z = tr(A);"),
            "spec.hbp:5:17: tr expects a square matrix, but A is matrix(n,k)"),
        row(module("input A: tensor(n, k, k);", "output z = softmax(A);"),
            "spec.hbp:5:22: softmax expects a vector or a matrix (softmaxed column by column), but A is tensor(n,k,k)"),
        row(module("input A: matrix(n, k);", "output z = max(x, A);"),
            "spec.hbp:5:21: max expects arguments of the same shape (or a scalar), but x is vector(n) and A is matrix(n,k)"),
        row(module("data y: vector(n);", "output z = gather(x, y);"),
            "spec.hbp:5:24: gather expects an index map (declared 'index NAME: TYPE'), but found 'y'"),
        row(module("output z = reshape(x, k);"),
            "spec.hbp:4:14: cannot reshape x, a vector(n) with n entries, to vector(k) with k entries"),
        row(module("output z = unfold(x, 3);"),
            "spec.hbp:4:21: unfold expects a tensor(c,h,w), but x is vector(n)"),
        row(lines("module m {", "  dims c, h, w;", "  input x: tensor(c, h, w);", "  output z = unfold(x);", "}"),
            "spec.hbp:4:14: unfold expects (X, kernel[, stride[, padding[, dilation]]]) but got 1 argument"),
        row(module("index idx: vector(n);", "output z = x + idx;"),
            "spec.hbp:5:18: 'idx' is an index map; use it through gather(X, idx)"),
        // dimensions
        row(lines("module m {", "  input x: vector(2.5);", "  output z = x;", "}"),
            "spec.hbp:2:19: a dimension must be a whole number, but found 2.5"),
        // index maps computed by an index primitive: index idx: TYPE = PRIMITIVE(INPUT, DIMS);
        row(pool("index idx: tensor(c, h/k, w/k) = ;"),
            "spec.hbp:4:36: expected an expression but found ';'"),
        row(pool("index idx: tensor(c, h/k, w/k)"),
            "spec.hbp:5:3: expected ';' or '=' but found keyword 'output'"),
        row(pool("input y: tensor(c, h, w) = window_argmax(x, k);"),
            "spec.hbp:4:28: '= ...' after a type says how an index map is computed, but y is an input; only 'index' variables take one"),
        row(pool("index idx: tensor(c, h/k, w/k) = x;"),
            "spec.hbp:4:36: expected an index primitive, " + PRIMITIVES + ", but found 'x'"),
        row(pool("index idx: tensor(c, h/k, w/k) = argmax(x, k);"),
            "spec.hbp:4:36: unknown index primitive 'argmax'; expected " + PRIMITIVES),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(x);"),
            "spec.hbp:4:36: window_argmax expects 2 arguments (INPUT, K) but got 1"),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(x, k = 2);"),
            "spec.hbp:4:53: window_argmax takes no named arguments; expected window_argmax(INPUT, K)"),
        row(pool("param W: tensor(c, h, w);", "index idx: tensor(c, h/k, w/k) = window_argmax(W, k);"),
            "spec.hbp:5:50: window_argmax computes an index map from an input of module 'm', but W is a parameter"),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(y, k);"),
            "spec.hbp:4:50: window_argmax computes an index map from an input of module 'm', but there is no variable 'y'"),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(h, k);"),
            "spec.hbp:4:50: window_argmax computes an index map from an input of module 'm', but 'h' is a dim"),
        row(module("index idx: vector(n) = window_argmax(x, k);", "output z = gather(x, idx);"),
            "spec.hbp:4:40: window_argmax expects a tensor(c,h,w), but x is vector(n)"),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(x, s);"),
            "spec.hbp:4:53: undeclared dim 's'"),
        row(pool("index idx: tensor(c, h/k, w/k) = window_argmax(x, 0);"),
            "spec.hbp:4:53: a dimension must be positive, but found 0"),
        row(pool("index idx: tensor(c, h/k, w) = window_argmax(x, k);"),
            "spec.hbp:4:34: index idx is declared tensor(c, h/k, w) but window_argmax(x, k) is tensor(c,h/k,w/k)"),
        row(pool("index idx: tensor(c, h + k, w + k) = pad_source(x, k);"),
            "spec.hbp:4:40: index idx is declared tensor(c, h + k, w + k) but pad_source(x, k) is tensor(c,h + 2*k,2*k + w)"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("files")
  void fileErrors(String input, String message) {
    assertDslError(() -> Dsl.parse(input, "spec.hbp"), message);
  }

  /** The scope of ad-hoc expressions: x: vector(n) and W: matrix(n,k). */
  private static Dsl.Scope scope() {
    return new Dsl.Scope()
        .add(new Expr.Var("x", Shape.vector(Dim.sym("n")), Expr.Role.INPUT))
        .add(new Expr.Var("W", Shape.matrix(Dim.sym("n"), Dim.sym("k")), Expr.Role.PARAM));
  }

  static Stream<Arguments> expressions() {
    return Stream.of(
        row("W*x", "-e:1:1: shape mismatch in '*': W is matrix(n,k) but x is vector(n); inner dimensions k and n differ"),
        row("x .* W'", "-e:1:1: shape mismatch in '.*': x is vector(n) but W' is matrix(k,n); shapes differ"),
        row("x + W*ones(k)*2 + ones(k)", "-e:1:1: shape mismatch in '+': x + W*ones(k)*2 is vector(n) but ones(k) is vector(k); shapes differ"),
        // known names by Levenshtein distance to 'xx', ties alphabetical: 1 x; 2 W k n
        row("x + xx", "-e:1:5: unknown name 'xx'; known names, closest first: x, W, k, n"),
        row("1e400*x", "-e:1:1: the number 1e400 is too large: a number literal must be a finite double, at most about 1.8e308"),
        row("x + 2.5e-400*x", "-e:1:5: the number 2.5e-400 is too small: it is not zero but rounds to 0 in double precision (the smallest "
            + "positive double is about 4.9e-324); write 0 if 0 is meant"),
        row("x.^1e309", "-e:1:4: the number 1e309 is too large: a number literal must be a finite double, at most about 1.8e308"),
        row("foo(x)", "-e:1:1: unknown function 'foo'; known functions, closest first: " + KNOWN_BY_DISTANCE_TO_FOO),
        row("tr(W, W)", "-e:1:1: tr expects 1 argument but got 2"),
        row("softmax(ones(n, k, k))", "-e:1:9: softmax expects a vector or a matrix (softmaxed column by column), but ones(n, k, k) is tensor(n,k,k)"),
        row("min(W, W, W)", "-e:1:1: min expects 2 arguments but got 3"),
        row("logsumexp_cols(ones(n, k, k))", "-e:1:16: logsumexp_cols expects a matrix, but ones(n, k, k) is tensor(n,k,k)"),
        row("x / W", "-e:1:5: '/' divides by a scalar, but W is matrix(n,k); use ./ for elementwise division"),
        row("", "-e:1:1: expected an expression but found end of input"),
        row("x +", "-e:1:4: expected an expression but found end of input"),
        row("x y", "-e:1:3: expected end of input but found name 'y'"),
        row("(x", "-e:1:3: expected ')' but found end of input"),
        row("x @ 2", "-e:1:3: unexpected character '@'"),
        row("sum(x,\n  )", "-e:2:3: expected an expression but found ')'"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("expressions")
  void expressionErrors(String input, String message) {
    assertDslError(() -> Dsl.parseExpression(input, scope(), "-e"), message);
  }

  /** Zero written as zero, and a tiny number that is still a (subnormal) double, are literals like any other. */
  @Test
  void zeroAndSubnormalLiteralsAreAccepted() {
    assertEquals(0.0, ((Expr.Num) Dsl.parseExpression("0e-400", scope(), "-e")).value());
    assertEquals(0.0, ((Expr.Num) Dsl.parseExpression("0.000e5", scope(), "-e")).value());
    assertEquals(1e-310, ((Expr.Num) Dsl.parseExpression("1e-310", scope(), "-e")).value());
    assertEquals(Double.MAX_VALUE, ((Expr.Num) Dsl.parseExpression("1.7976931348623157e308", scope(), "-e")).value());
  }

  static Stream<Arguments> types() {
    return Stream.of(
        row("vec(n)", "-t:1:1: expected a type (scalar, vector(n), matrix(m,n) or tensor(c,h,w)) but found name 'vec'"),
        row("", "-t:1:1: expected a type (scalar, vector(n), matrix(m,n) or tensor(c,h,w)) but found end of input"),
        row("matrix(n)", "-t:1:9: expected ',' but found ')'"),
        row("vector(n) x", "-t:1:11: expected end of input but found name 'x'"),
        row("vector(2.5)", "-t:1:8: a dimension must be a whole number, but found 2.5"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("types")
  void typeErrors(String input, String message) {
    assertDslError(() -> Dsl.parseType(input, "-t"), message);
  }

  @Test
  void theTableIsLargeEnough() {
    assertTrue(files().count() >= 30);
  }

  /** Every shipped spec parses and checks without an error. */
  @Test
  void validSpecsNeverError() throws IOException {
    List<Path> specs;
    try (Stream<Path> s = Files.list(Path.of("modules-spec"))) {
      specs = s.filter(p -> p.toString().endsWith(".hbp")).sorted().toList();
    }
    assertFalse(specs.isEmpty(), "no specs in modules-spec");
    for (Path p : specs) {
      Spec spec = Dsl.parseFile(p);
      assertFalse(spec.modules().isEmpty(), p + " declares no module");
    }
  }

  /** Valid ad-hoc expressions and types, including comments and line breaks, never error. */
  @Test
  void validInputNeverErrors() {
    Dsl.parseExpression("W'*x + /* a comment */ ones(k) // to the end\n", scope(), "-e");
    Dsl.parseExpression("sigmoid''(x) .* x ./ (1 + exp(-x)) - x.^-2", scope(), "-e");
    assertEquals(Shape.matrix(Dim.sym("m"), Dim.sym("n")), Dsl.parseType("matrix(m, n)", "-t"));
  }
}
