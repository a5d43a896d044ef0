package org.hbp.codegen;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.StringJoiner;
import org.hbp.calculus.Dim;
import org.hbp.calculus.Expr;
import org.hbp.calculus.Shape;
import org.hbp.codegen.PyTorchLowering.PyBody;
import org.hbp.codegen.PyTorchLowering.PyMemo;
import org.hbp.codegen.PyTorchLowering.PyPart;
import org.hbp.derive.LossFactor;
import org.hbp.derive.LossRule;
import org.hbp.derive.ModuleRule;
import org.hbp.derive.ModuleRules;
import org.hbp.dsl.IndexDecl;
import org.hbp.dsl.ModuleSpec;
import org.hbp.runtime.ResidualKind;

/**
 * Writes the Python module of one module or loss: a {@code torch.nn.Module} (its dims and
 * parameters, the forward pass, and the lowered rule bodies as private methods) and a derivatives
 * class (the operator contract, batched like BackPACK's derivatives, on top of
 * {@code hbp_runtime.ModuleDerivatives} / {@code LossDerivatives}). The bodies come from the same
 * kernel programs as the Java operators ({@link PyTorchLowering}); bodies are lowered in the order
 * the class lists them, so the numbering of memo slots and parts is deterministic.
 */
final class PyTorchWriter {
  private final ModuleSpec m;
  private final String label;
  private final String sha;
  private final Notation notation;
  private final StringBuilder out = new StringBuilder();
  /** Set once the rules are lowered: how dims are written. */
  private PyTorchLowering lowering;

  private PyTorchWriter(ModuleSpec m, String label, String sha) {
    this.m = m;
    this.label = label;
    this.sha = sha;
    this.notation = new Notation(m);
  }

  /** The Python source of the module generated for m. */
  static String write(ModuleSpec m, String label, String sha) {
    return new PyTorchWriter(m, label, sha).module();
  }

  // ---- the rules, lowered in the order the class lists them ----

  /** A module variable's lowered rule bodies. */
  private record VariableBodies(ModuleRule rule, PyBody jacobian, PyBody jacobianT, PyBody jacobianTSum, Optional<PyBody> residual,
      Optional<PyBody> residualDiagonal, Optional<PyBody> kroneckerFactor, Optional<Expr> kroneckerExpr) {}

  /** A loss's lowered rules: gradient, Hessian product, and the products of its factor's blocks S_i (none when not certified). */
  private record LossBodies(LossRule rule, PyBody gradient, PyBody hessian, List<Expr> factorBlocks, List<PyBody> factors) {}

