package org.hbp.dsl;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.BufferedTokenStream;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.DefaultErrorStrategy;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.TokenStream;
import org.antlr.v4.runtime.misc.IntervalSet;
import org.antlr.v4.runtime.tree.ParseTree;
import org.antlr.v4.runtime.tree.TerminalNode;
import org.hbp.dsl.parser.HbpLexer;
import org.hbp.dsl.parser.HbpParser;

/**
 * Runs the ANTLR parser with no error recovery: the first syntax error is thrown as a
 * {@link DslException} at the offending token that says, in words, what was expected and what
 * was found, for example {@code spec.hbp:3:14: expected ';' but found name 'x'}. Long sets of
 * expected tokens are named by category ("an expression", "a type (...)", "a module item (...)").
 */
final class Syntax {
  private Syntax() {}

  static <T extends ParserRuleContext> T parse(String text, String source, Function<HbpParser, T> entry) {
    HbpLexer lexer = new HbpLexer(CharStreams.fromString(text, source));
    lexer.removeErrorListeners(); // the lexer cannot fail: any other character is an UNEXPECTED_CHAR token
    CommonTokenStream tokens = new CommonTokenStream(lexer);
    tokens.fill();
    Nesting.checkTokens(tokens.getTokens(), source);
    HbpParser parser = new HbpParser(tokens);
    parser.removeErrorListeners();
    parser.setErrorHandler(new NoRepair(source));
    parser.addErrorListener(new BaseErrorListener() {
      @Override
      public void syntaxError(Recognizer<?, ?> r, Object sym, int line, int col, String msg, RecognitionException e) {
        // not reached: NoRepair throws before ANTLR reports anything; kept so nothing is ever ignored
        throw new DslException(source, line, col + 1, msg);
      }
    });
    T tree = entry.apply(parser);
    Nesting.checkTree(tree, source);
    return tree;
  }

  /** Reports the first error in words and never repairs the input. */
  private static final class NoRepair extends DefaultErrorStrategy {
    private final String source;

    NoRepair(String source) {
      this.source = source;
    }

    @Override
    public void recover(Parser recognizer, RecognitionException e) {
      throw fail(recognizer, e.getOffendingToken() != null ? e.getOffendingToken() : recognizer.getCurrentToken(),
          e.getExpectedTokens());
    }

    @Override
    public Token recoverInline(Parser recognizer) {
      throw fail(recognizer, recognizer.getCurrentToken(), recognizer.getExpectedTokens());
    }

    @Override
    public void reportError(Parser recognizer, RecognitionException e) {
      recover(recognizer, e);
    }

    @Override
    public void sync(Parser recognizer) {
      // no resynchronization: errors surface where they happen
      IntervalSet expecting = recognizer.getATN().nextTokens(recognizer.getInterpreter().atn.states.get(recognizer.getState()));
      Token t = recognizer.getCurrentToken();
      if (expecting.contains(t.getType()) || expecting.contains(Token.EPSILON)) return;
      throw fail(recognizer, t, expecting);
    }

    private DslException fail(Parser recognizer, Token found, IntervalSet expected) {
      if (found.getType() == HbpLexer.UNEXPECTED_CHAR) return at(found, "unexpected character " + character(found.getText()));
      Token comment = unterminatedComment(recognizer.getInputStream(), found);
      if (comment != null) return at(comment, "unterminated comment: '/*' has no closing '*/'");
      String close = unclosedBrace(recognizer, found, expected);
      if (close != null) return at(found, close);
      if (afterPowerOperator(recognizer.getInputStream()))
        return at(found, "the exponent of '.^' must be a number (x.^2, x.^-0.5) but found " + describe(found)
            + "; for a variable exponent a of a positive x write exp(a*log(x))");
      return at(found, "expected " + describeExpected(expected, recognizer) + " but found " + describe(found));
    }

    /** Whether the tokens just read are {@code .^} or {@code .^ -}: only a number may follow. */
    private static boolean afterPowerOperator(TokenStream tokens) {
      Token last = tokens.LT(-1);
      if (last == null) return false;
      if (last.getText().equals(".^")) return true;
      Token before = tokens.LT(-2);
      return last.getText().equals("-") && before != null && before.getText().equals(".^");
    }

    private DslException at(Token t, String detail) {
      return new DslException(source, t.getLine(), t.getCharPositionInLine() + 1, detail);
    }
  }

