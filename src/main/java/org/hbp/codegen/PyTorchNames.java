package org.hbp.codegen;

import java.util.Set;

/** How generated PyTorch code names things: Python identifiers, class names, module files. */
final class PyTorchNames {
  private PyTorchNames() {}

  /** Python 3's keywords ({@code keyword.kwlist}): never an identifier. */
  static final Set<String> KEYWORDS = Set.of("False", "None", "True", "and", "as", "assert", "async", "await", "break",
      "class", "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
      "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield");

  /** Python's keywords and the names the generated methods use for themselves. */
  private static final Set<String> RESERVED = java.util.stream.Stream.concat(KEYWORDS.stream(),
      java.util.stream.Stream.of("self", "cache", "dz", "v", "K", "torch", "F", "dtype", "device", "training"))
      .collect(java.util.stream.Collectors.toUnmodifiableSet());

  /** A DSL name as a Python identifier (a keyword gets a trailing underscore). */
  static String identifier(String name) {
    return RESERVED.contains(name) ? name + "_" : name;
  }

  /** The torch.nn.Module class of a module: {@code conv2d} gives {@code Conv2d}. */
  static String className(String module) {
    StringBuilder sb = new StringBuilder();
    for (String part : module.split("_")) {
      if (part.isEmpty()) continue;
      sb.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
    }
    return sb.toString();
  }

  /** The Python module (file) of a module or loss: its name. */
  static String moduleFile(String module) {
    return identifier(module) + ".py";
  }
}
