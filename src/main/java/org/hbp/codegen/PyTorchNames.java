package org.hbp.codegen;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.dsl.ModuleSpec;

/**
 * How generated PyTorch code names things: Python identifiers, class names, module files.
 *
 * <p>The rule for a module's dims and variables: the spec's name is the Python name wherever
 * Python allows it, so that {@code wrt="v"}, {@code layer.v} and the {@code state_dict} key
 * {@code v} are all the spec's {@code v}. A name is renamed, by appending {@code _} until it is
 * free (no other name of the module, nothing reserved), only where it cannot be kept:
 * <ul>
 *   <li>a Python keyword ({@code lambda}): no identifier;
 *   <li>as an attribute of the module (a parameter, a dim): a name that {@code torch.nn.Module} or
 *       the generated class defines ({@code forward}, {@code training}, {@code cache},
 *       {@code shape}, {@code reset_parameters}, a {@code __dunder__}, ...);
 *   <li>as an argument (an input, target, data or index variable of {@code forward}, a dim of the
 *       constructor): a name the generated method uses itself ({@code self}, {@code cache},
 *       {@code K}, {@code torch}, {@code dtype}, {@code device}, ...).
 * </ul>
 * The generated class lists its renames in its docstring and as {@code PYTHON_NAMES}; every method
 * that takes a variable's name accepts either.
 */
final class PyTorchNames {
  private PyTorchNames() {}

  /** Python 3's keywords ({@code keyword.kwlist}): never an identifier. */
  static final Set<String> KEYWORDS = Set.of("False", "None", "True", "and", "as", "assert", "async", "await", "break",
      "class", "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
      "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield");

  /**
   * The attributes of {@code torch.nn.Module} (its methods and the attributes its constructor
   * sets), torch 1.13 to 2.x: a parameter or dim of one of these names would replace it (a
   * parameter: {@code KeyError: attribute already exists}).
   */
  static final Set<String> MODULE_ATTRIBUTES = Set.of("T_destination", "add_module", "apply", "bfloat16", "buffers",
      "call_super_init", "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
      "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia",
      "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
      "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
      "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
      "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
      "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
      "zero_grad", "_apply", "_backward_hooks", "_backward_pre_hooks", "_buffers", "_call_impl", "_compiled_call_impl",
      "_forward_hooks", "_forward_hooks_always_called", "_forward_hooks_with_kwargs", "_forward_pre_hooks",
      "_forward_pre_hooks_with_kwargs", "_get_backward_hooks", "_get_backward_pre_hooks", "_get_name", "_is_full_backward_hook",
      "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks", "_maybe_warn_non_full_backward_hook",
      "_modules", "_named_members", "_non_persistent_buffers_set", "_parameters", "_register_load_state_dict_pre_hook",
      "_register_state_dict_hook", "_replicate_for_data_parallel", "_save_to_state_dict", "_slow_forward", "_state_dict_hooks",
      "_state_dict_pre_hooks", "_version", "_wrapped_call_impl");

  /** The members every generated module class defines besides its private rule methods. */
  static final Set<String> CLASS_MEMBERS = Set.of("SPEC_SHA256", "VARIABLES", "PYTHON_NAMES", "reset_parameters", "shape", "forward",
      "cache", "_forward");

  /** The private rule methods generated per variable w: {@code _jac_w}, {@code _residual_w}, ... */
  private static final List<String> RULE_PREFIXES = List.of("_jac_", "_jac_t_", "_jac_t_sum_", "_residual_", "_residual_diag_",
      "_kron_factor_", "_gradient_", "_hessian_", "_factor_columns_", "_factor_");

  /** Private methods numbered by the lowering (memo slots, parts, loss factor blocks). */
  private static final Pattern NUMBERED = Pattern.compile("_memo\\d+|_part\\d+|_factor_.*_\\d+");

  /**
   * The names a generated method's arguments must not take: what its body uses itself (forward,
   * cache, the constructor and the derivatives' constructor).
   */
  static final Set<String> ARGUMENT_RESERVED = Set.of("self", "cache", "values", "module", "K", "torch", "dtype", "device", "super",
      "int");

