"""Graph networks with modules of several inputs, in PyTorch float64, as references for hbp:
a bilinear merge of two branches of one value (F.bilinear, PyTorch's nn.Bilinear) and a
cross-attention whose queries come from one value and keys/values from another computed from it
(written as PyTorch's attention on (tokens, features) sequences); in both the module's inputs
share a parameterized ancestor, so that kfra/bda's cross blocks between them count.  Every net is a list of steps (value, function of its input values
and its module's parameters, input values, {spec name: parameter name}), so that one sample's
logits, the mean cross-entropy and every derivative are computed by autograd from the same code.

Writes OUT/params.npz, OUT/batch.npz, OUT/dirs.npz ([V, *shape] per parameter) and OUT/ref.npz:
  loss, grad.<p>, hessian.<p>, ggn.<p>         exact blocks (row-major flattening)
  pch-abs.<p>, pch-clip.<p>                     exact PCH blocks (pch_exact's definition)
  hvp.<p>, ggnvp.<p>                            whole-network products with the directions
  <strategy>.<kind>.<p>                          kfra / bda blocks from their definition (README,
                                                 "Graph networks"), kind hessian, ggn, pch-abs, pch-clip
The kfra/bda definition: the batch-averaged joint Hessian H of the live values (the frontier) as
one dense matrix; a step z = f(a_1, ..., a_k) taken from the loss back replaces z by its inputs
through the per-sample linear map M_n (identity on the other live values, the Jacobian of z in each
input on z): H' = mean_n M_n' H M_n (kfra, eq. 8) or M' H M with M = mean_n M_n (bda, eq. 9),
plus the step's joint residual over all its inputs, R_n = d^2 (dz_n . f(a_1, ..., a_k)) / da^2 with
a the stacked inputs, averaged over the batch, modified as one matrix (|eigenvalues| or
max(eigenvalues, 0)) and its blocks of the inputs in the frontier added.  A parameter's block at
its module use: mean_n J_n' H(z, z) J_n (kfra) or Jbar' H(z, z) Jbar (bda), plus its own residual
averaged and then modified.  Values no parameter precedes (the input x) never enter the frontier.
A value given to two inputs takes both slots (the stacked inputs hold it twice).
Usage: graph_multi_input.py NET OUT_DIR  (NET: bilinear, cross, repeated)."""
import math
import sys
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


def linear(a, p):
    return F.linear(a, p["W"], p["b"])


def linear_tokens(a, p):
    """nn.Linear applied to each token (column) of a: matrix(n, T)."""
    return F.linear(a.T, p["W"], p["b"]).T


def bilinear(a, b, p):
    """PyTorch's bilinear form; hbp's W: (m*p, n) holds weight[i, j, k] at W[i + m*k, j]."""
    m, n, q = p["b"].shape[0], a.shape[0], b.shape[0]
    weight = p["W"].reshape(q, m, n).permute(1, 2, 0)  # [i, j, k] = W[k*m + i, j]
    return F.bilinear(a.unsqueeze(0), b.unsqueeze(0), weight, p["b"]).squeeze(0)


def cross_attention(x, y, p):  # src/test/resources/specs/cross_attention.hbp
    """Queries from the (T, d) sequence x', keys and values from the (S, e) sequence y'."""
    sq, skv = x.T, y.T
    q, k, v = sq @ p["Wq"].T, skv @ p["Wk"].T, skv @ p["Wv"].T
    att = torch.softmax(q @ k.T / math.sqrt(p["Wq"].shape[0]), dim=-1)  # (T, S)
    return (att @ v @ p["Wo"].T).T


def bilinear_net():
    params = {"h.weight": torch.randn(4, 5), "h.bias": torch.randn(4), "g.weight": torch.randn(3, 4), "g.bias": torch.randn(3),
              "z.weight": 0.8 * torch.randn(12, 4), "z.bias": torch.randn(4), "y.weight": torch.randn(3, 4), "y.bias": torch.randn(3)}
    lin = {"W": "weight", "b": "bias"}
    steps = [("h", lambda a, p: linear(a, p), ["x"], "h", lin), ("a", lambda h, p: torch.tanh(h), ["h"], None, {}),
             ("g", lambda h, p: linear(h, p), ["h"], "g", lin), ("b", lambda g, p: torch.sigmoid(g), ["g"], None, {}),
             ("z", bilinear, ["a", "b"], "z", lin), ("t", lambda z, p: torch.tanh(z), ["z"], None, {}),
             ("r", lambda t, a, p: t + a, ["t", "a"], None, {}), ("y", lambda r, p: linear(r, p), ["r"], "y", lin)]
    return params, steps, (5,)


