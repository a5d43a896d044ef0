package org.hbp.codegen.program;

import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.hbp.codegen.program.Value.ItemShape;
import org.hbp.codegen.program.Value.Ownership;

/**
 * A straight-line kernel program: the body of one generated method as a list of
 * {@link Statement}s {@code out = op(inputs)}, in order, over {@link Value}s that carry their shape
 * and ownership. Lowering builds it; {@link Passes} simplify it; an emitter renders it for a
 * target. The values that leave the program (what the method returns) are its {@link #escaping}
 * values.
 */
public final class Program {
  /** One statement: {@code out = op}, with the DSL text of what it computes (or null) as its comment. */
  public record Statement(Value out, Op op, String comment) {}

  private final List<Statement> statements = new ArrayList<>();
  private final List<Value> inputs = new ArrayList<>();
  private final Set<Value> escaping = Collections.newSetFromMap(new IdentityHashMap<>());
  /** Values the passes replaced, and by what. */
  private final Map<Value, Value> replaced = new IdentityHashMap<>();
  /** The statement defining each value, and how many statements use each value: kept up to date by every edit. */
  private final Map<Value, Statement> definitions = new IdentityHashMap<>();
  private final Map<Value, Integer> uses = new IdentityHashMap<>();

  /** A value declared outside the program (a method parameter, a local of the caller). */
  public Value input(String name, ItemShape items) {
    Value v = new Value(name, items, Ownership.EXTERNAL, null);
    inputs.add(v);
    return v;
  }

  /** Appends {@code name = op}; returns the new value, owned as the op says. */
  public Value add(String name, Op op, String comment) {
    Ownership o = op.ownership();
    Value out = new Value(name, op.shape(), o, o == Ownership.VIEW ? inputs(op).get(0) : null);
    Statement s = new Statement(out, op, comment);
    statements.add(s);
    index(s, 1);
    return out;
  }

  /** Marks a value as leaving the program: it is kept, with its name, and its storage is not released. */
  public void escape(Value v) {
    escaping.add(v);
  }

  public List<Statement> statements() {
    return Collections.unmodifiableList(statements);
  }

  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  public boolean escapes(Value v) {
    return escaping.contains(v);
  }

  public Set<Value> escaping() {
    return Collections.unmodifiableSet(escaping);
  }

  /** What v became after the passes: itself, or the value that replaced it. */
  public Value resolve(Value v) {
    for (Value r = replaced.get(v); r != null; r = replaced.get(v)) v = r;
    return v;
  }

  /** Whether v is an input or a statement's result of this program (not removed by a pass). */
  public boolean defines(Value v) {
    return inputs.contains(v) || definition(v) != null;
  }

  /** The statement defining v, or null for an input. */
  public Statement definition(Value v) {
    return definitions.get(v);
  }

  /** How many times v is an input of a statement. */
  public int uses(Value v) {
    return uses.getOrDefault(v, 0);
  }

  /** Records (sign 1) or forgets (sign -1) a statement in the indexes. */
  private void index(Statement s, int sign) {
    if (sign > 0) definitions.put(s.out(), s);
    else definitions.remove(s.out());
    for (Value in : inputs(s.op())) uses.merge(in, sign, Integer::sum);
  }

  /** Sets statement i, keeping the indexes. */
  private void set(int i, Statement s) {
    index(statements.get(i), -1);
    statements.set(i, s);
    index(s, 1);
  }

  // ---- editing, for the passes ----------------------------------------------------------------

  /** Replaces statement i's op (its result keeps its value, ownership updated). */
  void replace(int i, Op op, String comment) {
    Statement s = statements.get(i);
    Ownership o = op.ownership();
    s.out().own(o, o == Ownership.VIEW ? inputs(op).get(0) : null);
    set(i, new Statement(s.out(), op, comment));
  }

  void remove(int i) {
    index(statements.remove(i), -1);
  }

