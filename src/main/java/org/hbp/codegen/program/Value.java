package org.hbp.codegen.program;

import java.util.List;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Shape;

/**
 * A value of a kernel {@link Program}: a batch whose items have the shape {@link #items} (a tensor
 * (c, h, w) held as c x (h*w), as the backends hold it), and who owns its storage. Values are
 * compared by identity: two values are the same only when they are one object.
 */
public final class Value {
  /** Who owns a value's storage, and so who may release it. */
  public enum Ownership {
    /** Allocated by the kernel that computed it: the program releases it unless it escapes. */
    OWNED,
    /** Shares the storage of its first input ({@link #viewOf}): released with that value. */
    VIEW,
    /** Given to the program (a leaf, a parameter of the method, a helper's result): never released. */
    EXTERNAL,
    /** Held by the forward cache's memo: never released by a method that reads it. */
    MEMOIZED
  }

  /** The item shape of a value: rows x cols per (sample, direction). */
  public record ItemShape(Dim rows, Dim cols) {
    public static final ItemShape SCALAR = new ItemShape(Dim.ONE, Dim.ONE);

    /** The shape a backend holds an expression's value in: its first dim by the product of the others. */
    public static ItemShape of(Shape s) {
      List<Dim> dims = s.dims();
      if (dims.isEmpty()) return SCALAR;
      Dim cols = Dim.ONE;
      for (int i = 1; i < dims.size(); i++) cols = cols.times(dims.get(i));
      return new ItemShape(dims.get(0), cols);
    }

    /** A column of n entries. */
    public static ItemShape column(Dim n) {
      return new ItemShape(n, Dim.ONE);
    }

    public Dim numel() {
      return rows.times(cols);
    }

    public ItemShape transposed() {
      return new ItemShape(cols, rows);
    }

    public boolean isScalar() {
      return rows.isOne() && cols.isOne();
    }
  }

  private String name;
  private final ItemShape items;
  private Ownership ownership;
  private Value viewOf;

  Value(String name, ItemShape items, Ownership ownership, Value viewOf) {
    this.name = name;
    this.items = items;
    this.ownership = ownership;
    this.viewOf = viewOf;
  }

  /** The name an emitter gives the value (a local variable). */
  public String name() {
    return name;
  }

  void rename(String name) {
    this.name = name;
  }

  public ItemShape items() {
    return items;
  }

  public Ownership ownership() {
    return ownership;
  }

  /** The value whose storage a view shares; null unless {@link Ownership#VIEW}. */
  public Value viewOf() {
    return viewOf;
  }

  void own(Ownership ownership, Value viewOf) {
    this.ownership = ownership;
    this.viewOf = viewOf;
  }

  /** The value that owns this one's storage: itself, or for a view its source's root. */
  public Value root() {
    Value v = this;
    while (v.ownership == Ownership.VIEW) v = v.viewOf;
    return v;
  }

  @Override
  public String toString() {
    return name;
  }
}