  private String module() {
    String cls = PyTorchNames.className(m.name());
    List<Expr> computed = new ArrayList<>(List.of(m.outputExpr()));
    List<ModuleRule> rules = m.isLoss() ? List.of() : ModuleRules.moduleRules(m);
    List<LossRule> lossRules = m.isLoss() ? ModuleRules.lossRules(m) : List.of();
    for (ModuleRule r : rules) {
      computed.addAll(List.of(r.compact().jacobian(), r.compact().residual()));
      OperatorAnalyser.residualDiagonal(r).ifPresent(computed::add);
      OperatorAnalyser.kroneckerFactor(r).ifPresent(computed::add);
    }
    for (LossRule r : lossRules) {
      computed.addAll(List.of(r.gradient(), r.hessian()));
      r.factor().ifPresent(f -> computed.addAll(f.blocks()));
    }
    lowering = new PyTorchLowering(m, OperatorAnalyser.sharedSubexpressions(computed));
    PyBody forward = lowering.forward(m.outputExpr());
    List<VariableBodies> variables = new ArrayList<>();
    for (ModuleRule r : rules) {
      Expr j = r.compact().jacobian();
      Optional<Expr> factor = OperatorAnalyser.kroneckerFactor(r);
      variables.add(new VariableBodies(r, lowering.product(j), lowering.product(new Expr.Transpose(j)), lowering.summedTransposedProduct(j),
          r.residualKind() == ResidualKind.ZERO ? Optional.empty() : Optional.of(lowering.product(r.compact().residual())),
          OperatorAnalyser.residualDiagonal(r).map(lowering::value), factor.map(lowering::value), factor));
    }
    List<LossBodies> losses = new ArrayList<>();
    for (LossRule r : lossRules) {
      List<Expr> blocks = r.factor().map(LossFactor::blocks).orElse(List.of());
      List<PyBody> factors = new ArrayList<>();
      for (Expr b : blocks) factors.add(lowering.product(b));
      losses.add(new LossBodies(r, lowering.value(r.gradient()), lowering.product(r.hessian()), blocks, factors));
    }

    header(rules, lossRules);
    line("import torch");
    line("");
    line("from . import hbp_runtime as K");
    for (PyTorchScalars.Function f : lowering.scalars().functions()) {
      line("");
      line("");
      line("def " + f.name() + "(" + f.parameter() + "):");
      line("    " + docstring(f.doc()));
      line("    return " + f.returned());
    }
    line("");
    line("");
    moduleClass(cls, forward, variables, losses, lowering);
    line(""); // the class's last method ends with a blank line
    derivativesClass(cls, variables, losses);
    return out.toString();
  }

  // ---- the file header ----

  private void header(List<ModuleRule> rules, List<LossRule> lossRules) {
    line("# Generated by hbp from " + label + " (" + kind() + " '" + m.name() + "') -- do not edit.");
    line("# Regenerate with `hbp generate --target pytorch`.");
    line("\"\"\"" + (m.isLoss() ? "Loss" : "Module") + " `" + m.name() + "`, generated by hbp from " + label + ".");
    line("");
    line("    " + m.output().name() + " = " + notation.text(m.outputExpr()));
    for (Expr.Var v : m.variables())
      line("    " + v.role().name().toLowerCase(Locale.ROOT) + " " + v.name() + ": " + notation.shapeText(v.shape()));
    line("");
    line("Derived rules (Magnus-Neudecker, column-major vec):");
    line("");
    if (m.isLoss()) {
      for (LossRule r : lossRules) {
        line("    gradient wrt " + r.wrt().name() + " = " + text(r.gradient()));
        line("    Hessian wrt " + r.wrt().name() + " = " + text(r.hessian()) + "  (psd: " + r.psd().value() + ")");
      }
    } else {
      for (ModuleRule r : rules) {
        line("    J_" + r.wrt().name() + " = " + text(r.compact().jacobian()));
        line("    H_" + r.wrt().name() + " = " + text(r.compact().hbp()) + "  (residual: " + r.residualKind().label() + ")");
      }
    }
    line("");
    line("Shapes and conventions: see hbp_runtime (public tensors in PyTorch's natural shapes, directions");
    line("[V, N, *shape] as BackPACK's `mat`; dense matrices in PyTorch's row-major flattening).");
    line("SHA-256 of the spec's text: " + sha);
    line("\"\"\"");
  }

  private String kind() {
    return m.isLoss() ? "loss" : "module";
  }

  // ---- the torch.nn.Module ----

  private List<String> dimSymbols() {
    List<String> out = new ArrayList<>();
    for (Dim d : m.dims()) for (String s : d.symbols()) if (!out.contains(s)) out.add(s);
    return out;
  }

  private List<Expr.Var> withRoles(Expr.Role... roles) {
    List<Expr.Var> out = new ArrayList<>();
    for (Expr.Var v : m.variables()) for (Expr.Role r : roles) if (v.role() == r) out.add(v);
    return out;
  }

  /** The arguments of forward: inputs and targets positional, data and index variables as keywords. */
  private List<Expr.Var> positional() {
    return withRoles(Expr.Role.INPUT, Expr.Role.TARGET);
  }

