"""PyTorch's reference for the transformer's modules of modules-spec/ (layernorm, layernorm_tokens,
rms_norm, gelu_tanh, softmax, meanpool, embedding, batchnorm, self_attention,
self_attention_masked, attention_2heads, multihead_attention{,_bias}{,_masked}): random values, directions and output gradients, and,
computed in float64 by PyTorch's own modules and functionals (nn.LayerNorm, nn.RMSNorm or, where
torch lacks it, its formula, F.gelu(approximate='tanh'), F.softmax, nn.Embedding, nn.BatchNorm1d in
eval(), nn.MultiheadAttention, attention in torch ops for k != d) and autograd:
  z          the forward value,
  jv.W       J_W v        (torch.autograd.functional.jvp),
  jtu.W      J_W' u       (vjp),
  rv.W       R_W v with R_W the Hessian of <dz, z> in W (hvp): hbp's residual,
for every input and parameter W that PyTorch differentiates.

hbp's conventions: tokens are columns (X: matrix(d, T) is PyTorch's (T, d) sequence transposed),
nn.Embedding's weight is E' and its ids are X's one-hot columns, a causal mask is PyTorch's boolean
attn_mask (True = masked) and hbp's additive data M = -1e30 where masked, transposed.

Arrays are saved as (S, D, cols, rows) C-order, i.e. S samples of D directions of column-major
items, as org.hbp.backend.Backend.fromArray(S, D, rows, cols, data) reads them; parameters have
S = 1. Keys: NAME.dim.DIM, NAME.val.VAR, NAME.v.VAR, NAME.u, NAME.dz, NAME.ref.z,
NAME.ref.jv.VAR, NAME.ref.jtu.VAR, NAME.ref.rv.VAR.  Usage: transformer_modules_check.py OUT_DIR"""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import hvp, jvp, vjp
from torch.nn.utils.stateless import functional_call

torch.set_default_dtype(torch.float64)
torch.manual_seed(16)
N, D = 2, 2  # samples, directions
out = {}


def save(key, a):
    """a: (S, D, rows, cols) -> (S, D, cols, rows) C-order, hbp's column-major items."""
    out[key] = np.ascontiguousarray(a.detach().transpose(-1, -2).numpy())


def item(a):
    """A vector (r,) as an (r, 1) item; a matrix stays."""
    return a.unsqueeze(-1) if a.dim() == 1 else a


def case(name, dims, inputs, params, data, f, wrt):
    """f(values) -> z (hbp layout), values: per-sample inputs and data, shared params."""
    for d, v in dims.items():
        out[name + ".dim." + d] = np.array(float(v))
    for k, v in {**inputs, **data}.items():
        save(name + ".val." + k, item_batch(v))
    for k, v in params.items():
        save(name + ".val." + k, item(v)[None, None])
    values = [dict({k: v[s] for k, v in {**inputs, **data}.items()}, **params) for s in range(N)]
    z = torch.stack([f(vals) for vals in values])
    zshape = z.shape[1:]
    dz = torch.randn(N, *zshape)
    u = torch.randn(N, D, *zshape)
    save(name + ".ref.z", item_batch(z))
    save(name + ".dz", item_batch(dz))
    save(name + ".u", item_dirs(u))
    for w in wrt:
        shape = inputs[w].shape[1:] if w in inputs else params[w].shape
        v = torch.randn(N, D, *shape)
        save(name + ".v." + w, item_dirs(v))
        jv, jtu, rv = (torch.zeros(N, D, *zshape), torch.zeros(N, D, *shape), torch.zeros(N, D, *shape))
        for s in range(N):
            def fw(t, s=s):
                return f(dict(values[s], **{w: t}))

            def loss(t, s=s):
                return (dz[s] * fw(t)).sum()

            for d in range(D):
                jv[s, d] = jvp(fw, values[s][w], v[s, d])[1]
                jtu[s, d] = vjp(fw, values[s][w], u[s, d])[1]
                rv[s, d] = hvp(loss, values[s][w], v[s, d])[1]
        save(name + ".ref.jv." + w, item_dirs(jv))
        save(name + ".ref.jtu." + w, item_dirs(jtu))
        save(name + ".ref.rv." + w, item_dirs(rv))
    print("ok", name, "wrt", ", ".join(wrt))