def cross_net():
    params = {"q.weight": torch.randn(4, 4), "q.bias": torch.randn(4), "m.A": torch.randn(5, 3), "kv.weight": torch.randn(3, 4),
              "kv.bias": torch.randn(3), "o.Wq": 1.5 * torch.randn(2, 4), "o.Wk": 1.5 * torch.randn(2, 3), "o.Wv": torch.randn(2, 3),
              "o.Wo": torch.randn(4, 2), "y.weight": torch.randn(3, 4), "y.bias": torch.randn(3)}
    lin = {"W": "weight", "b": "bias"}
    steps = [("q", lambda x, p: linear_tokens(x, p), ["x"], "q", lin), ("m", lambda q, p: q @ p["A"], ["q"], "m", {"A": "A"}),
             ("kv", lambda m, p: linear_tokens(m, p), ["m"], "kv", lin), ("a", lambda kv, p: torch.tanh(kv), ["kv"], None, {}),
             ("o", cross_attention, ["q", "a"], "o", {n: n for n in ("Wq", "Wk", "Wv", "Wo")}),
             ("r", lambda o, q, p: o + q, ["o", "q"], None, {}), ("p", lambda r, p: r.mean(dim=1), ["r"], None, {}),
             ("y", lambda r, p: linear(r, p), ["p"], "y", lin)]
    return params, steps, (4, 5)


def repeated_net():
    """The bilinear net with one value given to both inputs: z = bilinear(b, b)."""
    params, steps, shape = bilinear_net()
    params["z.weight"] = 0.8 * torch.randn(12, 3)
    steps = [(v, bilinear, ["b", "b"], p, n) if v == "z" else (v, f, ins, p, n) for v, f, ins, p, n in steps]
    return params, steps, shape


NETS = {"bilinear": bilinear_net, "cross": cross_net, "repeated": repeated_net}


def module_params(params, prefix, names, override=None):
    """The spec-named parameters of a module use; override: {full name: tensor}."""
    override = override or {}
    return {k: override.get(prefix + "." + v, params[prefix + "." + v]) for k, v in names.items()}


def values(steps, params, xn, override=None):
    v = {"x": xn}
    for value, f, ins, prefix, names in steps:
        v[value] = f(*[v[a] for a in ins], module_params(params, prefix, names, override) if prefix else {})
    return v


def modify(m, kind):
    if kind == "hessian":
        return m
    if kind == "ggn":
        return torch.zeros_like(m)
    w, q = torch.linalg.eigh((m + m.T) / 2)
    w = w.abs() if kind == "pch-abs" else w.clamp(min=0)
    return q @ torch.diag(w) @ q.T


def main():
    name, out = sys.argv[1], sys.argv[2]
    params, steps, shape = NETS[name]()
    names = list(params)
    n, V = 4, 2
    x = torch.randn(n, *shape)
    y = torch.randint(0, 3, (n,))
    np.savez(out + "/params.npz", **{k: p.numpy() for k, p in params.items()})
    np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
    dirs = {k: torch.randn(V, *params[k].shape) for k in names}
    np.savez(out + "/dirs.npz", **{k: d.numpy() for k, d in dirs.items()})
    out_value = steps[-1][0]

    def logits(ps):
        p = dict(zip(names, ps))
        return torch.stack([values(steps, p, x[i])[out_value] for i in range(n)])

    def mean_loss(*ps):
        return F.cross_entropy(logits(ps), y)

    p0 = tuple(params[k] for k in names)
    ref = {"loss": np.array(mean_loss(*p0).item())}
    ps = [p.clone().requires_grad_(True) for p in p0]
    for k, g in zip(names, torch.autograd.grad(mean_loss(*ps), ps)):
        ref["grad." + k] = g.numpy()
    z0 = logits(p0).detach()
    hl = [torch.autograd.functional.hessian(lambda t: F.cross_entropy(t.unsqueeze(0), y[i:i + 1]), z0[i]) / n for i in range(n)]
    for idx, k in enumerate(names):
        def with_k(t):
            return tuple(t.reshape(params[k].shape) if j == idx else q for j, q in enumerate(p0))
        flat = params[k].reshape(-1)
        ref["hessian." + k] = torch.autograd.functional.hessian(lambda t: mean_loss(*with_k(t)), flat).numpy()
        j = torch.autograd.functional.jacobian(lambda t: logits(with_k(t)), flat)  # [n, C, numel]
        ref["ggn." + k] = sum(j[i].T @ hl[i] @ j[i] for i in range(n)).numpy()
    hv, gv = {k: [] for k in names}, {k: [] for k in names}
    for i in range(V):
        v = tuple(dirs[k][i] for k in names)
        _, h = torch.autograd.functional.hvp(mean_loss, p0, v)
        _, jv = torch.autograd.functional.jvp(lambda *q: logits(q), p0, v)
        _, hjv = torch.autograd.functional.hvp(lambda z: F.cross_entropy(z, y), z0, jv)
        _, g = torch.autograd.functional.vjp(lambda *q: logits(q), p0, hjv)
        for k, a, b in zip(names, h, g):
            hv[k].append(a)
            gv[k].append(b)
    for k in names:
        ref["hvp." + k] = torch.stack(hv[k]).numpy()
        ref["ggnvp." + k] = torch.stack(gv[k]).numpy()
    dz = gradients(steps, params, x, y, n, out_value)
    pch_exact(steps, params, x, n, dz, ref)
    frontier(steps, params, x, y, n, out_value, dz, ref)
    np.savez(out + "/ref.npz", **ref)
    print("ok", len(names), "parameters")