  private List<Expr.Var> keywords() {
    return withRoles(Expr.Role.DATA, Expr.Role.INDEX);
  }

  private String signature() {
    StringJoiner j = new StringJoiner(", ");
    for (Expr.Var v : positional()) j.add(py(v.name()));
    List<Expr.Var> kw = keywords();
    if (!kw.isEmpty()) {
      j.add("*");
      for (Expr.Var v : kw) j.add(py(v.name()) + "=None");
    }
    return j.toString();
  }

  private String arguments() {
    StringJoiner j = new StringJoiner(", ");
    for (Expr.Var v : positional()) j.add(py(v.name()));
    for (Expr.Var v : keywords()) j.add(py(v.name()) + "=" + py(v.name()));
    return j.toString();
  }

  /**
   * The dims of PyTorch's natural shape of a value: a scalar (), a vector (n,), a matrix (m, n), a
   * tensor (c, h, w), and an image that the spec holds as a matrix (c, oh*ow), its columns the
   * product of two derived dims (the first declared is the height; conv2d's and avgpool's output,
   * read so by networks too, see NetworkResolver): (c, oh, ow), F.conv2d's layout. The items keep
   * hbp's column-major order (item column y + oh*x holds pixel (y, x)); item_of and natural_of
   * convert at the public methods.
   */
  List<Dim> naturalDims(Shape s) {
    if (s.isScalar()) return List.of();
    if (s.dims().size() == 2 && s.dims().get(1).isOne()) return List.of(s.dims().get(0));
    if (s.dims().size() == 2) {
      List<Dim> derived = new ArrayList<>(m.derivedDims().values());
      for (int i = 0; i < derived.size(); i++)
        for (int j = i + 1; j < derived.size(); j++)
          if (s.dims().get(1).equals(derived.get(i).times(derived.get(j)))) return List.of(s.dims().get(0), derived.get(i), derived.get(j));
    }
    return s.dims();
  }

  /** Whether a value is an image the spec holds as a matrix (c, oh*ow) (see {@link #naturalDims}). */
  private boolean isImage(Shape s) {
    return s.dims().size() == 2 && naturalDims(s).size() == 3;
  }

  /** A natural shape as the DSL's dims, e.g. {@code [N, m, n]}. */
  private String natural(Shape s, boolean batched) {
    List<String> ds = new ArrayList<>();
    if (batched) ds.add("N");
    for (Dim d : naturalDims(s)) ds.add(notation.dimText(d));
    return "[" + String.join(", ", ds) + "]";
  }

  private String shapeTuple(Shape s) {
    List<String> ds = new ArrayList<>();
    for (Dim d : naturalDims(s)) ds.add(lowering.dim(d));
    return ds.isEmpty() ? "()" : ds.size() == 1 ? "(" + ds.get(0) + ",)" : "(" + String.join(", ", ds) + ")";
  }