def item_batch(a):
    """(S, *item) -> (S, 1, rows, cols)."""
    return (a.unsqueeze(-1) if a.dim() == 2 else a).unsqueeze(1)


def item_dirs(a):
    """(S, D, *item) -> (S, D, rows, cols)."""
    return a.unsqueeze(-1) if a.dim() == 3 else a


n, d, T, V = 5, 6, 4, 7

# nn.LayerNorm(n), eps 1e-5, weight g, bias b
ln = nn.LayerNorm(n)
assert ln.eps == 1e-5
case("layernorm", {"n": n}, {"x": torch.randn(N, n)}, {"g": torch.randn(n), "b": torch.randn(n)}, {},
     lambda a: functional_call(ln, {"weight": a["g"], "bias": a["b"]}, (a["x"],)), ["x", "g", "b"])

# nn.LayerNorm(d) over each token of the (T, d) sequence X'
lnt = nn.LayerNorm(d)
case("layernorm_tokens", {"d": d, "T": T}, {"X": torch.randn(N, d, T)}, {"g": torch.randn(d), "b": torch.randn(d)}, {},
     lambda a: functional_call(lnt, {"weight": a["g"], "bias": a["b"]}, (a["X"].T,)).T, ["X", "g", "b"])

# nn.RMSNorm(n, eps=1e-6) (torch >= 2.4); else its formula x * rsqrt(mean(x^2) + eps) * weight
if hasattr(nn, "RMSNorm"):
    rms = nn.RMSNorm(n, eps=1e-6)
    rms_f = lambda a: functional_call(rms, {"weight": a["g"]}, (a["x"],))
    print("rms_norm: nn.RMSNorm")
else:
    rms_f = lambda a: a["x"] * torch.rsqrt(a["x"].pow(2).mean(-1, keepdim=True) + 1e-6) * a["g"]
    print("rms_norm: torch", torch.__version__, "has no nn.RMSNorm; its formula")
case("rms_norm", {"n": n}, {"x": torch.randn(N, n)}, {"g": torch.randn(n)}, {}, rms_f, ["x", "g"])

case("gelu_tanh", {"n": n}, {"x": 2 * torch.randn(N, n)}, {}, {}, lambda a: F.gelu(a["x"], approximate="tanh"), ["x"])

case("softmax", {"n": n}, {"x": 2 * torch.randn(N, n)}, {}, {}, lambda a: F.softmax(a["x"], dim=-1), ["x"])

case("meanpool", {"d": d, "T": T}, {"X": torch.randn(N, d, T)}, {}, {}, lambda a: a["X"].T.mean(dim=0), ["X"])

# nn.Embedding(V, d): weight = E', ids = the one-hot columns of X (no derivative in the ids)
emb = nn.Embedding(V, d)
ids = torch.randint(0, V, (N, T))
onehot = F.one_hot(ids, V).double().transpose(1, 2)  # (N, V, T)
id_of = {onehot[s].numpy().tobytes(): ids[s] for s in range(N)}
case("embedding", {"V": V, "d": d, "T": T}, {"X": onehot}, {"E": torch.randn(d, V)}, {},
     lambda a: functional_call(emb, {"weight": a["E"].T}, (id_of[a["X"].detach().numpy().tobytes()],)).T, ["E"])

# nn.BatchNorm1d(n).eval(): running_mean, running_var as data
bn = nn.BatchNorm1d(n).eval()
assert bn.eps == 1e-5
case("batchnorm", {"n": n}, {"x": torch.randn(N, n)}, {"g": torch.randn(n), "b": torch.randn(n)},
     {"mean": torch.randn(N, n), "var": torch.rand(N, n) + 0.5},
     lambda a: functional_call(bn, {"weight": a["g"], "bias": a["b"], "running_mean": a["mean"], "running_var": a["var"]},
                    (a["x"][None],))[0], ["x", "g", "b"])


def mha_f(mha, causal):
    """nn.MultiheadAttention(d, h, bias=False) on the (1, T, d) batch X', hbp's weights."""
    def f(a):
        s = a["X"].T[None]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if causal else None
        p = {"in_proj_weight": torch.cat([a["Wq"], a["Wk"], a["Wv"]]), "out_proj.weight": a["Wo"]}
        return functional_call(mha, p, (s, s, s), {"need_weights": False, "attn_mask": mask})[0][0].T
    return f