  /**
   * Every use of {@code from} becomes a use of {@code to} (whose name {@code from}'s takes when
   * from escapes); false, changing nothing, when from escapes and to cannot take its name, or when
   * a part's call names from.
   */
  boolean substitute(Value from, Value to) {
    if (pinned().contains(from)) return false; // named in a part's call: it stays as it is
    if (escapes(from)) {
      if (!canRename(to)) return false;
      to.rename(from.name());
      escaping.remove(from);
      escaping.add(to);
    }
    for (int i = 0; i < statements.size(); i++) {
      Statement s = statements.get(i);
      Op op = mapInputs(s.op(), v -> v == from ? to : v);
      if (op != s.op()) set(i, new Statement(s.out(), op, s.comment()));
    }
    for (Statement s : statements) if (s.out().viewOf() == from) s.out().own(Ownership.VIEW, to);
    replaced.put(from, to);
    return true;
  }

  /** Whether a value's name is free to change: defined here (not a leaf, named by its reference), not escaping, not named in a part's call. */
  boolean canRename(Value v) {
    Statement d = definition(v);
    if (d == null || d.op() instanceof Op.Leaf || escapes(v)) return false;
    for (Statement s : statements) if (s.op() instanceof Op.Part p && p.direction() == v) return false;
    return true;
  }

  /** The values a program's ops refer to by name in their rendering (a part's direction): never renamed. */
  Set<Value> pinned() {
    Set<Value> out = new LinkedHashSet<>();
    for (Statement s : statements) if (s.op() instanceof Op.Part p && p.direction() != null) out.add(p.direction());
    return out;
  }

  /**
   * Names the statements' results {@code prefix0, prefix1, ...} in order, closing the gaps the
   * passes left; leaves (named by their reference), inputs, pinned values, the given fixed values
   * (whose names a caller holds) and the reserved names keep their names, and no new name takes
   * one of theirs.
   */
  public void renumber(String prefix, Set<String> reserved, Set<Value> fixed) {
    Set<String> taken = new java.util.HashSet<>(reserved);
    Set<Value> keep = Collections.newSetFromMap(new IdentityHashMap<>());
    keep.addAll(inputs);
    keep.addAll(fixed);
    keep.addAll(pinned());
    for (Statement s : statements) if (s.op() instanceof Op.Leaf) keep.add(s.out());
    for (Value v : keep) taken.add(v.name());
    int next = 0;
    for (Statement s : statements) {
      if (keep.contains(s.out())) continue;
      while (taken.contains(prefix + next)) next++;
      s.out().rename(prefix + next++);
    }
  }

  /** {@link #renumber(String, Set, Set)} keeping the escaping values' names. */
  public void renumber(String prefix, Set<String> reserved) {
    renumber(prefix, reserved, escaping);
  }

  // ---- ops' inputs, generically over the records' components -----------------------------------

  /** The record components of each op class, read once. */
  private static final ClassValue<RecordComponent[]> COMPONENTS = new ClassValue<>() {
    @Override
    protected RecordComponent[] computeValue(Class<?> type) {
      RecordComponent[] cs = type.getRecordComponents();
      for (RecordComponent c : cs) c.getAccessor().setAccessible(true);
      return cs;
    }
  };

  /** The op's input values, in component order (null components, e.g. no bias, left out). */
  public static List<Value> inputs(Op op) {
    List<Value> out = new ArrayList<>(3);
    for (RecordComponent c : COMPONENTS.get(op.getClass())) {
      if (c.getType() != Value.class) continue;
      Value v = (Value) get(c, op);
      if (v != null) out.add(v);
    }
    return out;
  }

  /** The op with each input value mapped by f; the same op when nothing changes. */
  public static Op mapInputs(Op op, UnaryOperator<Value> f) {
    RecordComponent[] cs = COMPONENTS.get(op.getClass());
    Object[] args = new Object[cs.length];
    Class<?>[] types = new Class<?>[cs.length];
    boolean changed = false;
    for (int i = 0; i < cs.length; i++) {
      types[i] = cs[i].getType();
      args[i] = get(cs[i], op);
      if (types[i] == Value.class && args[i] != null) {
        Object mapped = f.apply((Value) args[i]);
        changed |= mapped != args[i];
        args[i] = mapped;
      }
    }
    if (!changed) return op;
    try {
      Constructor<?> k = op.getClass().getDeclaredConstructor(types);
      return (Op) k.newInstance(args);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot rebuild " + op, e);
    }
  }

  private static Object get(RecordComponent c, Op op) {
    try {
      return c.getAccessor().invoke(op);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot read " + c.getName() + " of " + op, e);
    }
  }
}