  /**
   * '/' directly followed by '*' is always an unterminated block comment: a terminated one is
   * lexed as a comment (longest match). The parser stops at the '/' or at the '*'.
   */
  private static Token unterminatedComment(TokenStream tokens, Token found) {
    int i = found.getTokenIndex();
    if (i < 0) return null;
    if (tokens instanceof BufferedTokenStream b) b.fill(); // the parse stops here: reading on is harmless
    Token slash = null, star = null;
    if ("/".equals(found.getText()) && i + 1 < tokens.size()) {
      slash = found;
      star = tokens.get(i + 1);
    } else if ("*".equals(found.getText()) && i > 0) {
      slash = tokens.get(i - 1);
      star = found;
    }
    if (slash == null || !"/".equals(slash.getText()) || !"*".equals(star.getText())) return null;
    return star.getStartIndex() == slash.getStopIndex() + 1 ? slash : null;
  }

  /**
   * At the end of input, or at the start of the next declaration, inside a module, a block of
   * derivatives, a network or a block of layers: names the innermost brace that is not closed.
   */
  private static String unclosedBrace(Parser p, Token found, IntervalSet expected) {
    int type = found.getType();
    if (!expected.contains(type("'}'")) || !(type == Token.EOF || type == HbpLexer.MODULE || type == HbpLexer.LOSS
        || type == HbpLexer.ELEMENTWISE || type == HbpLexer.NETWORK)) return null;
    for (ParserRuleContext c = p.getContext(); c != null; c = c.getParent()) {
      String what;
      if (c instanceof HbpParser.ModuleDeclContext m) what = m.kind.getText() + " '" + m.name.getText() + "'";
      else if (c instanceof HbpParser.ElementwiseDeclContext e) what = "elementwise '" + e.name.getText() + "'";
      else if (c instanceof HbpParser.NetworkDeclContext n) what = "network '" + n.name.getText() + "'";
      else if (c instanceof HbpParser.LayerInstanceContext b && b.open != null) what = b.name.getText() + " block";
      else continue;
      Token open = null;
      for (ParseTree child : c.children == null ? List.<ParseTree>of() : c.children) {
        if (child instanceof TerminalNode n && "{".equals(n.getText())) open = n.getSymbol();
      }
      if (open == null) return null;
      return "expected '}' to close " + what + " (opened at " + open.getLine() + ":" + (open.getCharPositionInLine() + 1)
          + ") but found " + describe(found);
    }
    return null;
  }

  /** A found token in words: end of input, name 'x', number 2.5, keyword 'module', ';'. */
  static String describe(Token t) {
    int type = t.getType();
    if (type == Token.EOF) return "end of input";
    if (type == HbpLexer.UNEXPECTED_CHAR) return "unexpected character " + character(t.getText());
    if (type == HbpLexer.ID) return "name '" + t.getText() + "'";
    if (type == HbpLexer.NUMBER) return "number " + t.getText();
    if (type == HbpLexer.QUOTE) return "\"'\"";
    if (KEYWORDS.contains(type)) return "keyword '" + t.getText() + "'";
    return "'" + t.getText() + "'";
  }

  /** A character in quotes, with its code point where it is not plain ASCII; an invisible one by code point only. */
  private static String character(String s) {
    int cp = s.codePointAt(0);
    String code = String.format("U+%04X", cp);
    if (cp > 0x20 && cp < 0x7f) return "'" + s + "'";
    int kind = Character.getType(cp);
    if (Character.isISOControl(cp) || Character.isWhitespace(cp) || Character.isSpaceChar(cp) || kind == Character.FORMAT
        || kind == Character.UNASSIGNED || kind == Character.PRIVATE_USE || kind == Character.SURROGATE) return code;
    return "'" + s + "' (" + code + ")";
  }

  private static final Set<Integer> KEYWORDS = Set.of(HbpLexer.ELEMENTWISE, HbpLexer.MODULE, HbpLexer.LOSS, HbpLexer.NETWORK,
      HbpLexer.DIMS, HbpLexer.INPUT, HbpLexer.PARAM, HbpLexer.DATA, HbpLexer.INDEX, HbpLexer.TARGET, HbpLexer.ASSUME,
      HbpLexer.LET, HbpLexer.OUTPUT, HbpLexer.SCALAR, HbpLexer.VECTOR, HbpLexer.MATRIX, HbpLexer.TENSOR);
  private static final Set<Integer> DECLARATIONS = Set.of(HbpLexer.MODULE, HbpLexer.LOSS, HbpLexer.ELEMENTWISE, HbpLexer.NETWORK);
  private static final Set<Integer> LAYER_ITEMS = Set.of(HbpLexer.INPUT, HbpLexer.LOSS, HbpLexer.ID);
  private static final Set<Integer> ITEMS = Set.of(HbpLexer.DIMS, HbpLexer.INPUT, HbpLexer.PARAM, HbpLexer.DATA,
      HbpLexer.INDEX, HbpLexer.TARGET, HbpLexer.LET, HbpLexer.ASSUME, HbpLexer.OUTPUT);
  private static final Set<Integer> TYPES = Set.of(HbpLexer.SCALAR, HbpLexer.VECTOR, HbpLexer.MATRIX, HbpLexer.TENSOR);

