"""kfra and bda on graph networks, from their definition (README, "Graph networks"), by PyTorch
autograd in float64: the batch-averaged joint Hessian of the live values (the frontier) as one
dense matrix, propagated back step by step, z = f(a_1, ..., a_k) replaced by its distinct inputs
through the linear map M_n (identity on the other live values, the step's per-sample Jacobians on
z), H' = mean_n M_n' H M_n (kfra, eq. 8) or M' H M with M = mean_n M_n (bda, eq. 9), plus the
step's residual R_n = d^2 (dz_n . f(a)) / da^2 over its distinct inputs, averaged over the batch
and then modified (|eigenvalues| or max(eigenvalues, 0) of a symmetric eigendecomposition).  A
linear layer's block is mean_n J_n' H(z, z) J_n (kfra) or J' H(z, z) J with the mean Jacobian
(bda).  Usage: graph_frontier.py NET OUT_DIR  (NET: add, concat, product).  Writes
OUT/params.npz, OUT/batch.npz and OUT/ref.npz with '<strategy>.<kind>.<param>' blocks (PyTorch's
row-major flattening)."""
import sys
import numpy as np
import torch
import torch.nn.functional as F

from autograd_reference import save_problem
from graph_networks import NETS

torch.set_default_dtype(torch.float64)
torch.manual_seed(1)


def steps(name, net):
    """The graph as (value, function of its inputs' values, inputs, linear layer or None), in order."""
    lin = lambda m: (lambda a: m(a))
    if name == "add":
        return [("h", lin(net.h), ["x"], net.h), ("a", torch.tanh, ["h"], None), ("b", torch.sigmoid, ["h"], None),
                ("z", lambda a, b: a + b, ["a", "b"], None), ("d", lambda z, h: z - h, ["z", "h"], None),
                ("y", lin(net.y), ["d"], net.y)]
    if name == "concat":
        return [("h", lin(net.h), ["x"], net.h), ("a", torch.tanh, ["h"], None), ("g", lin(net.g), ["x"], net.g),
                ("b", torch.sigmoid, ["g"], None), ("c", lambda a, b: torch.cat([a, b]), ["a", "b"], None), ("y", lin(net.y), ["c"], net.y)]
    return [("h", lin(net.h), ["x"], net.h), ("a", torch.tanh, ["h"], None), ("g", lin(net.g), ["x"], net.g),
            ("b", torch.sigmoid, ["g"], None), ("p", lambda a, b: a * b, ["a", "b"], None), ("q", lambda a, b: a * b, ["a", "a"], None),
            ("s", lambda p, q: p + q, ["p", "q"], None), ("y", lin(net.y), ["s"], net.y)]


def modify(m, kind):
    if kind in ("hessian",):
        return m
    if kind == "ggn":
        return torch.zeros_like(m)
    w, q = torch.linalg.eigh((m + m.T) / 2)
    w = w.abs() if kind == "pch-abs" else w.clamp(min=0)
    return q @ torch.diag(w) @ q.T


