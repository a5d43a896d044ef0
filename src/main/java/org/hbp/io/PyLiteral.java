package org.hbp.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the small subset of Python literal syntax used in {@code .npy} headers, e.g.
 * {@code {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }}.
 *
 * <p>Supported: dicts, tuples, lists, single- or double-quoted strings, integers (with an optional
 * Python 2 {@code L} suffix), {@code True}, {@code False} and {@code None}. Values map to
 * {@link Map} (insertion-ordered), {@link Tuple}, {@link List}, {@link String}, {@link Long},
 * {@link Boolean} and {@link #NONE}.
 *
 * <p>Containers may nest at most {@value #MAX_DEPTH} deep (a {@code .npy} header nests two or
 * three); deeper input is a {@link SyntaxError}, never a {@link StackOverflowError}.
 */
final class PyLiteral {
    /** A Python tuple (kept apart from lists so that {@code shape} can insist on a tuple). */
    record Tuple(List<Object> items) { }

    /** Python's {@code None}. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** A syntax error; the message says what was expected and where. */
    static final class SyntaxError extends Exception {
        private static final long serialVersionUID = 1L;

        SyntaxError(String message) {
            super(message);
        }
    }

    /** The deepest nesting of dicts, tuples and lists accepted. */
    static final int MAX_DEPTH = 64;

    private final String s;
    private int pos;
    private int depth;

    private PyLiteral(String s) {
        this.s = s;
    }

    /** Parses a single literal, allowing surrounding whitespace. */
    static Object parse(String text) throws SyntaxError {
        PyLiteral p = new PyLiteral(text);
        Object v = p.value();
        p.skipSpace();
        if (p.pos != text.length()) {
            throw p.error("end of header");
        }
        return v;
    }

    /** Python-style {@code repr} of a parsed value, for error messages. */
    static String repr(Object v) {
        if (v instanceof String str) {
            return "'" + str.replace("\\", "\\\\").replace("'", "\\'") + "'";
        } else if (v instanceof Boolean b) {
            return b ? "True" : "False";
        } else if (v instanceof Tuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.items().size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(repr(t.items().get(i)));
            }
            return sb.append(t.items().size() == 1 ? ",)" : ")").toString();
        } else if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(repr(l.get(i)));
            }
            return sb.append("]").toString();
        } else if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return sb.append("}").toString();
        }
        return String.valueOf(v);
    }

    // ------------------------------------------------------------------ grammar

    private Object value() throws SyntaxError {
        skipSpace();
        if (pos >= s.length()) {
            throw error("a value");
        }
        char c = s.charAt(pos);
        if (c == '{' || c == '(' || c == '[') {
            if (depth == MAX_DEPTH) {
                throw error("at most " + MAX_DEPTH + " nested brackets");
            }
            depth++;
            Object container = c == '{' ? dict() : c == '(' ? tupleOrParenthesized() : new ArrayList<>(list());
            depth--;
            return container;
        }
        switch (c) {
            case '\'':
            case '"':
                return string();
            default:
                if (c == '-' || c == '+' || Character.isDigit(c)) {
                    return integer();
                }
                if (Character.isLetter(c)) {
                    return keyword();
                }
                throw error("a value");
        }
    }

    private Map<Object, Object> dict() throws SyntaxError {
        pos++; // '{'
        Map<Object, Object> m = new LinkedHashMap<>();
        while (true) {
            skipSpace();
            if (peek('}')) {
                pos++;
                return m;
            }
            int keyPos = pos;
            Object key = value();
            if (key instanceof Map || key instanceof List) {
                pos = keyPos;
                throw error("a hashable dict key");
            }
            skipSpace();
            expect(':');
            Object val = value();
            if (m.containsKey(key)) {
                pos = keyPos;
                throw error("no duplicate key " + repr(key));
            }
            m.put(key, val);
            skipSpace();
            if (peek(',')) {
                pos++;
            } else if (!peek('}')) {
                throw error("',' or '}'");
            }
        }
    }

    private Object tupleOrParenthesized() throws SyntaxError {
        pos++; // '('
        skipSpace();
        if (peek(')')) {
            pos++;
            return new Tuple(List.of());
        }
        Object first = value();
        skipSpace();
        if (peek(')')) { // "(x)" is just x in Python
            pos++;
            return first;
        }
        expect(',');
        List<Object> rest = items(')');
        List<Object> all = new ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return new Tuple(List.copyOf(all));
    }

    private List<Object> list() throws SyntaxError {
        pos++; // '['
        return items(']');
    }

    /** Comma-separated values up to {@code close}, optional trailing comma; consumes {@code close}. */
    private List<Object> items(char close) throws SyntaxError {
        List<Object> out = new ArrayList<>();
        while (true) {
            skipSpace();
            if (peek(close)) {
                pos++;
                return out;
            }
            out.add(value());
            skipSpace();
            if (peek(',')) {
                pos++;
            } else if (!peek(close)) {
                throw error("',' or '" + close + "'");
            }
        }
    }

    private String string() throws SyntaxError {
        int start = pos;
        char quote = s.charAt(pos++);
        StringBuilder sb = new StringBuilder();
        while (pos < s.length()) {
            char c = s.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c == '\\' && pos < s.length()) {
                char e = s.charAt(pos++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case '\\', '\'', '"' -> sb.append(e);
                    default -> sb.append('\\').append(e);
                }
            } else {
                sb.append(c);
            }
        }
        pos = start;
        throw error("a closing " + quote + " for the string starting");
    }

    private Long integer() throws SyntaxError {
        int start = pos;
        if (peek('-') || peek('+')) {
            pos++;
        }
        int digits = pos;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
            pos++;
        }
        if (pos == digits) {
            pos = start;
            throw error("an integer");
        }
        String text = s.substring(start, pos);
        if (peek('L') || peek('l')) {
            pos++;
        }
        if (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '.')) {
            pos = start;
            throw error("an integer (floats and other numbers are not allowed)");
        }
        try {
            return Long.parseLong(text.startsWith("+") ? text.substring(1) : text);
        } catch (NumberFormatException e) {
            pos = start;
            throw error("an integer that fits in 64 bits");
        }
    }

    private Object keyword() throws SyntaxError {
        int start = pos;
        while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) {
            pos++;
        }
        String word = s.substring(start, pos);
        switch (word) {
            case "True":
                return Boolean.TRUE;
            case "False":
                return Boolean.FALSE;
            case "None":
                return NONE;
            default:
                pos = start;
                throw error("a value (True, False, None, a number, a string, a tuple, a list or a dict), not '" + word + "'");
        }
    }

    // ------------------------------------------------------------------ lexing

    private void skipSpace() {
        while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
            pos++;
        }
    }

    private boolean peek(char c) {
        return pos < s.length() && s.charAt(pos) == c;
    }

    private void expect(char c) throws SyntaxError {
        if (!peek(c)) {
            throw error("'" + c + "'");
        }
        pos++;
    }

    private SyntaxError error(String expected) {
        String found = pos >= s.length() ? "end of header" : "'" + s.charAt(pos) + "'";
        return new SyntaxError("expected " + expected + " at offset " + pos + ", found " + found);
    }
}
