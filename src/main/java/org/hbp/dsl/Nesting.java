package org.hbp.dsl;

import java.util.ArrayDeque;
import java.util.List;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.tree.ParseTree;
import org.hbp.dsl.parser.HbpLexer;
import org.hbp.dsl.parser.HbpParser;

/**
 * The documented limit on how deeply DSL input may nest: {@value #MAX_DEPTH} levels. Parsing,
 * building, differentiating and generating code are recursive over the expression tree, so
 * input nested beyond any bound would exhaust the stack; it is refused up front with a positioned
 * error instead. A level is a parenthesis or call, a unary minus, a block ({@code residual {
 * ... }}), or one operator of a chain ({@code a .* b .* c} nests two levels, {@code x''} two).
 * Hand-written specs stay far below the limit (the deepest built-in expression nests 12 levels).
 */
final class Nesting {
  /** The deepest nesting hbp accepts in a spec or expression. */
  static final int MAX_DEPTH = 200;

  private Nesting() {}

  /**
   * Checks brackets and unary minus on the tokens, before the parser recurses into them: the
   * first token that opens a level past the limit is the error's position.
   */
  static void checkTokens(List<? extends Token> tokens, String source) {
    int depth = 0, minusRun = 0;
    Token previous = null;
    for (Token t : tokens) {
      int type = t.getType();
      switch (t.getText()) {
        case "(", "{" -> depth++;
        case ")", "}" -> depth = Math.max(0, depth - 1);
        default -> { }
      }
      boolean unaryMinus = "-".equals(t.getText()) && (previous == null || opensOperand(previous));
      minusRun = unaryMinus ? minusRun + 1 : 0;
      if (depth + minusRun > MAX_DEPTH) throw tooDeep(source, t);
      if (type != Token.EOF) previous = t;
    }
  }

  /** Checks the depth of the parse tree's expressions and blocks (operator chains included). */
  static void checkTree(ParserRuleContext root, String source) {
    ArrayDeque<ParseTree> nodes = new ArrayDeque<>();
    ArrayDeque<Integer> depths = new ArrayDeque<>();
    nodes.push(root);
    depths.push(0);
    while (!nodes.isEmpty()) {
      ParseTree node = nodes.pop();
      int depth = depths.pop();
      if (!(node instanceof ParserRuleContext ctx)) continue;
      int here = depth + (counts(ctx) ? 1 : 0);
      if (here > MAX_DEPTH) throw tooDeep(source, ctx.getStart());
      for (int i = ctx.getChildCount() - 1; i >= 0; i--) {
        nodes.push(ctx.getChild(i));
        depths.push(here);
      }
    }
  }

  private static boolean counts(ParserRuleContext ctx) {
    return ctx instanceof HbpParser.ExprContext || ctx instanceof HbpParser.LayerInstanceContext;
  }

  /** Whether a '-' after this token is a unary minus (it follows an operator or an opening). */
  private static boolean opensOperand(Token t) {
    return switch (t.getType()) {
      case HbpLexer.NUMBER, HbpLexer.ID, HbpLexer.QUOTE -> false;
      default -> !")".equals(t.getText());
    };
  }

  private static DslException tooDeep(String source, Token t) {
    return new DslException(source, t.getLine(), t.getCharPositionInLine() + 1,
        "nested more than " + MAX_DEPTH + " levels deep (parentheses, calls, unary minus, blocks and each "
            + "operator of a chain count as levels); hbp accepts at most " + MAX_DEPTH
            + ": split the expression into modules or elementwise functions");
  }
}