def attention_ops(a):
    """Single-head attention in torch ops, for k != d: softmax(Q K' / sqrt(k), dim=-1) V Wo' on S = X'."""
    s = a["X"].T
    q, k_, v = s @ a["Wq"].T, s @ a["Wk"].T, s @ a["Wv"].T
    return (F.softmax(q @ k_.T / a["Wq"].shape[0] ** 0.5, dim=-1) @ v @ a["Wo"].T).T


def weights(rows, cols):
    return {"Wq": torch.randn(rows, cols) / 2, "Wk": torch.randn(rows, cols) / 2, "Wv": torch.randn(rows, cols),
            "Wo": torch.randn(cols, rows)}


W4 = ["X", "Wq", "Wk", "Wv", "Wo"]
mha1 = nn.MultiheadAttention(d, 1, bias=False, batch_first=True)
case("self_attention", {"d": d, "k": d, "T": T}, {"X": torch.randn(N, d, T)}, weights(d, d), {}, mha_f(mha1, False), W4)
k = 3
case("self_attention_ops", {"d": d, "k": k, "T": T}, {"X": torch.randn(N, d, T)}, weights(k, d), {}, attention_ops, W4)
causal = torch.tril(torch.zeros(T, T) - 1e30, diagonal=-1)  # hbp's M[i, j], key i, query j: masked where i > j
case("self_attention_masked", {"d": d, "k": d, "T": T}, {"X": torch.randn(N, d, T)}, weights(d, d),
     {"M": causal.expand(N, T, T)}, mha_f(mha1, True), W4)


def mha2_f(a):
    """nn.MultiheadAttention(d, 2, bias=False) on X', head i's weights Wq_i, ... as rows of in_proj_weight."""
    s = a["X"].T[None]
    p = {"in_proj_weight": torch.cat([a[w + str(i)] for w in ["Wq", "Wk", "Wv"] for i in (1, 2)]),
         "out_proj.weight": torch.cat([a["Wo1"], a["Wo2"]], dim=1)}
    return functional_call(mha2, p, (s, s, s), {"need_weights": False})[0][0].T


mha2 = nn.MultiheadAttention(d, 2, bias=False, batch_first=True)
w2 = {w + str(i): t for i in (1, 2) for w, t in weights(d // 2, d).items()}
case("attention_2heads", {"d": d, "k": d // 2, "T": T}, {"X": torch.randn(N, d, T)}, w2, {}, mha2_f, ["X"] + list(w2))


def mhah_f(mha, causal):
    """nn.MultiheadAttention(d, h) on X' (hbp's multihead_attention*: heads as a dim), with its biases when it has them."""
    def f(a):
        s = a["X"].T[None]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if causal else None
        p = {"in_proj_weight": torch.cat([a["Wq"], a["Wk"], a["Wv"]]), "out_proj.weight": a["Wo"]}
        if mha.in_proj_bias is not None:
            p.update({"in_proj_bias": torch.cat([a["bq"], a["bk"], a["bv"]]), "out_proj.bias": a["bo"]})
        return functional_call(mha, p, (s, s, s), {"need_weights": False, "attn_mask": mask})[0][0].T
    return f


h = 3  # three heads of d / h = 2 features: the head order of in_proj_weight's rows matters
biases = {"bq": torch.randn(d), "bk": torch.randn(d), "bv": torch.randn(d), "bo": torch.randn(d)}
for bias in (False, True):
    mhah = nn.MultiheadAttention(d, h, bias=bias, batch_first=True)
    wh = dict(weights(d, d), **(biases if bias else {}))
    for masked in (False, True):
        name = "multihead_attention" + ("_bias" if bias else "") + ("_masked" if masked else "")
        case(name, {"d": d, "h": h, "k": d // h, "T": T}, {"X": torch.randn(N, d, T)}, wh,
             {"M": causal.expand(N, T, T)} if masked else {}, mhah_f(mhah, masked), ["X"] + list(wh))

np.savez(sys.argv[1] + "/ref.npz", **out)
print("ok", len(out), "arrays")