  private void moduleClass(String cls, PyBody forward, List<VariableBodies> variables, List<LossBodies> losses, PyTorchLowering lowering) {
    List<String> dims = dimSymbols();
    List<Expr.Var> params = withRoles(Expr.Role.PARAM);
    Expr.Var first = positional().get(0);
    line("class " + cls + "(torch.nn.Module):");
    line("    \"\"\"" + m.output().name() + " = " + notation.text(m.outputExpr()) + ", batched over N samples.");
    line("");
    for (Expr.Var v : positional()) line("    " + v.name() + ": " + natural(v.shape(), true) + " (" + v.role().name().toLowerCase(Locale.ROOT) + ", " + notation.shapeText(v.shape()) + ")");
    for (Expr.Var v : keywords()) line("    " + v.name() + ": " + natural(v.shape(), true) + " (" + v.role().name().toLowerCase(Locale.ROOT)
        + (m.indexDecl(v.name()).isPresent() ? ", computed as " + m.indexDecl(v.name()).get().call() + " when not given" : "") + ")");
    for (Expr.Var v : params) line("    " + v.name() + ": torch.nn.Parameter " + natural(v.shape(), false) + " (" + notation.shapeText(v.shape()) + ")");
    line("    -> " + m.output().name() + ": " + natural(m.output().shape(), true) + (m.isLoss() ? " (one loss per sample)" : "")
        + (isImage(m.output().shape()) ? " (the spec's " + notation.shapeText(m.output().shape()) + " as an image, F.conv2d's layout)" : ""));
    line("");
    List<PyTorchNames.Renamed> renamed = lowering.names().renamed();
    if (!renamed.isEmpty()) {
      line("    Python names: the spec's names, except");
      for (PyTorchNames.Renamed r : renamed)
        line("    " + r.spec() + " -> " + r.python() + " (" + r.reason().text + ")");
      line("    (PYTHON_NAMES); every method that takes a variable's name accepts either.");
      line("");
    }
    line("    Every input and target is checked against its shape above (N free), a data or index variable too");
    line("    (N or 1, shared): a ValueError names it, the expected shape and the shape given.");
    line("");
    line("    The private methods are the derived rules lowered to kernels on items [V, N, rows, cols]");
    line("    (hbp_runtime); " + cls + "Derivatives is their public, batched interface.");
    line("    \"\"\"");
    line("");
    line("    SPEC_SHA256 = \"" + sha + "\"");
    line("    VARIABLES = (" + tuple(m.variables().stream().map(Expr.Var::name).toList()) + ")");
    line("    PYTHON_NAMES = {" + String.join(", ", renamed.stream().map(r -> "\"" + r.spec() + "\": \"" + r.python() + "\"").toList()) + "}");
    line("");
    // constructor
    StringJoiner ctorArgs = new StringJoiner(", ");
    ctorArgs.add("self");
    for (String d : dims) ctorArgs.add(py(d));
    ctorArgs.add("*");
    ctorArgs.add("dtype=torch.float64");
    ctorArgs.add("device=None");
    line("    def __init__(" + ctorArgs + "):");
    line("        " + docstring("A " + m.name() + " " + kind() + " for the dims (" + String.join(", ", dims) + ")"
        + (m.derivedDims().isEmpty() ? "" : "; derived dims are computed") + (params.isEmpty() ? "." : "; parameters drawn by reset_parameters.")));
    line("        super().__init__()");
    for (String d : dims) line("        self." + py(d) + " = int(" + py(d) + ")");
    for (var e : m.derivedDims().entrySet()) line("        self." + py(e.getKey()) + " = " + lowering.python(e.getValue().toString()));
    for (Expr.Var p : params)
      line("        self." + py(p.name()) + " = torch.nn.Parameter(torch.empty(" + shapeTuple(p.shape()) + ", dtype=dtype, device=device))");
    if (!params.isEmpty()) line("        self.reset_parameters()");
    line("");
    if (!params.isEmpty()) {
      line("    def reset_parameters(self):");
      line("        " + docstring("Each parameter drawn from N(0, 1/k), k its number of columns (its entries if a vector)."));
      line("        for p in (" + tuple(params.stream().map(p -> "self." + py(p.name())).toList()) + "):");
      line("            with torch.no_grad():");
      line("                p.normal_(0.0, (p.shape[-1] if p.dim() > 1 else max(p.numel(), 1)) ** -0.5)");
      line("");
    }
    line("    def shape(self, name):");
    line("        " + docstring("The natural shape of one sample's value of a variable (a parameter: its own shape)."));
    line("        shapes = {");
    for (Expr.Var v : m.variables()) line("            \"" + v.name() + "\": " + shapeTuple(v.shape()) + ",");
    line("            \"" + m.output().name() + "\": " + shapeTuple(m.output().shape()) + ",");
    line("        }");
    line("        name = K.spec_name(self, name)");
    line("        if name not in shapes:");
    line("            raise ValueError(\"" + m.name() + ": no variable named %r; it has %s\" % (name, \", \".join(shapes)))");
    line("        return shapes[name]");
    line("");
    line("    def forward(self, " + signature() + "):");
    line("        " + docstring(m.output().name() + " = " + notation.text(m.outputExpr()) + " per sample: " + natural(m.output().shape(), true) + "."));
    line("        cache = self.cache(" + arguments() + ")");
    line("        return K.natural_of(K.per_sample(cache, self._forward(cache)[0]), self.shape(\"" + m.output().name() + "\"))");
    line("");
    // cache
    line("    def cache(self, " + signature() + "):");
    line("        " + docstring("The forward values of a batch as items [V=1, N, rows, cols] (hbp_runtime.Cache)"
        + (m.indexDecls().isEmpty() ? "." : "; index variables computed as the spec declares where not given.")));
    StringJoiner given = new StringJoiner(", ");
    for (Expr.Var v : positional()) given.add(inputCheck(v));
    for (Expr.Var v : keywords()) given.add(inputCheck(v));
    line("        K.check_inputs(self, (" + given + (positional().size() + keywords().size() == 1 ? ",))" : "))"));
    for (Expr.Var v : keywords()) {
      Optional<IndexDecl> decl = m.indexDecl(v.name());
      line("        if " + py(v.name()) + " is None:");
      if (decl.isPresent()) {
        IndexDecl d = decl.get();
        String fn = d.primitive().name().toLowerCase(Locale.ROOT);
        StringJoiner args = new StringJoiner(", ");
        for (Dim a : d.args()) args.add(lowering.dim(a));
        line("            " + py(v.name()) + " = K." + fn + "(" + py(d.input()) + ", self.shape(\"" + d.input() + "\"), "
            + args + ")  # " + d.call());
      } else {
        line("            raise ValueError(\"" + m.name() + ": forward needs " + v.name() + " (" + v.role().name().toLowerCase(Locale.ROOT)
            + ", " + natural(v.shape(), true) + ")\")");
      }
    }
    line("        values = {");
    for (Expr.Var v : m.variables()) {
      if (v.role() == Expr.Role.PARAM) line("            \"" + v.name() + "\": K.item_of(self." + py(v.name()) + ", self.shape(\"" + v.name() + "\"))[None, None],");
      else line("            \"" + v.name() + "\": K.item_of(" + py(v.name()) + ", self.shape(\"" + v.name() + "\"))[None],");
    }
    line("        }");
    line("        return K.Cache(values, " + py(first.name()) + ".dtype, " + py(first.name()) + ".device)");
    line("");
    method("_forward", "cache", "items of " + m.output().name() + " = " + notation.text(m.outputExpr()) + ": [1, N, rows, cols].", forward);
    for (VariableBodies b : variables) variableMethods(b);
    for (LossBodies b : losses) lossMethods(b);
    for (PyMemo memo : lowering.memoSlots()) memoMethod(memo);
    for (PyPart part : lowering.parts()) {
      String args = "cache" + (part.usesDz() ? ", dz" : "") + (part.directions() ? ", v" : "");
      method("_part" + part.index(), args, "Part of a large sum: " + text(part.expr()) + (part.directions() ? " times v" : "") + ".", part.body());
    }
  }

