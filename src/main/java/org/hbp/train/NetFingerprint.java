package org.hbp.train;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.hbp.calculus.ElementwiseFunction;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Exprs;
import org.hbp.calculus.Printer;
import org.hbp.dsl.ModuleSpec;
import org.hbp.network.NetworkSpec;

/**
 * What a network computes, as text and as its SHA-256: the input shape; per node, in order, the
 * module's name, bound dims and output expression (with the bodies of user-defined elementwise
 * functions), and residual blocks; then the loss. Two nets with the same shapes but another
 * function (tanh for sigmoid) differ; the file's path, the network's name and line numbers do not
 * enter.
 */
public final class NetFingerprint {
  private NetFingerprint() {}

  /** The canonical text, one line per node. */
  public static String text(NetworkSpec net) {
    StringBuilder sb = new StringBuilder("input ").append(net.inputShape()).append('\n');
    nodes(net.body(), "", sb);
    if (net.isGraph()) graph(net.graph(), sb);
    sb.append("loss ");
    layer(net.loss(), sb);
    return sb.toString();
  }

  /** SHA-256 of {@link #text}, in hex. */
  public static String sha256(NetworkSpec net) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(text(net).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static void nodes(List<NetworkSpec.Node> nodes, String prefix, StringBuilder sb) {
    for (int i = 0; i < nodes.size(); i++) {
      NetworkSpec.Node n = nodes.get(i);
      sb.append(prefix).append(i).append(' ');
      if (n instanceof NetworkSpec.Layer l) layer(l, sb);
      else {
        sb.append("residual\n");
        nodes(((NetworkSpec.Residual) n).body(), prefix + i + ".", sb);
      }
    }
  }

  /** A graph network's steps: value = instance(input) with the layer, or value = op(inputs); value names enter (they name parameters). */
  private static void graph(NetworkSpec.Graph g, StringBuilder sb) {
    sb.append("graph ").append(g.input()).append(" -> ").append(g.output()).append('\n');
    for (NetworkSpec.Step s : g.steps()) {
      if (s instanceof NetworkSpec.Apply a) {
        sb.append(a.value()).append(" = ").append(a.instance()).append('(').append(String.join(", ", a.inputs())).append(") ");
        layer(a.layer(), sb);
      } else {
        sb.append(s.value()).append(" = ").append(((NetworkSpec.Merge) s).op().symbol()).append(s.inputs()).append('\n');
      }
    }
  }

  private static void layer(NetworkSpec.Layer l, StringBuilder sb) {
    ModuleSpec m = l.module();
    sb.append(m.name()).append(' ').append(new TreeMap<>(l.dims())).append(' ').append(l.inputShape()).append(" -> ").append(l.outputShape())
        .append(": ").append(Printer.text(m.outputExpr()));
    for (Map.Entry<String, String> f : userFunctions(m.outputExpr()).entrySet()) sb.append("; ").append(f.getKey()).append("(t) = ").append(f.getValue());
    for (var a : m.assumptions()) sb.append("; assume ").append(a.identity());
    sb.append('\n');
  }

  /** The user-defined elementwise functions applied in {@code e}, by name, with their bodies (iteratively: no deep recursion). */
  private static Map<String, String> userFunctions(Expr e) {
    Map<String, String> out = new TreeMap<>();
    Deque<Expr> todo = new ArrayDeque<>(List.of(e));
    while (!todo.isEmpty()) {
      Expr x = todo.pop();
      if (x instanceof Expr.Apply a) {
        ElementwiseFunction f = a.function();
        if (!f.isBuiltin() && !out.containsKey(f.name())) {
          out.put(f.name(), Printer.text(f.body()));
          todo.push(f.body());
        }
      }
      todo.addAll(Exprs.children(x));
    }
    return out;
  }
}