def flat(t):
    """A value's entries in a fixed order (column-major for a matrix; any fixed order serves)."""
    return t.T.reshape(-1) if t.dim() == 2 else t.reshape(-1)


def unflat(c, like):
    return c.reshape(like.shape[1], like.shape[0]).T if like.dim() == 2 else c.reshape(like.shape)


def gradients(steps, params, x, y, n, out_value):
    """dz[i][value]: the gradient of sample i's loss (cross-entropy of its logits) at every value."""
    with torch.no_grad():
        vals = [values(steps, params, x[i]) for i in range(n)]

    def loss_from(i, value, t):
        """Sample i's loss with `value` replaced by t (the steps after it recomputed)."""
        w = {"x": x[i]}
        for s_value, f, ins, prefix, names in steps:
            w[s_value] = t if s_value == value else f(*[w[a] for a in ins], module_params(params, prefix, names) if prefix else {})
        return F.cross_entropy(w[out_value].unsqueeze(0), y[i:i + 1])

    dz = []
    for i in range(n):
        g = {}
        for value, *_ in steps:
            t = vals[i][value].clone().requires_grad_(True)
            g[value] = torch.autograd.grad(loss_from(i, value, t), t)[0]
        dz.append(g)
    return dz


def joint_residual(f, args, pm, dz):
    """sum_k dz_k d^2 f_k / da^2 over the stacked (flat) inputs a of one step at one sample."""
    cat = torch.cat([flat(a) for a in args])
    cuts = np.cumsum([0] + [a.numel() for a in args])
    split = lambda c: [unflat(c[cuts[k]:cuts[k + 1]], args[k]) for k in range(len(args))]
    return torch.autograd.functional.hessian(lambda c: (flat(dz) * flat(f(*split(c), pm))).sum(), cat), cuts


def pch_exact(steps, params, x, n, dz, ref):
    """Exact PCH blocks, the definition of the whole-network PCH read at one parameter: the GGN
    block plus, per sample, every step's joint input residual modified per sample, pulled back by
    the Jacobian of the step's stacked inputs in the parameter, plus the parameter's own residual
    at its module use modified per sample; averaged over the batch."""
    for kind in ("pch-abs", "pch-clip"):
        for k in params:
            p0 = params[k]
            block = torch.tensor(ref["ggn." + k])
            for i in range(n):
                vals = values(steps, params, x[i])
                for value, f, ins, prefix, names in steps:
                    pm = module_params(params, prefix, names) if prefix else {}
                    args = [vals[a] for a in ins]
                    r, _ = joint_residual(f, args, pm, dz[i][value])
                    stacked = lambda t: torch.cat([flat(values(steps, {**params, k: t.reshape(p0.shape)}, x[i])[a]) for a in ins])
                    j = torch.autograd.functional.jacobian(stacked, p0.reshape(-1))
                    block = block + j.T @ modify(r, kind) @ j / n
                    if prefix and k.startswith(prefix + "."):
                        local = [a for a, b in names.items() if prefix + "." + b == k][0]
                        fp = lambda t: flat(f(*args, {**pm, local: t.reshape(p0.shape)}))
                        rp = torch.autograd.functional.hessian(lambda t: (flat(dz[i][value]) * fp(t)).sum(), p0.reshape(-1))
                        block = block + modify(rp, kind) / n
            ref[kind + "." + k] = block.numpy()


