"""The batch strategies' PCH from the paper's eq. 8 (kfra) and eq. 9 (bda), by PyTorch autograd per
sample, for hbp's cross-check (TorchCrossCheckTest).  Writes a net's parameters and a batch as hbp
reads them, and per parameter the blocks

    pch.<kind>.<strategy>.<param>          the paper's order: mod(mean_n R_n)
    persample.<kind>.<strategy>.<param>    the other order:   mean_n mod(R_n)

(kind: abs or clip; strategy: kfra or bda; row-major flattening, float64).  Each module's
batch-averaged output Hessian Hz is sent back by

    kfra:  Hx = mean_n J_n' Hz J_n       + residual term
    bda:   Hx = (mean_n J_n)' Hz (mean_n J_n) + residual term

and likewise for its parameters, where J_n is the module's Jacobian at sample n
(torch.autograd.functional.jacobian) and R_n = sum_k H z_k(x_n) dz_{n,k} its residual at the
per-sample output gradient dz_n (torch.autograd.functional.hessian of z(x) . dz_n: a double
backward).  PCH modifies the residual term: f = |.| or max(., 0) applied to the diagonal of a
diagonal matrix, else to the eigenvalues of its symmetric part (torch.linalg.eigh).  A residual
block z = x + body(x) is one module (Table 1, skip-connection); its body's parameters see the
block's output Hessian.  The loss is the mean cross-entropy: Hz at the logits is the mean of the
per-sample Hessians, dz_n the per-sample gradients.

Usage: batch_pch.py NET OUT_DIR  (NET: fc, resnet or skip)."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import Residual, functional_call, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(int(sys.argv[3]) if len(sys.argv) > 3 else 0)


class Skip(nn.Module):
    """hbp's skip module: z = x + W2 sigmoid(W1 x), parameters '<i>.W1', '<i>.W2'."""

    def __init__(self, n, h):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(h, n))
        self.W2 = nn.Parameter(torch.randn(n, h))

    def forward(self, x):
        return x + torch.sigmoid(x @ self.W1.T) @ self.W2.T


def scaled(linear, factor):
    """A linear layer with weights scaled up, so that activations leave their linear range."""
    with torch.no_grad():
        linear.weight.mul_(factor)
    return linear


NETS = {
    "fc": lambda: (nn.Sequential(
        scaled(nn.Linear(5, 4), 3), nn.Sigmoid(), scaled(nn.Linear(4, 4), 3), nn.Tanh(), nn.Linear(4, 3)), 5, 3),
    "resnet": lambda: (nn.Sequential(
        scaled(nn.Linear(5, 4), 2), nn.Tanh(),
        Residual(scaled(nn.Linear(4, 4), 3), nn.Sigmoid(), scaled(nn.Linear(4, 4), 3)),
        nn.Linear(4, 3)), 5, 3),
    "skip": lambda: (nn.Sequential(
        scaled(nn.Linear(5, 4), 2), nn.Tanh(), Skip(4, 3), nn.Linear(4, 3)), 5, 3),
}

MODS = {"abs": torch.abs, "clip": lambda t: torch.clamp(t, min=0)}


def modify(r, f):
    """PCH of one symmetric residual term: f of its diagonal where it is diagonal, else Q f(L) Q'."""
    if torch.count_nonzero(r - torch.diag(torch.diagonal(r))) == 0:
        return torch.diag(f(torch.diagonal(r)))
    lam, q = torch.linalg.eigh((r + r.T) / 2)
    return q @ torch.diag(f(lam)) @ q.T


def mean(ms):
    return sum(ms) / len(ms)


def propagate(js, h, strategy):
    """The first summand of eq. 8 (kfra) or eq. 9 (bda)."""
    if strategy == "kfra":
        return mean([j.T @ h @ j for j in js])
    jm = mean(js)
    return jm.T @ h @ jm


def residual_terms(rs, f):
    """{'pch': mod(mean R_n), 'persample': mean mod(R_n)}."""
    return {"pch": modify(mean(rs), f), "persample": mean([modify(r, f) for r in rs])}


def single(module, x, params=None):
    """The module on one sample x (a vector), with some parameters replaced."""
    out = functional_call(module, params, (x.unsqueeze(0),)) if params else module(x.unsqueeze(0))
    return out.squeeze(0)


def module_terms(module, x, dz, with_respect_to):
    """Per sample: the Jacobians J_n and residuals R_n of a module with respect to its input
    (with_respect_to None) or one of its parameters (by name), flattened row-major."""
    js, rs = [], []
    for n in range(x.shape[0]):
        if with_respect_to is None:
            fn = lambda v: single(module, v)
            at = x[n]
        else:
            p0 = dict(module.named_parameters())[with_respect_to].detach()
            fn = lambda v: single(module, x[n], {with_respect_to: v.reshape(p0.shape)})
            at = p0.reshape(-1)
        js.append(torch.autograd.functional.jacobian(fn, at))
        rs.append(torch.autograd.functional.hessian(lambda v: (fn(v) * dz[n]).sum(), at))
    return js, rs


def back(modules, prefix, x, h, dz, strategy, f, blocks):
    """Eq. 8 / 9 through a sequence from its output Hessians h ({'pch': .., 'persample': ..}) and
    per-sample output gradients dz; records parameter blocks; returns the Hessians at the input."""
    inputs = [x]
    for m in modules:
        inputs.append(m(inputs[-1]).detach())
    for i in reversed(range(len(modules))):
        m, xin = modules[i], inputs[i]
        path = prefix + str(i)
        if isinstance(m, Residual):
            back(list(m), path + ".", xin, h, dz, strategy, f, blocks)
        else:
            for name, _ in m.named_parameters():
                js, rs = module_terms(m, xin, dz, name)
                terms = residual_terms(rs, f)
                for order in terms:
                    blocks[order][path + "." + name] = propagate(js, h[order], strategy) + terms[order]
        js, rs = module_terms(m, xin, dz, None)
        terms = residual_terms(rs, f)
        h = {order: propagate(js, h[order], strategy) + terms[order] for order in terms}
        dz = torch.stack([js[n].T @ dz[n] for n in range(len(js))])
    return h


def main():
    net, features, classes = NETS[sys.argv[1]]()
    out = sys.argv[2]
    n = 6
    x = torch.randn(n, features)
    y = torch.randint(0, classes, (n,))
    save_problem(out, dict(net.named_parameters()), x, y)
    logits = net(x).detach()
    loss = lambda t, k: nn.functional.cross_entropy(t.unsqueeze(0), y[k:k + 1])
    hz = mean([torch.autograd.functional.hessian(lambda t: loss(t, k), logits[k]) for k in range(n)])
    dz = torch.stack([torch.autograd.functional.jacobian(lambda t: loss(t, k), logits[k]) for k in range(n)])
    ref = {"loss": np.array(nn.functional.cross_entropy(logits, y).item())}
    for kind, f in MODS.items():
        for strategy in ("kfra", "bda"):
            blocks = {"pch": {}, "persample": {}}
            back(list(net), "", x, {"pch": hz, "persample": hz}, dz, strategy, f, blocks)
            for order, bs in blocks.items():
                for name, b in bs.items():
                    ref[order + "." + kind + "." + strategy + "." + name] = b.detach().numpy()
    np.savez(out + "/ref.npz", **ref)
    print("ok", len(ref), "arrays")


main()
