"""Shared parts of the PyTorch references of hbp's cross-checks (float64, run by path, so that this
module is found beside them): a residual block laid out as hbp names its parameters, the export of
a problem as hbp reads it, and autograd's mean loss, gradients, exact Hessian blocks and GGN blocks
of every parameter (row-major flattening)."""
import numpy as np
import torch
from torch import nn

try:  # torch >= 2.0
    from torch.func import functional_call
except ImportError:  # Debian's python3-torch 1.13
    from torch.nn.utils.stateless import functional_call


class Residual(nn.Sequential):
    """z = x + body(x); its body's parameters are '<i>.<j>.weight' as in hbp."""

    def forward(self, x):
        return x + super().forward(x)


def save_problem(out, params, x, y):
    """OUT/params.npz (PyTorch's names and layouts) and OUT/batch.npz (x, y)."""
    np.savez(out + "/params.npz", **{k: v.detach().numpy() for k, v in params.items()})
    np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())


def outputs_with(net, params, x, name, value):
    """The net's outputs on x with parameter `name` replaced by `value` (the others detached)."""
    p = {k: (value if k == name else v.detach()) for k, v in params.items()}
    return functional_call(net, p, (x,))


def reference(net, params, x, y, loss_fn):
    """For a loss that is a mean over the batch: {'loss', 'grad.<p>', 'hessian.<p>', 'ggn.<p>'}.
    GGN block of p: sum_i J_i' H_i J_i with J_i the Jacobian of sample i's outputs in p and H_i the
    Hessian of sample i's share of the batch loss (its own loss / N) in its outputs."""
    names = list(params)
    n = x.shape[0]
    loss = loss_fn(net(x), y)
    ref = {"loss": np.array(loss.item())}
    grads = torch.autograd.grad(loss, [params[k] for k in names])
    for k, g in zip(names, grads):
        ref["grad." + k] = g.detach().numpy()
    z = net(x).detach()
    for k in names:
        p0 = params[k].detach()
        numel = p0.numel()
        h = torch.autograd.functional.hessian(lambda v: loss_fn(outputs_with(net, params, x, k, v.reshape(p0.shape)), y), p0.reshape(-1))
        ref["hessian." + k] = h.numpy()
        j = torch.autograd.functional.jacobian(lambda v: outputs_with(net, params, x, k, v.reshape(p0.shape)), p0.reshape(-1))  # [n, C, numel]
        ggn = torch.zeros(numel, numel)
        for i in range(n):
            hl = torch.autograd.functional.hessian(lambda t: loss_fn(t.unsqueeze(0), y[i:i + 1]), z[i]) / n
            ggn += j[i].T @ hl @ j[i]
        ref["ggn." + k] = ggn.numpy()
    return ref