def frontier(steps, params, x, y, n, out_value, dz, ref):
    """kfra and bda blocks from the frontier definition of the module docstring."""
    with torch.no_grad():
        vals = [values(steps, params, x[i]) for i in range(n)]
    sizes = {v: vals[0][v].numel() for v in vals[0]}
    for strategy in ("kfra", "bda"):
        for kind in ("hessian", "ggn", "pch-abs", "pch-clip"):
            live = [out_value]
            H = torch.stack([torch.autograd.functional.hessian(lambda t: F.cross_entropy(t.unsqueeze(0), y[i:i + 1]), vals[i][out_value])
                             for i in range(n)]).mean(0)
            for value, f, ins, prefix, names in reversed(steps):
                if value not in live:
                    continue
                off, o = {}, 0
                for v in live:
                    off[v], o = o, o + sizes[v]
                zs = slice(off[value], off[value] + sizes[value])
                hzz = H[zs, zs].clone()
                entering = [a for a in ins if a != "x"]
                new_live = [v for v in live if v != value] + [a for a in dict.fromkeys(entering) if a not in live]
                noff, o = {}, 0
                for v in new_live:
                    noff[v], o = o, o + sizes[v]
                Ms, Rs = [], []
                pm = module_params(params, prefix, names) if prefix else {}
                for i in range(n):
                    M = torch.zeros(H.shape[0], o)
                    for v in live:
                        if v != value:
                            M[off[v]:off[v] + sizes[v], noff[v]:noff[v] + sizes[v]] = torch.eye(sizes[v])
                    args = [vals[i][a] for a in ins]
                    fi = lambda *ts: flat(f(*ts, pm))
                    jac = torch.autograd.functional.jacobian(fi, tuple(args))
                    for a, arg, j in zip(ins, args, jac):
                        if a != "x":
                            M[zs, noff[a]:noff[a] + sizes[a]] += j.reshape(sizes[value], -1) @ perm(arg)
                    # the joint residual over all the step's inputs (in each input's flat order)
                    r, cuts = joint_residual(f, args, pm, dz[i][value])
                    Rs.append(r)
                    Ms.append(M)
                if strategy == "kfra":
                    Hn = torch.stack([M.T @ H @ M for M in Ms]).mean(0)
                else:
                    Mbar = torch.stack(Ms).mean(0)
                    Hn = Mbar.T @ H @ Mbar
                R = modify(torch.stack(Rs).mean(0), kind)
                for k, a in enumerate(ins):
                    for l, b in enumerate(ins):
                        if a != "x" and b != "x":
                            Hn[noff[a]:noff[a] + sizes[a], noff[b]:noff[b] + sizes[b]] += R[cuts[k]:cuts[k + 1], cuts[l]:cuts[l + 1]]
                H, live = Hn, new_live
                for local, full in names.items():
                    p0 = params[prefix + "." + full]
                    js, rs = [], []
                    for i in range(n):
                        args = [vals[i][a] for a in ins]
                        fp = lambda t: flat(f(*args, module_params(params, prefix, names, {prefix + "." + full: t.reshape(p0.shape)})))
                        js.append(torch.autograd.functional.jacobian(fp, p0.reshape(-1)))
                        rs.append(torch.autograd.functional.hessian(lambda t: (flat(dz[i][value]) * fp(t)).sum(), p0.reshape(-1)))
                    if strategy == "kfra":
                        block = torch.stack([j.T @ hzz @ j for j in js]).mean(0)
                    else:
                        jbar = torch.stack(js).mean(0)
                        block = jbar.T @ hzz @ jbar
                    block = block + modify(torch.stack(rs).mean(0), kind)
                    ref[strategy + "." + kind + "." + prefix + "." + full] = block.detach().numpy()


def perm(arg):
    """The matrix taking a value's flat order to autograd's row-major order of its entries (P flat(a) = a.reshape(-1))."""
    k = arg.numel()
    idx = flat(torch.arange(k, dtype=torch.float64).reshape(arg.shape)).long()
    p = torch.zeros(k, k)
    p[idx, torch.arange(k)] = 1  # (row-major index) <- (flat position)
    return p


if __name__ == "__main__":
    main()
