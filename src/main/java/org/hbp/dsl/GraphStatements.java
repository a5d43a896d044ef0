package org.hbp.dsl;

import java.util.ArrayList;
import java.util.List;
import org.antlr.v4.runtime.Token;
import org.hbp.dsl.parser.HbpParser;

/**
 * The structure of a graph network (a {@code network} whose items name values): one input first,
 * then one statement per value, then {@code loss NAME(VALUE);} last. Only the syntax is checked
 * here (no sequential layers among the statements, a merge's form, the loss's single value);
 * names, order of definition and shapes are the resolver's, which needs the module library.
 */
final class GraphStatements {
  /** The merge written as a call. */
  static final String CONCAT = "concat";

  private final SpecBuilder b;

  GraphStatements(SpecBuilder b) {
    this.b = b;
  }

  /** Whether a network declaration is a graph: a statement {@code NAME = ...;} or a loss applied to a value. */
  static boolean isGraph(HbpParser.NetworkDeclContext ctx) {
    for (HbpParser.LayerItemContext item : ctx.layerItem()) {
      if (item instanceof HbpParser.LayerInstanceContext v && v.eq != null) return true;
      if (item instanceof HbpParser.NetLossItemContext l && l.valueArgs() != null) return true;
    }
    return false;
  }

  ParsedNetwork network(HbpParser.NetworkDeclContext ctx) {
    String name = ctx.name.getText();
    ParsedNetwork.Input input = null;
    ParsedNetwork.Instance loss = null;
    ParsedNetwork.Ref lossInput = null;
    List<ParsedNetwork.Statement> statements = new ArrayList<>();
    for (HbpParser.LayerItemContext item : ctx.layerItem()) {
      if (loss != null)
        throw b.error(item.start, "network '" + name + "': the loss must be the last item, but " + SpecBuilder.describeItem(item) + " follows it");
      if (item instanceof HbpParser.NetInputItemContext in) {
        if (input != null) throw b.error(in.start, "network '" + name + "' already has input '" + input.name() + "'; only one input is allowed");
        input = b.networkInput(name, in);
      } else if (item instanceof HbpParser.NetLossItemContext l) {
        if (input == null) throw b.error(l.start, "network '" + name + "' has no input before its loss; expected 'input NAME: TYPE;' first");
        if (l.valueArgs() == null)
          throw b.error(l.name, "the loss of graph network '" + name + "' needs the value it is applied to: 'loss " + l.name.getText() + "(VALUE);'");
        List<ParsedNetwork.Ref> refs = refs(l.valueArgs());
        if (refs.size() != 1) throw b.error(l.valueArgs().start, "a loss is applied to one value, but " + refs.size() + " are given");
        loss = b.instance(l.name, l.layerArgs());
        lossInput = refs.get(0);
      } else {
        HbpParser.LayerInstanceContext l = (HbpParser.LayerInstanceContext) item;
        if (l.eq != null) {
          if (input == null) throw b.error(l.start, "network '" + name + "' has no input before its first statement; expected 'input NAME: TYPE;' first");
          statements.add(statement(l));
          continue;
        }
        throw b.error(l.name, "'" + l.name.getText() + "' is a sequential " + (l.open != null ? "block" : "layer")
            + " in graph network '" + name + "', whose items name their values; write 'NAME = " + l.name.getText()
            + (l.open != null ? "...' with its body as statements, e.g. 'z = x + f;'" : "(VALUE);'"));
      }
    }
    if (input == null) throw b.error(ctx.name, "network '" + name + "' has no input; expected 'input NAME: TYPE;'");
    if (loss == null) throw b.error(ctx.stop, "network '" + name + "' has no loss; expected 'loss NAME(VALUE);' as its last item");
    return new ParsedNetwork(name, b.source(), ctx.name.getLine(), ctx.name.getCharPositionInLine() + 1, input, List.of(), loss,
        new ParsedNetwork.Graph(statements, lossInput));
  }

  private ParsedNetwork.Statement statement(HbpParser.LayerInstanceContext v) {
    Token target = v.name;
    String name = target.getText();
    int line = target.getLine(), column = target.getCharPositionInLine() + 1;
    if (v.graphValue() instanceof HbpParser.MergeValueContext m)
      return new ParsedNetwork.Merge(name, m.op.getText(), List.of(ref(m.left), ref(m.right)), line, column);
    HbpParser.CallValueContext c = (HbpParser.CallValueContext) v.graphValue();
    if (c.callee.getText().equals(CONCAT)) {
      if (c.layerArgs() != null) throw b.error(c.layerArgs().start, "concat takes values, not keyword dims: 'NAME = concat(a, b);'");
      if (c.valueArgs() == null || c.valueArgs().ID().size() < 2)
        throw b.error(c.callee, "concat needs at least two values: 'NAME = concat(a, b);'");
      return new ParsedNetwork.Merge(name, CONCAT, refs(c.valueArgs()), line, column);
    }
    ParsedNetwork.Instance callee = b.instance(c.callee, c.layerArgs());
    if (c.valueArgs() == null) return new ParsedNetwork.Declare(name, callee, line, column);
    return new ParsedNetwork.Apply(name, callee, refs(c.valueArgs()), line, column);
  }

  private static List<ParsedNetwork.Ref> refs(HbpParser.ValueArgsContext args) {
    List<ParsedNetwork.Ref> out = new ArrayList<>();
    for (var id : args.ID()) out.add(ref(id.getSymbol()));
    return out;
  }

  private static ParsedNetwork.Ref ref(Token t) {
    return new ParsedNetwork.Ref(t.getText(), t.getLine(), t.getCharPositionInLine() + 1);
  }
}