  /** A forward argument's entry for {@code hbp_runtime.check_inputs}: (role, spec name, Python name, tensor, layout). */
  private String inputCheck(Expr.Var v) {
    return "(\"" + v.role().name().toLowerCase(Locale.ROOT) + "\", \"" + v.name() + "\", \"" + py(v.name()) + "\", " + py(v.name()) + ", \""
        + natural(v.shape(), true) + "\")";
  }

  private void variableMethods(VariableBodies b) {
    ModuleRule r = b.rule();
    String w = r.wrt().name(), z = r.output().name();
    String j = text(r.compact().jacobian());
    String win = notation.shapeText(r.wrt().shape()), zout = notation.shapeText(r.output().shape());
    method("_jac_" + w, "cache, v", "J v, J = d vec(" + z + ") / d vec(" + w + ") = " + j + "; v: [V, N, numel(" + win
        + "), 1] (column-major vec) -> [V, N, numel(" + zout + "), 1].", b.jacobian());
    method("_jac_t_" + w, "cache, v", "J' v, J = " + j + "; v: [V, N, numel(" + zout + "), 1] -> [V, N, numel(" + win + "), 1].", b.jacobianT());
    method("_jac_t_sum_" + w, "cache, v", "sum_n J_n' v_n over the batch, J = " + j + "; v: [V, N, numel(" + zout + "), 1] -> [V, 1, numel("
        + win + "), 1].", b.jacobianTSum());
    if (b.residual().isPresent())
      method("_residual_" + w, "cache, dz, v", "R v, the exact residual R = sum_k dz_k d^2 " + z + "_k / d vec(" + w + ")^2 = "
          + text(r.compact().residual()) + " (" + r.residualKind().label() + "); dz: [1, N, rows, cols]; v: [V, N, numel(" + win + "), 1].",
          b.residual().get());
    if (b.residualDiagonal().isPresent())
      method("_residual_diag_" + w, "cache, dz", "diag(R) = " + text(OperatorAnalyser.residualDiagonal(r).get()) + " as items [1, N, numel("
          + win + "), 1].", b.residualDiagonal().get());
    if (b.kroneckerFactor().isPresent())
      method("_kron_factor_" + w, "cache", "A with J = kron(A', I): A = " + text(b.kroneckerExpr().get()) + ", items [1, N', rows, cols].",
          b.kroneckerFactor().get());
  }