  /** Why a module's name was renamed. */
  enum Reason {
    KEYWORD("a Python keyword"),
    ATTRIBUTE("an attribute of torch.nn.Module or of the generated class"),
    ARGUMENT("a name the generated method uses itself");

    final String text;

    Reason(String text) {
      this.text = text;
    }
  }

  /** One renamed name: the spec's, the Python one, and why. */
  record Renamed(String spec, String python, Reason reason) {}

  /** The Python names of one module's dims and variables (the class comment's rule). */
  static final class ModuleNames {
    private final Map<String, String> python = new LinkedHashMap<>();
    private final List<Renamed> renamed = new ArrayList<>();

    /** The Python name of a dim or variable of the module (the name itself where it is not one of the module's). */
    String of(String spec) {
      return python.getOrDefault(spec, spec);
    }

    /** The renamed dims and variables, in declaration order (dims first). */
    List<Renamed> renamed() {
      return List.copyOf(renamed);
    }
  }

  /** The Python names of m's dims (its constructor's and derived ones) and variables. */
  static ModuleNames of(ModuleSpec m) {
    List<String> dims = new ArrayList<>();
    for (Dim d : m.dims()) for (String s : d.symbols()) if (!dims.contains(s)) dims.add(s);
    Set<String> taken = new java.util.HashSet<>(dims);
    taken.addAll(m.derivedDims().keySet());
    for (Expr.Var v : m.variables()) taken.add(v.name());
    taken.add(m.output().name());
    List<String> variables = m.variables().stream().map(Expr.Var::name).toList();
    ModuleNames out = new ModuleNames();
    for (String d : dims) name(out, d, true, true, variables, taken);
    for (String d : m.derivedDims().keySet()) name(out, d, true, false, variables, taken);
    for (Expr.Var v : m.variables()) name(out, v.name(), v.role() == Expr.Role.PARAM, v.role() != Expr.Role.PARAM, variables, taken);
    return out;
  }

  private static void name(ModuleNames out, String spec, boolean attribute, boolean argument, List<String> variables, Set<String> taken) {
    Reason reason = reason(spec, attribute, argument, variables);
    String py = spec;
    if (reason != null) {
      do {
        py += "_";
      } while (taken.contains(py) || reason(py, attribute, argument, variables) != null);
      taken.add(py);
      out.renamed.add(new Renamed(spec, py, reason));
    }
    out.python.put(spec, py);
  }

  /** Why a name cannot be a Python name of this kind, or null when it can. */
  private static Reason reason(String name, boolean attribute, boolean argument, List<String> variables) {
    if (KEYWORDS.contains(name)) return Reason.KEYWORD;
    if (attribute && isClassAttribute(name, variables)) return Reason.ATTRIBUTE;
    if (argument && ARGUMENT_RESERVED.contains(name)) return Reason.ARGUMENT;
    return null;
  }

  private static boolean isClassAttribute(String name, List<String> variables) {
    if (MODULE_ATTRIBUTES.contains(name) || CLASS_MEMBERS.contains(name) || NUMBERED.matcher(name).matches()) return true;
    if (name.startsWith("__") && name.endsWith("__")) return true;
    for (String w : variables) for (String p : RULE_PREFIXES) if (name.equals(p + w)) return true;
    return false;
  }

  /**
   * The torch.nn.Module class of a module: {@code conv2d} gives {@code Conv2d}; a class that would
   * hide the runtime ({@code K}, which the generated module imports as {@code K}: module {@code k})
   * gets {@code _} appended.
   */
  static String className(String module) {
    StringBuilder sb = new StringBuilder();
    for (String part : module.split("_")) {
      if (part.isEmpty()) continue;
      sb.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
    }
    return sb.toString().equals("K") ? "K_" : sb.toString();
  }

  /** The Python module (its file without {@code .py}) of a module or loss: its name, a keyword with {@code _} appended. */
  static String pythonModule(String module) {
    return KEYWORDS.contains(module) ? module + "_" : module;
  }

  /** The Python module (file) of a module or loss: its name ({@link #pythonModule}) and {@code .py}. */
  static String moduleFile(String module) {
    return pythonModule(module) + ".py";
  }

  /** The files of a generated package besides its modules' (a module of that file name is refused). */
  static final Set<String> PACKAGE_FILES = Set.of("hbp_runtime.py", "__init__.py");
}
