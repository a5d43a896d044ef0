package org.hbp.codegen;

import com.palantir.javapoet.ClassName;
import java.util.Locale;
import java.util.Set;
import org.hbp.runtime.BuiltInOperators;

/** Java names and literals used by the generated code. */
final class Names {
  private Names() {}

  static final ClassName BATCH = ClassName.get("org.hbp.backend", "Batch");
  static final ClassName BACKEND = ClassName.get("org.hbp.backend", "Backend");
  static final ClassName CONV_GEOMETRY = ClassName.get("org.hbp.backend", "ConvGeometry");
  static final ClassName FORWARD_CACHE = ClassName.get("org.hbp.runtime", "ForwardCache");
  static final ClassName SCALARS = ClassName.get("org.hbp.math", "Scalars");
  static final ClassName SCALAR_FUNCTION = ClassName.get("org.hbp.backend", "ScalarFunction");
  static final ClassName RESIDUAL_KIND = ClassName.get("org.hbp.runtime", "ResidualKind");
  static final ClassName ABSTRACT_MODULE = ClassName.get("org.hbp.runtime", "AbstractModuleOperator");
  static final ClassName OPERATOR_SUPPORT = ClassName.get("org.hbp.runtime", "OperatorSupport");
  static final ClassName ABSTRACT_LOSS = ClassName.get("org.hbp.runtime", "AbstractLossOperator");

  /** The generated method returning memo slot {@code slot} of the forward cache. */
  static String memoMethod(int slot) {
    return "memo" + slot;
  }

  /** The generated helper method computing part {@code index} of a large sum. */
  static String partMethod(int index) {
    return "part" + index;
  }

  private static final Set<String> KEYWORDS = Set.of("abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class",
      "const", "continue", "default", "do", "double", "else", "enum", "extends", "final", "finally", "float", "for", "goto", "if",
      "implements", "import", "instanceof", "int", "interface", "long", "native", "new", "package", "private", "protected", "public",
      "return", "short", "static", "strictfp", "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void",
      "volatile", "while", "true", "false", "null", "var", "record", "yield", "be", "cache", "dz", "v", "wrt", "dims", "backend",
      "variable", "values", "parameter", "all");

  /** A field name for a dimension symbol: the symbol itself unless it is reserved. */
  static String dimField(String symbol) {
    return KEYWORDS.contains(symbol) || symbol.matches("t[0-9]+") ? symbol + "_" : symbol;
  }

  /** The class name for a module: {@code conv2d} gives {@code Conv2dOperator}. */
  static String className(String module) {
    return BuiltInOperators.className(module);
  }


  /** A Java double literal that reads back exactly. */
  static String literal(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return String.format(Locale.ROOT, "%.1f", v);
    return Double.toString(v);
  }

  /** One line of comment text. */
  static String comment(String text) {
    String s = text.replace('\n', ' ').replace("*/", "* /");
    return s.length() > 160 ? s.substring(0, 157) + "..." : s;
  }

  /** The method of block i of k of a loss factor: {@code factorMatProd_x}, or {@code factorMatProd_x_i} for several blocks. */
  static String factorMethod(String wrt, int block, int blocks) {
    return "factorMatProd_" + wrt + (blocks == 1 ? "" : "_" + block);
  }
}
