package org.hbp.dsl;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.DefaultErrorStrategy;
import org.antlr.v4.runtime.InputMismatchException;
import org.antlr.v4.runtime.NoViableAltException;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.misc.IntervalSet;
import org.hbp.dsl.parser.HbpLexer;
import org.hbp.dsl.parser.HbpParser;

/**
 * Runs the ANTLR parser with no error recovery: the first syntax error is thrown as a
 * {@link DslException} that says, in words, what was expected and what was found.
 */
final class Syntax {
  private Syntax() {}

  static <T extends ParserRuleContext> T parse(String text, String source, Function<HbpParser, T> entry) {
    HbpLexer lexer = new HbpLexer(CharStreams.fromString(text, source));
    lexer.removeErrorListeners();
    HbpParser parser = new HbpParser(new CommonTokenStream(lexer));
    parser.removeErrorListeners();
    parser.setErrorHandler(new NoRepair(source));
    parser.addErrorListener(new BaseErrorListener() {
      @Override
      public void syntaxError(Recognizer<?, ?> r, Object sym, int line, int col, String msg, RecognitionException e) {
        throw new DslException(source, line, col + 1, msg);
      }
    });
    return entry.apply(parser);
  }

  /** Reports the first error in words and never repairs the input. */
  private static final class NoRepair extends DefaultErrorStrategy {
    private final String source;

    NoRepair(String source) {
      this.source = source;
    }

    @Override
    public void recover(Parser recognizer, RecognitionException e) {
      throw fail(recognizer, e.getOffendingToken(), e instanceof NoViableAltException nv ? nv.getStartToken() : null,
          e.getExpectedTokens());
    }

    @Override
    public Token recoverInline(Parser recognizer) {
      throw fail(recognizer, recognizer.getCurrentToken(), null, recognizer.getExpectedTokens());
    }

    @Override
    public void reportError(Parser recognizer, RecognitionException e) {
      if (e instanceof InputMismatchException || e instanceof NoViableAltException) recover(recognizer, e);
      throw fail(recognizer, e.getOffendingToken(), null, e.getExpectedTokens());
    }

    @Override
    public void sync(Parser recognizer) {
      // no resynchronization: errors surface where they happen
      IntervalSet expecting = recognizer.getATN().nextTokens(recognizer.getInterpreter().atn.states.get(recognizer.getState()));
      Token t = recognizer.getCurrentToken();
      if (expecting.contains(t.getType()) || expecting.contains(Token.EPSILON)) return;
      throw fail(recognizer, t, null, expecting);
    }

    private DslException fail(Parser recognizer, Token found, Token start, IntervalSet expected) {
      String what = describeExpected(expected, recognizer);
      return new DslException(source, found.getLine(), found.getCharPositionInLine() + 1,
          "expected " + what + " but found " + describe(found));
    }
  }

  static String describe(Token t) {
    if (t.getType() == Token.EOF) return "end of input";
    if (t.getType() == HbpLexer.UNEXPECTED_CHAR) return "unexpected character '" + t.getText() + "'";
    if (t.getType() == HbpLexer.ID) return "name '" + t.getText() + "'";
    if (t.getType() == HbpLexer.NUMBER) return "number " + t.getText();
    return "'" + t.getText() + "'";
  }


  static String describeExpected(IntervalSet set, Parser p) {
    List<String> words = new ArrayList<>();
    boolean expression = set.contains(HbpLexer.ID) && set.contains(HbpLexer.NUMBER);
    if (expression) words.add("an expression");
    else if (set.contains(HbpLexer.ID)) words.add("a name");
    else if (set.contains(HbpLexer.NUMBER)) words.add("a number");
    for (int type : set.toList()) {
      if (type == HbpLexer.ID || type == HbpLexer.NUMBER) continue;
      String lit = p.getVocabulary().getLiteralName(type);
      if (expression && (("'('").equals(lit) || "'-'".equals(lit))) continue;
      if (type == Token.EOF) words.add("end of input");
      else if (type == HbpLexer.QUOTE) words.add("'''");
      else if (lit != null) words.add(lit);
      else words.add(p.getVocabulary().getDisplayName(type));
    }
    if (words.isEmpty()) return "something else";
    if (words.size() == 1) return words.get(0);
    if (words.size() > 6) return String.join(", ", words.subList(0, 6)) + " or another token";
    return String.join(", ", words.subList(0, words.size() - 1)) + " or " + words.get(words.size() - 1);
  }
}