def main():
    name, out = sys.argv[1], sys.argv[2]
    net = NETS[name][0]()
    n, dim = 4, 5
    x = torch.randn(n, dim)
    y = torch.randint(0, 3, (n,))
    params = dict(net.named_parameters())
    save_problem(out, params, x, y)
    graph = steps(name, net)

    def values(xn):
        v = {"x": xn}
        for value, f, ins, _ in graph:
            v[value] = f(*[v[i] for i in ins])
        return v

    def loss_of(logits, yn):  # one sample's loss; the batch loss is their mean
        return F.cross_entropy(logits.unsqueeze(0), yn.unsqueeze(0))

    with torch.no_grad():
        vals = [values(x[i]) for i in range(n)]
    out_value = graph[-1][0]

    def loss_from(i, value, t):
        """Sample i's loss with `value` replaced by t (the steps after it recomputed)."""
        w = {"x": x[i]}
        for s_value, f, ins, _ in graph:
            w[s_value] = t if s_value == value else f(*[w[a] for a in ins])
        return loss_of(w[out_value], y[i])

    # dz: the gradient of each sample's loss at every value
    dz = []
    for i in range(n):
        g = {}
        for value, _, _, _ in graph:
            t = vals[i][value].clone().requires_grad_(True)
            g[value] = torch.autograd.grad(loss_from(i, value, t), t)[0]
        dz.append(g)

    ref = {}
    for strategy in ("kfra", "bda"):
        for kind in ("hessian", "ggn", "pch-abs", "pch-clip"):
            live = [out_value]
            sizes = {v: vals[0][v].numel() for v in vals[0]}
            hl = torch.stack([torch.autograd.functional.hessian(lambda t: loss_of(t, y[i]), vals[i][out_value]) for i in range(n)]).mean(0)
            H = hl
            output_h = {}
            for value, f, ins, layer in reversed(graph):
                if value not in live:
                    continue
                distinct = list(dict.fromkeys(a for a in ins if a != "x"))
                off = {}
                o = 0
                for v in live:
                    off[v] = o
                    o += sizes[v]
                zs = slice(off[value], off[value] + sizes[value])
                output_h[value] = H[zs, zs].clone()
                new_live = [v for v in live if v != value] + [a for a in distinct if a not in live]
                noff = {}
                o = 0
                for v in new_live:
                    noff[v] = o
                    o += sizes[v]
                D = o
                Ms, Rs = [], []
                for i in range(n):
                    M = torch.zeros(H.shape[0], D)
                    for v in live:
                        if v != value:
                            M[off[v]:off[v] + sizes[v], noff[v]:noff[v] + sizes[v]] = torch.eye(sizes[v])
                    if distinct:
                        fi = lambda *ts: f(*[ts[distinct.index(a)] if a in distinct else vals[i][a] for a in ins])
                        jac = torch.autograd.functional.jacobian(fi, tuple(vals[i][a] for a in distinct))
                        for a, j in zip(distinct, jac):
                            M[zs, noff[a]:noff[a] + sizes[a]] += j
                        cat = torch.cat([vals[i][a] for a in distinct])
                        split = lambda c: [c[sum(sizes[b] for b in distinct[:k]):sum(sizes[b] for b in distinct[:k + 1])] for k in range(len(distinct))]
                        Rs.append(torch.autograd.functional.hessian(lambda c: (dz[i][value] * fi(*split(c))).sum(), cat))
                    Ms.append(M)
                if strategy == "kfra":
                    Hn = torch.stack([M.T @ H @ M for M in Ms]).mean(0)
                else:
                    Mbar = torch.stack(Ms).mean(0)
                    Hn = Mbar.T @ H @ Mbar
                if distinct:
                    R = modify(torch.stack(Rs).mean(0), kind)
                    idx = torch.cat([torch.arange(noff[a], noff[a] + sizes[a]) for a in distinct])
                    Hn[idx.unsqueeze(1), idx.unsqueeze(0)] += R
                H, live = Hn, new_live
                if layer is not None:
                    for pname, p in layer.named_parameters():
                        full = [k for k, q in params.items() if q is p][0]
                        js = []
                        for i in range(n):
                            a_in = vals[i][ins[0]]
                            if pname == "weight":
                                fn = lambda t: F.linear(a_in, t.reshape(p.shape), layer.bias)
                            else:
                                fn = lambda t: F.linear(a_in, layer.weight, t.reshape(p.shape))
                            js.append(torch.autograd.functional.jacobian(fn, p.detach().reshape(-1)))
                        hz = output_h[value]
                        if strategy == "kfra":
                            block = torch.stack([j.T @ hz @ j for j in js]).mean(0)
                        else:
                            jbar = torch.stack(js).mean(0)
                            block = jbar.T @ hz @ jbar
                        ref[strategy + "." + kind + "." + full] = block.detach().numpy()
    np.savez(out + "/ref.npz", **ref)
    print("ok", len(ref), "blocks")


if __name__ == "__main__":
    main()
