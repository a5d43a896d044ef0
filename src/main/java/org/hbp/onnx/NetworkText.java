package org.hbp.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The DSL text of an {@link ImportedNetwork}: one statement per layer (a chain) or per value (the
 * graph form), each with a comment naming its ONNX node(s).
 */
public final class NetworkText {
  private NetworkText() {}

  /** {@code network <name> { input x: ...; <module>(<args>); ... loss <loss>; }} with a header comment naming the file. */
  public static String of(ImportedNetwork net) {
    StringBuilder s = new StringBuilder();
    s.append("// Imported from ").append(net.source()).append(" by hbp import; parameters: the ONNX file's initializers.\n");
    s.append("network ").append(net.name()).append(" {\n");
    s.append("  input x: ").append(type(net.inputShape())).append(";\n");
    if (net.isGraph()) {
      for (ImportedNetwork.Statement st : net.graph()) line(s, st.text(), st.origin());
      s.append("  loss ").append(net.loss()).append("(").append(net.output()).append(");\n");
    } else {
      for (ImportedNetwork.Layer l : net.layers()) line(s, l.module() + args(l.args()) + ";", l.origin());
      s.append("  loss ").append(net.loss()).append(";\n");
    }
    s.append("}\n");
    return s.toString();
  }

  /**
   * The ONNX node(s) behind line {@code line} of {@link #of}'s text (as its comment names them: {@code node 3
   * '/3/GlobalAveragePool' (GlobalAveragePool)}), or null for a line of no node (the header, the input, the loss).
   */
  public static String origin(ImportedNetwork net, int line) {
    int k = line - 4; // a comment, "network", the input, then one line per statement
    List<String> origins = net.isGraph() ? net.graph().stream().map(ImportedNetwork.Statement::origin).toList()
        : net.layers().stream().map(ImportedNetwork.Layer::origin).toList();
    return k >= 0 && k < origins.size() ? origins.get(k) : null;
  }

  /**
   * An error in the imported network's text ({@link #of}, parsed as {@code source}) told as the ONNX file's: the
   * file and the node the line maps, never a line of a text the user does not see; other errors unchanged.
   */
  public static org.hbp.UserError explained(ImportedNetwork net, String source, org.hbp.dsl.DslException e) {
    if (!e.source().equals(source)) return e;
    String node = origin(net, e.line());
    return new org.hbp.UserError(net.source() + ": " + (node == null ? "" : node + ": hbp's mapping of it does not fit: ") + e.detail());
  }

  private static void line(StringBuilder s, String statement, String origin) {
    s.append("  ").append(statement).append(" ".repeat(Math.max(1, 40 - statement.length()))).append("// ").append(origin).append('\n');
  }

  /** {@code (m = 4, k = 3)}, or nothing without arguments. */
  static String args(Map<String, Integer> args) {
    if (args.isEmpty()) return "";
    List<String> parts = new ArrayList<>();
    for (var e : args.entrySet()) parts.add(e.getKey() + " = " + e.getValue());
    return "(" + String.join(", ", parts) + ")";
  }

  /** {@code vector(n)}, {@code matrix(m, n)} or {@code tensor(c, h, w)}. */
  static String type(List<Integer> shape) {
    String kind = switch (shape.size()) {
      case 1 -> "vector";
      case 2 -> "matrix";
      default -> "tensor";
    };
    List<String> d = new ArrayList<>();
    for (int x : shape) d.add(String.valueOf(x));
    return kind + "(" + String.join(", ", d) + ")";
  }
}
