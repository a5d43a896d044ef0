package org.hbp.verify;

/**
 * The source of {@code pytorch_oracle.py}, the script that checks generated PyTorch code against
 * torch.autograd ({@link PyTorchVerifier}); it shares nothing with the generated code but its
 * public interface. Held as a text block so that it travels in hbp's jar.
 */
final class PyTorchOracle {
  private PyTorchOracle() {}

  /** The Python source. */
  static final String SOURCE = """
\"""Checks generated PyTorch code against torch.autograd (float64), written from the paper's equations.

usage: pytorch_oracle.py OUT_DIR PACKAGE CASES.json SEED

For every case (a module or loss at random dims, N samples, parameters shared) it imports the
generated class and checks its public interface only -- never hbp_runtime's helpers -- against
dense per-sample references built here by autograd:
  forward                          vs the EJML evaluator's value (computed by hbp in Java), also with
                                   declared index maps left to the module (vs hbp's Java index maps);
                                   an argument of the wrong shape refused by a ValueError naming it
  names                            parameters under the spec's names except the class's PYTHON_NAMES,
                                   and a renamed variable's methods under either name
  jac_mat_prod / jac_t_mat_prod    vs J_n v, J_n' v with J_n = d z_n / d w by autograd.grad per output entry
  jac_t_mat_prod(sum_batch=True)   vs sum_n J_n' v_n
  residual_mat_prod/diag/residual  vs R_n = d^2 (dz_n . z_n(w)) / dw^2 by double backward, modified here:
                                   hessian R, ggn 0, pch-abs Q|L|Q', pch-clip Q max(L,0) Q' (torch.linalg.eigh)
  jac_t_mat_jac_prod               vs J_n' M_n J_n;  ea_jac_t_mat_jac_prod: eq. 8 mean_n J_n' M J_n,
                                   eq. 9 (mean_n J_n)' M (mean_n J_n)
  kronecker_factor                 vs J_n = kron(A_n', I) in column-major vec
  loss gradient / Hessian          vs autograd (double backward); a Hessian said PSD has eigenvalues >= -tol
A check passes when max |got - want| <= 1e-10 * (1 + max |want|). Prints one PASS/FAIL line per check.
\"""
import importlib
import json
import sys

import torch

TOL = 1e-10
V = 2


def natural(shape, data):
    \"""A column-major flat list as a tensor of the natural shape.\"""
    t = torch.tensor(data, dtype=torch.float64)
    if len(shape) == 0:
        return t.reshape(())
    return t.reshape(*reversed(shape)).permute(*reversed(range(len(shape))))


def cm_positions(shape):
    \"""For each row-major position of a tensor of this shape, its column-major position.\"""
    numel = 1
    for d in shape:
        numel *= d
    if len(shape) == 0:
        return torch.zeros(1, dtype=torch.long)
    t = torch.arange(numel).reshape(*reversed(shape)).permute(*reversed(range(len(shape))))
    return t.reshape(-1)


class Checks:
    def __init__(self):
        self.failed = 0
        self.count = 0

    def check(self, name, got, want):
        self.count += 1
        got = got.detach().to(torch.float64)
        want = want.detach().to(torch.float64)
        if got.shape != want.shape:
            self.failed += 1
            print("FAIL %s: shape %s, expected %s" % (name, tuple(got.shape), tuple(want.shape)))
            return
        err = (got - want).abs().max().item() if want.numel() else 0.0
        scale = want.abs().max().item() if want.numel() else 0.0
        ok = err <= TOL * (1 + scale)
        if not ok:
            self.failed += 1
        print("%s %s: max abs error %.2e (scale %.2e)" % ("PASS" if ok else "FAIL", name, err, scale))

    def claim(self, name, ok, detail):
        self.count += 1
        if not ok:
            self.failed += 1
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail))


def kron(a, b):
    # the Kronecker product of two matrices, by its definition (block (i, j) is a_ij * b)
    return torch.einsum("ij,kl->ikjl", a, b).reshape(a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])


def flat(t):
    return t.reshape(-1)


def jacobian_and_residual(f, w, dz=None):
    \"""Dense J = d f(w) / d w (rows: output row-major, cols: w row-major) and R = d^2 (dz . f(w)) / dw^2.\"""
    w = w.detach().clone().requires_grad_(True)
    z = f(w)
    zf = flat(z)
    rows = []
    for k in range(zf.numel()):
        if not zf.requires_grad:  # f does not depend on w through differentiable operations (step, sign, a constant): J = 0
            rows.append(torch.zeros(w.numel(), dtype=w.dtype))
            continue
        (g,) = torch.autograd.grad(zf[k], w, retain_graph=True, allow_unused=True)
        rows.append(flat(g) if g is not None else torch.zeros(w.numel(), dtype=w.dtype))
    j = torch.stack(rows) if rows else torch.zeros(0, w.numel(), dtype=w.dtype)
    r = None
    if dz is not None:
        s = (flat(dz) * zf).sum()
        (g,) = torch.autograd.grad(s, w, create_graph=True, allow_unused=True) if s.requires_grad else (None,)
        hrows = []
        for i in range(w.numel()):
            if g is None or not flat(g)[i].requires_grad:
                hrows.append(torch.zeros(w.numel(), dtype=w.dtype))
                continue
            (h,) = torch.autograd.grad(flat(g)[i], w, retain_graph=True, allow_unused=True)
            hrows.append(flat(h) if h is not None else torch.zeros(w.numel(), dtype=w.dtype))
        r = torch.stack(hrows)
    return j.detach(), None if r is None else r.detach()


def modified(r, curvature):
    if curvature == "hessian":
        return r
    if curvature == "ggn":
        return torch.zeros_like(r)
    lam, q = torch.linalg.eigh((r + r.T) / 2)
    lam = lam.abs() if curvature == "pch-abs" else lam.clamp(min=0)
    return q @ torch.diag(lam) @ q.T


def run_case(case, package, gen, checks):
    mod = importlib.import_module(package + "." + case["file"])
    cls = getattr(mod, case["class"])
    derivs = getattr(mod, case["class"] + "Derivatives")
    dims = {k: v for k, v in case["dims"].items()}
    # the spec's names are the Python names except those the class lists in PYTHON_NAMES (a keyword, ...)
    py = lambda name: cls.PYTHON_NAMES.get(name, name)
    import inspect
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "dtype", "device")]
    module = cls(**{py(d): dims[d] for d in dims if py(d) in accepted})
    values = {}
    for v in case["variables"]:
        # the data are column-major over the spec's shape, the same order as over the natural shape
        # (a matrix(c, oh*ow) image is natural [c, oh, ow]): read them in the natural shape directly
        ts = [natural(module.shape(v["name"]), d) for d in v["data"]]
        values[v["name"]] = ts[0] if v["role"] == "param" else torch.stack(ts)
    params = [v["name"] for v in case["variables"] if v["role"] == "param"]
    with torch.no_grad():
        for p in params:
            getattr(module, py(p)).copy_(values[p])
    positional = [v["name"] for v in case["variables"] if v["role"] in ("input", "target")]
    keywords = [v["name"] for v in case["variables"] if v["role"] in ("data", "index")]
    n = values[positional[0]].shape[0]
    tag = "%s/%s %s" % (case["spec"], case["module"], case["dims"])

    def call(vals, sample=None):
        pick = (lambda t: t) if sample is None else (lambda t: t[sample:sample + 1])
        args = [pick(vals[x]) for x in positional]
        kw = {py(x): pick(vals[x]) for x in keywords}
        return args, kw

    args, kw = call(values)
    checks.claim(tag + " parameters under their Python names", sorted(k for k, _ in module.named_parameters()) == sorted(map(py, params)),
                 "named_parameters %s, spec %s, PYTHON_NAMES %s" % ([k for k, _ in module.named_parameters()], params, cls.PYTHON_NAMES))
    for x in positional + keywords:
        # one entry too many in the last axis (a scalar: an axis too many): forward must refuse it with a ValueError naming x
        wrong = dict(values)
        t = values[x]
        wrong[x] = torch.zeros(*t.shape[:-1], t.shape[-1] + 1, dtype=t.dtype) if t.dim() > 1 else torch.zeros(*t.shape, 1, dtype=t.dtype)
        try:
            a, k = call(wrong)
            module(*a, **k)
            checks.claim(tag + " forward refuses %s of shape %s" % (x, list(wrong[x].shape)), False, "no error")
        except ValueError as e:
            checks.claim(tag + " forward refuses %s of shape %s" % (x, list(wrong[x].shape)),
                         (" %s" % x) in str(e) and str(list(wrong[x].shape)) in str(e), str(e))
    z = module(*args, **kw)
    want = torch.stack([natural(module.shape(case["output"]), d) for d in case["expected"]["data"]])
    checks.check(tag + " forward", z, want)
    if "expected_computed_index" in case:
        # the index maps left out: the module computes them as the spec declares
        e = case["expected_computed_index"]
        want = torch.stack([natural(module.shape(case["output"]), d) for d in e["data"]])
        declared = [v["name"] for v in case["variables"] if v["role"] == "index"]
        checks.check(tag + " forward with %s computed as declared" % ", ".join(declared),
                     module(*args, **{k: t for k, t in kw.items() if k not in map(py, declared)}), want)
    d = derivs(module, *args, **kw)
    out_shape = tuple(module.shape(case["output"]))

    def sample_function(name, s):
        \"""w -> the output of sample s as a function of variable name (others fixed).\"""
        def f(w):
            if name in params:
                saved = getattr(module, py(name))
                try:
                    delattr(module, py(name))
                    setattr(module, py(name), w)
                    a, k = call(values, s)
                    return module(*a, **k)[0]
                finally:
                    delattr(module, py(name))
                    setattr(module, py(name), saved)
            vals = dict(values)
            vals[name] = torch.cat([values[name][:s], w[None], values[name][s + 1:]])
            a, k = call(vals, s)
            return module(*a, **k)[0]
        return f

    def point(name, s):
        return values[name] if name in params else values[name][s]

    gen_ = torch.Generator().manual_seed(gen)
    rand = lambda *shape: torch.randn(*shape, generator=gen_, dtype=torch.float64)

    if case["loss"]:
        for x in positional:
            if x not in d.HESSIAN_IS_PSD:
                continue
            shape = tuple(module.shape(x))
            grads, hessians = [], []
            for s in range(n):
                j, r = jacobian_and_residual(sample_function(x, s), point(x, s), torch.ones(()))
                grads.append(j.reshape(shape))
                hessians.append(r)
            h = torch.stack(hessians)
            checks.check(tag + " gradient(%s)" % x, d.gradient(x), torch.stack(grads))
            if py(x) != x:
                checks.check(tag + " gradient(%r, its Python name)" % py(x), d.gradient(py(x)), torch.stack(grads))
            mat = rand(V, n, *shape)
            want = torch.einsum("nij,vnj->vni", h, mat.reshape(V, n, -1)).reshape(mat.shape)
            checks.check(tag + " hessian_mat_prod(%s)" % x, d.hessian_mat_prod(x, mat), want)
            checks.check(tag + " hessian(%s)" % x, d.hessian(x), h)
            if d.hessian_is_psd(x):
                low = torch.linalg.eigvalsh((h + h.mT) / 2).min().item()
                checks.claim(tag + " hessian_is_psd(%s)" % x, low >= -TOL * (1 + h.abs().max().item()), "smallest eigenvalue %.2e" % low)
            if hasattr(module, "_factor_columns_" + x):
                s_ = d.loss_factor(x)
                checks.check(tag + " loss_factor(%s) S S'" % x, s_ @ s_.mT, h)
        return

    dz = rand(n, *out_shape)
    dout = 1
    for k in out_shape:
        dout *= k
    m_shared = rand(dout, dout)
    m_per_sample = rand(n, dout, dout)
    for w in d.RESIDUAL_KINDS:
        shape = tuple(module.shape(w))
        js, rs = [], []
        for s in range(n):
            j, r = jacobian_and_residual(sample_function(w, s), point(w, s), dz[s])
            js.append(j)
            rs.append(r)
        j = torch.stack(js)  # [N, Dout, D]
        r = torch.stack(rs)  # [N, D, D]
        dw = j.shape[-1]
        mat = rand(V, n, *shape)
        want = torch.einsum("nij,vnj->vni", j, mat.reshape(V, n, -1)).reshape(V, n, *out_shape)
        checks.check(tag + " jac_mat_prod(%s)" % w, d.jac_mat_prod(w, mat), want)
        if py(w) != w:
            checks.check(tag + " jac_mat_prod(%r, its Python name)" % py(w), d.jac_mat_prod(py(w), mat), want)
        mat_out = rand(V, n, *out_shape)
        jt = torch.einsum("nji,vnj->vni", j, mat_out.reshape(V, n, -1))
        checks.check(tag + " jac_t_mat_prod(%s)" % w, d.jac_t_mat_prod(w, mat_out), jt.reshape(V, n, *shape))
        checks.check(tag + " jac_t_mat_prod(%s, sum_batch)" % w, d.jac_t_mat_prod(w, mat_out, sum_batch=True), jt.sum(1).reshape(V, *shape))
        kind = d.residual_kind(w)
        off = r - torch.diag_embed(torch.diagonal(r, dim1=-2, dim2=-1))
        if kind == "zero":
            checks.claim(tag + " residual_kind(%s) zero" % w, r.abs().max().item() <= TOL, "max |R| %.2e" % r.abs().max().item())
        if kind == "diagonal":
            checks.claim(tag + " residual_kind(%s) diagonal" % w, off.abs().max().item() <= TOL, "max off-diagonal %.2e" % off.abs().max().item())
        for curvature in ("hessian", "ggn", "pch-abs", "pch-clip"):
            rm = torch.stack([modified(r[s], curvature) for s in range(n)])
            want = torch.einsum("nij,vnj->vni", rm, mat.reshape(V, n, -1)).reshape(mat.shape)
            checks.check(tag + " residual_mat_prod(%s, %s)" % (w, curvature), d.residual_mat_prod(w, dz, mat, curvature), want)
            checks.check(tag + " residual_diag(%s, %s)" % (w, curvature), d.residual_diag(w, dz, curvature),
                         torch.diagonal(rm, dim1=-2, dim2=-1).reshape(n, *shape))
            checks.check(tag + " residual(%s, %s)" % (w, curvature), d.residual(w, dz, curvature), rm)
        checks.check(tag + " jac_t_mat_jac_prod(%s)" % w, d.jac_t_mat_jac_prod(w, m_per_sample), j.mT @ m_per_sample @ j)
        checks.check(tag + " ea_jac_t_mat_jac_prod(%s, eq. 8)" % w, d.ea_jac_t_mat_jac_prod(w, m_shared, "kfra"),
                     (j.mT @ m_shared @ j).mean(0))
        jbar = j.mean(0)
        checks.check(tag + " ea_jac_t_mat_jac_prod(%s, eq. 9)" % w, d.ea_jac_t_mat_jac_prod(w, m_shared, "bda"), jbar.T @ m_shared @ jbar)
        if w in d.KRONECKER_FACTORS:
            a = d.kronecker_factor(w)  # [N, rows, cols]
            pw, po = cm_positions(shape), cm_positions(out_shape)
            j_cm = torch.zeros_like(j)
            j_cm[:, po[:, None], pw[None, :]] = j
            p = dout // a.shape[-1]
            got = torch.stack([kron(a[s].T, torch.eye(p, dtype=torch.float64)) for s in range(n)])
            checks.check(tag + " kronecker_factor(%s): J = kron(A', I)" % w, got, j_cm)


def main():
    out, package, cases_file, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path.insert(0, out)
    cases = json.load(open(cases_file))
    checks = Checks()
    for i, case in enumerate(cases):
        try:
            run_case(case, package, seed * 1000 + i, checks)
        except Exception as e:  # a crash is a failed check, with its place
            import traceback
            checks.count += 1
            checks.failed += 1
            print("FAIL %s/%s %s: %s: %s" % (case["spec"], case["module"], case["dims"], type(e).__name__, e))
            traceback.print_exc(file=sys.stdout)
    print("%d checks, %d failed" % (checks.count, checks.failed))
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
""";
}