  private void lossMethods(LossBodies b) {
    String x = b.rule().wrt().name();
    method("_gradient_" + x, "cache", "dE/d" + x + " = " + text(b.rule().gradient()) + " as items [1, N, rows, cols].", b.gradient());
    method("_hessian_" + x, "cache, v", "H v, H = d^2 E / d vec(" + x + ")^2 = " + text(b.rule().hessian()) + "; v: [V, N, numel, 1].",
        b.hessian());
    if (b.factors().isEmpty()) return;
    int n = b.factors().size();
    for (int i = 0; i < n; i++) {
      Expr block = b.factorBlocks().get(i);
      method("_factor_" + x + "_" + i, "cache, v", "S_" + i + " v, " + (n == 1 ? "the loss factor" : "block " + i + " of the loss factor S = [S_0, ..., S_"
          + (n - 1) + "]") + " (" + b.rule().factor().get().reason() + "): S_" + i + " = " + text(block) + "; v: [V, N, "
          + notation.dimText(block.shape().cols()) + ", 1] -> [V, N, numel, 1].", b.factors().get(i));
    }
    List<String> columns = new ArrayList<>();
    for (Expr block : b.factorBlocks()) columns.add(lowering.dim(block.shape().cols()));
    line("    def _factor_columns_" + x + "(self):");
    line("        " + docstring("The column counts of the loss factor's blocks S_i."));
    line("        return (" + String.join(", ", columns) + (columns.size() == 1 ? ",)" : ")"));
    line("");
  }

  private void memoMethod(PyMemo memo) {
    line("    def _memo" + memo.slot() + "(self, cache):");
    line("        " + docstring("memo: " + text(memo.expr()) + " (computed once per forward cache)."));
    line("        value = cache.memo.get(" + memo.slot() + ")");
    line("        if value is None:");
    for (String l : memo.body().lines()) line("            " + l);
    line("            value = cache.memo[" + memo.slot() + "] = " + memo.body().result());
    line("        return value");
    line("");
  }

