package org.hbp.codegen.program;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.codegen.program.Program.Statement;
import org.hbp.codegen.program.Value.ItemShape;
import org.junit.jupiter.api.Test;

/** The passes over kernel programs, each on a small program built by hand, with what must not change beside what must. */
class PassesTest {
  private static final Dim N = Dim.sym("n"), M = Dim.sym("m"), COUT = Dim.sym("cout");
  /** 2 channels of 5 x 5, 3 x 3 kernels, stride 1, no padding: 9 patches of 18 rows. */
  private static final Expr.ConvDims G = new Expr.ConvDims(Dim.of(2), Dim.of(5), Dim.of(5), Dim.of(3), Dim.of(1), Dim.of(0), Dim.of(1));

  private int next;

  private Value add(Program p, Op op) {
    return p.add("t" + next++, op, null);
  }

  private static List<Op> ops(Program p) {
    return p.statements().stream().map(Statement::op).toList();
  }

  @Test
  void zeroTermsGo() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value zero = add(p, new Op.Fill(N, Dim.ONE, 0.0));
    Value sum = add(p, new Op.Add(x, zero));
    Value difference = add(p, new Op.Subtract(sum, zero));
    Value r = add(p, new Op.Scale(difference, 2.0));
    p.escape(r);
    Passes.optimize(p);
    assertEquals(List.of(new Op.Scale(x, 2.0)), ops(p), "x + 0 - 0 is x, and the zero is never filled");
  }

  @Test
  void aZeroMinuedOrANonZeroFillStays() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value zero = add(p, new Op.Fill(N, Dim.ONE, 0.0));
    Value one = add(p, new Op.Fill(N, Dim.ONE, 1.0));
    Value negated = add(p, new Op.Subtract(zero, x)); // -x, not x
    Value shifted = add(p, new Op.Add(negated, one));
    p.escape(shifted);
    Passes.optimize(p);
    assertEquals(4, p.statements().size(), "0 - x and x + 1 keep their kernels: " + ops(p));
  }

  @Test
  void identityReshapesGoAndReshapesOfReshapesAreOne() {
    Program p = new Program();
    Value x = p.input("v", new ItemShape(M, N));
    Value column = add(p, new Op.Reshape(x, M.times(N), Dim.ONE));
    Value same = add(p, new Op.Reshape(column, M.times(N), Dim.ONE));
    Value back = add(p, new Op.Reshape(same, N, M));
    Value r = add(p, new Op.Transpose(back));
    p.escape(r);
    Passes.optimize(p);
    assertEquals(2, p.statements().size(), ops(p).toString());
    Op.Reshape reshape = assertInstanceOf(Op.Reshape.class, ops(p).get(0));
    assertSame(x, reshape.a(), "one reshape, of the input");
    assertEquals(new ItemShape(N, M), reshape.shape());
    assertSame(p.statements().get(0).out(), ((Op.Transpose) ops(p).get(1)).a());
  }

  @Test
  void anEscapingIdentityReshapeHandsItsNameToItsInput() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value scaled = add(p, new Op.Scale(x, 3.0));
    Value r = add(p, new Op.Reshape(scaled, N, Dim.ONE));
    p.escape(r);
    Passes.optimize(p);
    assertEquals(List.of(new Op.Scale(x, 3.0)), ops(p));
    assertEquals(r.name(), p.statements().get(0).out().name(), "the caller knows the result by its name");
    assertTrue(p.escapes(p.statements().get(0).out()));
  }

  @Test
  void anEscapingIdentityReshapeOfAnInputStays() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value r = add(p, new Op.Reshape(x, N, Dim.ONE));
    p.escape(r);
    Passes.optimize(p);
    assertEquals(List.of(new Op.Reshape(x, N, Dim.ONE)), ops(p), "an input's name is the caller's: it cannot become the result's");
  }

  @Test
  void anEscapingIdentityReshapeOfALeafStays() {
    Program p = new Program();
    Value leaf = p.add("cache.get(\"x\")", new Op.Leaf(new Expr.Var("x", Shape.vector(N), Expr.Role.INPUT), false, ItemShape.column(N)), null);
    Value r = add(p, new Op.Reshape(leaf, N, Dim.ONE));
    p.escape(r);
    Passes.optimize(p);
    assertEquals("cache.get(\"x\")", leaf.name(), "a leaf is named by its reference");
    assertTrue(ops(p).contains(new Op.Reshape(leaf, N, Dim.ONE)), ops(p).toString());
  }

  @Test
  void aValueNamedInAPartsCallIsNeitherMergedNorRenamed() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value t1 = add(p, new Op.Transpose(x));
    Value t2 = add(p, new Op.Transpose(x)); // equal to t1, but a part's call names it
    Value part = add(p, new Op.Part(new Expr.Var("y", Shape.vector(N), Expr.Role.INPUT), t2, 0,
        ItemShape.column(N)));
    p.escape(add(p, new Op.Add(t1, part)));
    Passes.optimize(p);
    p.renumber("t", java.util.Set.of());
    assertEquals(2, ops(p).stream().filter(o -> o instanceof Op.Transpose).count(), ops(p).toString());
    assertEquals("t1", t2.name());
  }

  /** conv(W, X) + b*ones(P)' as lowering builds it: the bias outer product is formed, then added. */
  private Value convolutionPlusBias(Program p, Value w, Value x, Value b, boolean onesTransposed) {
    Value conv = add(p, new Op.Convolution(w, x, G, null));
    Value ones = add(p, onesTransposed ? new Op.Fill(G.patches(), Dim.ONE, 1.0) : new Op.Fill(Dim.ONE, G.patches(), 1.0));
    Value outer = add(p, new Op.MatMul(b, false, ones, onesTransposed));
    return add(p, new Op.Add(conv, outer));
  }

  @Test
  void aBiasIsFusedIntoItsConvolution() {
    for (boolean transposed : new boolean[] {true, false}) {
      Program p = new Program();
      Value w = p.input("W", new ItemShape(COUT, G.patchRows())), x = p.input("X", new ItemShape(G.c(), G.h().times(G.w())));
      Value b = p.input("b", ItemShape.column(COUT));
      Value z = convolutionPlusBias(p, w, x, b, transposed);
      p.escape(z);
      Passes.optimize(p);
      assertEquals(List.of(new Op.Convolution(w, x, G, b)), ops(p), "b*ones' never formed (ones transposed: " + transposed + ")");
      assertSame(z, p.statements().get(0).out(), "the sum's value holds the fused convolution");
    }
  }

  @Test
  void aConvolutionUsedElsewhereOrANonBiasTermIsNotFused() {
    Program p = new Program();
    Value w = p.input("W", new ItemShape(COUT, G.patchRows())), x = p.input("X", new ItemShape(G.c(), G.h().times(G.w())));
    Value b = p.input("b", ItemShape.column(COUT));
    Value z = convolutionPlusBias(p, w, x, b, true);
    Value conv = p.statements().get(0).out();
    Value again = add(p, new Op.Scale(conv, 2.0)); // the convolution without the bias is needed too
    p.escape(z);
    p.escape(again);
    Passes.optimize(p);
    assertTrue(ops(p).contains(new Op.Convolution(w, x, G, null)), ops(p).toString());
    assertTrue(ops(p).stream().noneMatch(o -> o instanceof Op.Convolution c && c.bias() != null), "no biased convolution: " + ops(p));
    Value ones = p.statements().get(1).out();
    assertTrue(ops(p).contains(new Op.MatMulAdd(b, false, ones, true, conv)), "the bias's outer product accumulated onto it: " + ops(p));

    Program q = new Program();
    Value w2 = q.input("W", new ItemShape(COUT, G.patchRows())), x2 = q.input("X", new ItemShape(G.c(), G.h().times(G.w())));
    Value c = q.input("c", new ItemShape(COUT, G.patches())); // a full term, not b*ones'
    Value conv2 = add(q, new Op.Convolution(w2, x2, G, null));
    q.escape(add(q, new Op.Add(conv2, c)));
    Passes.optimize(q);
    assertEquals(List.of(new Op.Convolution(w2, x2, G, null), new Op.Add(conv2, c)), ops(q));
  }

  @Test
  void aProductAndItsTermAreOneMatmulAdd() {
    Program p = new Program();
    Value w = p.input("W", new ItemShape(M, N)), x = p.input("x", ItemShape.column(N)), b = p.input("b", ItemShape.column(M));
    Value product = add(p, new Op.MatMul(w, false, x, false));
    Value z = add(p, new Op.Add(b, product));
    p.escape(z);
    Passes.optimize(p);
    assertEquals(List.of(new Op.MatMulAdd(w, false, x, false, b)), ops(p));

    Program q = new Program();
    Value w2 = q.input("W", new ItemShape(M, N)), x2 = q.input("x", ItemShape.column(N)), b2 = q.input("b", ItemShape.column(M));
    Value product2 = add(q, new Op.MatMul(w2, false, x2, false));
    q.escape(add(q, new Op.Subtract(product2, b2)));
    Passes.optimize(q);
    assertEquals(2, q.statements().size(), "a difference is no matmulAdd: " + ops(q));
  }

  @Test
  void commonSubexpressionsAreComputedOnce() {
    Program p = new Program();
    Value x = p.input("v", new ItemShape(M, N));
    Value t1 = add(p, new Op.Transpose(x));
    Value t2 = add(p, new Op.Transpose(x));
    Value s1 = add(p, new Op.Scale(t1, 2.0));
    Value s2 = add(p, new Op.Scale(t2, 2.0)); // equal once t2 is t1
    Value s3 = add(p, new Op.Scale(t2, 3.0)); // a different coefficient
    Value r = add(p, new Op.Add(add(p, new Op.Add(s1, s2)), s3));
    p.escape(r);
    Passes.optimize(p);
    List<Op> ops = ops(p);
    assertEquals(1, ops.stream().filter(o -> o instanceof Op.Transpose).count(), ops.toString());
    assertEquals(List.of(new Op.Scale(t1, 2.0), new Op.Scale(t1, 3.0)), ops.stream().filter(o -> o instanceof Op.Scale).toList());
    assertTrue(ops.contains(new Op.Add(s1, s1)), "2 t + 2 t from one product: " + ops);
  }

  @Test
  void deadStatementsGo() {
    Program p = new Program();
    Value x = p.input("v", ItemShape.column(N));
    Value unused = add(p, new Op.Scale(x, 5.0));
    add(p, new Op.Transpose(unused)); // used by nothing either
    Value r = add(p, new Op.Power(x, 2.0));
    p.escape(r);
    Passes.deadOps(p);
    assertEquals(List.of(new Op.Power(x, 2.0)), ops(p));
  }

  @Test
  void releasedAreExactlyTheOwnedValuesThatDoNotEscape() {
    Program p = new Program();
    Value x = p.input("v", new ItemShape(M, N));
    Value leaf = p.add("cache.get(\"x\")", new Op.Leaf(new Expr.Var("x", Shape.matrix(M, N), Expr.Role.INPUT), false,
        new ItemShape(M, N)), null);
    Value memo = add(p, new Op.Memo(new Expr.Var("y", Shape.matrix(M, N), Expr.Role.INPUT), 0, new ItemShape(M, N)));
    Value a = add(p, new Op.Transpose(x)); // owned, a temporary
    Value b = add(p, new Op.Add(leaf, memo)); // owned, viewed by the result
    Value view = add(p, new Op.Reshape(b, N, M)); // a view of b
    Value c = add(p, new Op.Multiply(view, a)); // owned, a temporary
    Value result = add(p, new Op.Reshape(c, M.times(N), Dim.ONE));
    Value other = add(p, new Op.ColumnsAsDirections(b)); // a second result: keeps b
    p.escape(result);
    p.escape(other);
    assertEquals(Value.Ownership.VIEW, view.ownership());
    assertSame(b, view.root());
    assertEquals(List.of(a), Passes.releases(p), "c is viewed by a result, b by the other; leaves, memos and inputs are not this method's");
  }

  @Test
  void renumberingClosesGapsAndKeepsTheCallersNames() {
    Program p = new Program();
    Value x = p.input("t0", ItemShape.column(N));
    Value a = p.add("t5", new Op.Scale(x, 2.0), null);
    Value b = p.add("t1", new Op.Scale(a, 3.0), null);
    Value r = p.add("t9", new Op.Scale(b, 4.0), null);
    p.escape(r);
    p.renumber("t", java.util.Set.of("t2"));
    assertEquals(List.of("t0", "t1", "t3", "t9"), List.of(x.name(), a.name(), b.name(), r.name()));
  }
}