  /** The token type of a literal such as {@code "'}'"}. */
  private static int type(String literal) {
    for (int t = 1; t <= HbpLexer.VOCABULARY.getMaxTokenType(); t++) {
      if (literal.equals(HbpLexer.VOCABULARY.getLiteralName(t))) return t;
    }
    throw new IllegalArgumentException("no token " + literal);
  }

  /** The expected tokens in words, by category where there are many. */
  static String describeExpected(IntervalSet set, Parser p) {
    Set<Integer> rest = new LinkedHashSet<>(set.toList());
    rest.remove(Token.EPSILON);
    // after a variable's type: '= PRIMITIVE(...)' is for index maps only (the builder says so)
    if (p.getContext() instanceof HbpParser.VarItemContext v && v.role != null && v.role.getType() != HbpLexer.INDEX)
      rest.remove(type("'='"));
    // after a layer's name: '= ...' starts a graph statement; a sequential layer's error reads better without it
    if (p.getContext() instanceof HbpParser.LayerInstanceContext) rest.remove(type("'='"));
    List<String> words = new ArrayList<>();
    if (rest.containsAll(DECLARATIONS)) {
      words.add("a declaration (module, loss, elementwise or network)");
      rest.removeAll(DECLARATIONS);
      rest.remove(Token.EOF);
    }
    if (rest.containsAll(LAYER_ITEMS)) {
      words.add("a network item (input, a module, residual { ... } or loss)");
      rest.removeAll(LAYER_ITEMS);
    }
    if (rest.containsAll(ITEMS)) {
      words.add("a module item (dims, input, param, data, index, target, let, assume or output)");
      rest.removeAll(ITEMS);
    }
    if (rest.containsAll(TYPES)) {
      words.add("a type (scalar, vector(n), matrix(m,n) or tensor(c,h,w))");
      rest.removeAll(TYPES);
    }
    if (rest.contains(HbpLexer.ID) && rest.contains(HbpLexer.NUMBER)) {
      words.add("an expression");
      rest.removeAll(List.of(HbpLexer.ID, HbpLexer.NUMBER, type("'('"), type("'-'")));
    } else if (rest.contains(HbpLexer.ID) && p.getContext() instanceof HbpParser.VarItemContext && rest.contains(type("';'"))) {
      // after a variable's type: its end, or its domain (a name); what was found is not a name, so
      // the ';' is what is missing
      words.add("';'");
      rest.removeAll(List.of(HbpLexer.ID, type("';'")));
    } else if (rest.contains(HbpLexer.ID)) {
      boolean derivatives = p.getContext() instanceof HbpParser.ElementwiseDeclContext && rest.contains(type("'}'"));
      words.add(derivatives ? "a derivative (d1 = ... or d2 = ...)" : "a name");
      rest.remove(HbpLexer.ID);
    } else if (rest.contains(HbpLexer.NUMBER)) {
      words.add("a number");
      rest.removeAll(List.of(HbpLexer.NUMBER, type("'-'")));
    }
    boolean end = rest.remove(Token.EOF);
    if (rest.remove(type("','"))) words.add("','"); // "',' or ')'" reads better than "')' or ','"
    for (int type : rest) {
      if (type == HbpLexer.QUOTE) words.add("\"'\"");
      else if (KEYWORDS.contains(type)) words.add("keyword " + p.getVocabulary().getLiteralName(type));
      else if (p.getVocabulary().getLiteralName(type) != null) words.add(p.getVocabulary().getLiteralName(type));
      else words.add(p.getVocabulary().getDisplayName(type));
    }
    if (end) words.add("end of input");
    if (words.isEmpty()) return "nothing more";
    if (words.size() == 1) return words.get(0);
    return String.join(", ", words.subList(0, words.size() - 1)) + " or " + words.get(words.size() - 1);
  }
}