  private void method(String name, String args, String doc, PyBody body) {
    line("    def " + name + "(self, " + args + "):");
    line("        " + docstring(doc));
    for (String l : body.lines()) line("        " + l);
    line("        return " + body.result());
    line("");
  }

  // ---- the derivatives class ----

  private void derivativesClass(String cls, List<VariableBodies> variables, List<LossBodies> losses) {
    String base = m.isLoss() ? "K.LossDerivatives" : "K.ModuleDerivatives";
    line("class " + cls + "Derivatives(" + base + "):");
    if (m.isLoss()) {
      line("    \"\"\"The derived gradient and Hessian of `" + m.name() + "` for one batch (hbp_runtime.LossDerivatives).");
      line("");
      for (LossBodies b : losses)
        line("    " + b.rule().wrt().name() + ": Hessian " + text(b.rule().hessian()) + " (psd: " + b.rule().psd().value() + ")");
    } else {
      line("    \"\"\"The derived rules of `" + m.name() + "` for one batch, batched like BackPACK's derivatives");
      line("    (hbp_runtime.ModuleDerivatives: jac_mat_prod, jac_t_mat_prod, residual_mat_prod, residual_diag,");
      line("    jac_t_mat_jac_prod, ea_jac_t_mat_jac_prod, kronecker_factor).");
      line("");
      for (VariableBodies b : variables)
        line("    " + b.rule().wrt().name() + ": J = " + text(b.rule().compact().jacobian()) + "; residual " + b.rule().residualKind().label()
            + (b.kroneckerFactor().isPresent() ? "; J = kron(A', I), A = " + text(b.kroneckerExpr().get()) : ""));
    }
    line("    \"\"\"");
    line("");
    line("    OUTPUT = \"" + m.output().name() + "\"");
    if (m.isLoss()) {
      line("    HESSIAN_IS_PSD = {" + String.join(", ", losses.stream().map(b -> "\"" + b.rule().wrt().name() + "\": "
          + (Boolean.TRUE.equals(b.rule().psd().value()) ? "True" : "False")).toList()) + "}");
    } else {
      line("    RESIDUAL_KINDS = {" + String.join(", ", variables.stream().map(b -> "\"" + b.rule().wrt().name() + "\": \""
          + b.rule().residualKind().label() + "\"").toList()) + "}");
      line("    JACOBIAN_IS_SHARED = {" + String.join(", ", variables.stream().map(b -> "\"" + b.rule().wrt().name() + "\": "
          + (Lowering.sampleIndependent(b.rule().compact().jacobian()) ? "True" : "False")).toList()) + "}");
      line("    KRONECKER_FACTORS = (" + tuple(variables.stream().filter(b -> b.kroneckerFactor().isPresent())
          .map(b -> b.rule().wrt().name()).toList()) + ")");
    }
    line("");
    line("    def __init__(self, module, " + signature() + "):");
    line("        " + docstring("The forward pass of module (a " + cls + ") on one batch, whose rules the methods apply."));
    line("        super().__init__(module, module.cache(" + arguments() + "), " + py(positional().get(0).name()) + ".shape[0])");
  }

  // ---- text ----

  private String text(Expr e) {
    return Names.comment(notation.text(e));
  }

  private static String docstring(String text) {
    return "\"\"\"" + text.replace("\\", "\\\\").replace("\"\"\"", "'''") + "\"\"\"";
  }

  private static String tuple(List<String> items) {
    if (items.isEmpty()) return "";
    List<String> quoted = new ArrayList<>();
    for (String s : items) quoted.add(s.startsWith("self.") ? s : "\"" + s + "\"");
    return String.join(", ", quoted) + (items.size() == 1 ? "," : "");
  }

  /** A dim's or variable's Python name ({@link PyTorchNames#of}: the spec's name wherever Python allows it). */
  private String py(String name) {
    return lowering.names().of(name);
  }

  private void line(String s) {
    out.append(s.stripTrailing()).append('\n');
  }
}
