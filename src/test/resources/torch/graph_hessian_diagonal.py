"""The PyTorch reference of the exact Hessian diagonal on graph networks, in float64, independently
of hbp: autograd's Hessian of the mean loss in ALL parameters at once (one flat vector,
torch.autograd.functional.hessian, i.e. double backward), whose diagonal is split by parameter and
written in PyTorch's names and layouts:

  hdiag.<p>   diag(H)[entries of p], in p's shape (row-major as PyTorch holds it)
  loss        the mean loss

Nets (as the Java test writes them in hbp's DSL):
  skipcat     a branch, a concat and a skip connection (+)      (defined here, as in graph_kfac.py)
  add         a branch with + and -                              (graph_networks.py)
  product     .* merges of two branches and of a value with itself (graph_networks.py)
  tied        one linear instance used twice in a row            (graph_networks.py)
  bilinear    a bilinear module of two branches of one value    (graph_multi_input.py)
  repeated    the bilinear module given one value twice          (graph_multi_input.py)
Usage: graph_hessian_diagonal.py NET OUT_DIR"""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograd_reference import functional_call, save_problem
import graph_multi_input
import graph_networks

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


class SkipCat(nn.Module):
    """h = linear(x); a = tanh(h); b = sigmoid(linear(a)); k = linear(concat(a, b)); y = linear(tanh(k + h))."""

    def __init__(self):
        super().__init__()
        self.h, self.g, self.k, self.y = nn.Linear(5, 4), nn.Linear(4, 3), nn.Linear(7, 4), nn.Linear(4, 3)
        with torch.no_grad():
            self.h.weight.mul_(2)

    def forward(self, x):
        h = self.h(x)
        a = torch.tanh(h)
        b = torch.sigmoid(self.g(a))
        return self.y(torch.tanh(self.k(torch.cat([a, b], dim=1)) + h))


MODULES = {"skipcat": SkipCat, "add": graph_networks.Add, "product": graph_networks.Product, "tied": graph_networks.Tied}


def problem(name):
    """(parameters, logits(parameters) on the batch, x, y)."""
    n = 5
    if name in MODULES:
        net = MODULES[name]()
        params = {k: v.detach() for k, v in net.named_parameters()}
        x = torch.randn(n, 5)
        return params, lambda ps: functional_call(net, ps, (x,)), x, torch.randint(0, 3, (n,))
    params, steps, shape = graph_multi_input.NETS[name]()
    x = torch.randn(n, *shape)
    out = steps[-1][0]
    return params, lambda ps: torch.stack([graph_multi_input.values(steps, ps, x[i])[out] for i in range(n)]), x, torch.randint(0, 3, (n,))


def main():
    name, out = sys.argv[1], sys.argv[2]
    params, logits, x, y = problem(name)
    save_problem(out, params, x, y)
    names = list(params)
    sizes = [params[k].numel() for k in names]

    def unflat(theta):
        return {k: t.reshape(params[k].shape) for k, t in zip(names, torch.split(theta, sizes))}

    def mean_loss(theta):
        return F.cross_entropy(logits(unflat(theta)), y)

    theta = torch.cat([params[k].reshape(-1) for k in names])
    h = torch.autograd.functional.hessian(mean_loss, theta)
    ref = {"loss": np.array(mean_loss(theta).item())}
    for k, d in unflat(torch.diagonal(h)).items():
        ref["hdiag." + k] = d.numpy()
    np.savez(out + "/ref.npz", **ref)
    print("ok", len(names), "parameters,", theta.numel(), "entries")


if __name__ == "__main__":
    main()
