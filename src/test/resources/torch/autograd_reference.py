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


def module_groups(params):
    """The parameters of each module, by its prefix ('<m>.weight' -> '<m>'), in declaration order."""
    groups = {}
    for k in params:
        groups.setdefault(k.rsplit(".", 1)[0], []).append(k)
    return groups


def joint_blocks(net, params, x, y, loss_fn):
    """For every module with parameters (prefix '<m>'), the joint blocks over its parameters stacked in
    declaration order, each flattened row-major: {'hessian.<m>': torch.autograd.functional.hessian of
    the mean loss in them, 'ggn.<m>': J' H_z J, J the Jacobian of the net's outputs [N, C] in them,
    H_z the Hessian of the mean loss in the outputs}; a module used twice shares its parameters, so
    its blocks sum both uses and their cross terms."""
    params = {k: v.detach() for k, v in params.items()}

    def outputs_with(group, *ps):
        values = dict(params)
        values.update(zip(group, ps))
        return functional_call(net, values, (x,))

    ref = {}
    z0 = outputs_with([]).detach()
    hz = torch.autograd.functional.hessian(lambda z: loss_fn(z, y), z0).reshape(z0.numel(), z0.numel())
    for prefix, group in module_groups(params).items():
        p0 = tuple(params[k] for k in group)
        sizes = [p.numel() for p in p0]
        d = sum(sizes)
        h = torch.autograd.functional.hessian(lambda *ps: loss_fn(outputs_with(group, *ps), y), p0)
        dense = torch.zeros(d, d)
        offsets = np.cumsum([0] + sizes)
        for i in range(len(group)):
            for j in range(len(group)):
                dense[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] = h[i][j].reshape(sizes[i], sizes[j])
        ref["hessian." + prefix] = dense.numpy()
        jac = torch.autograd.functional.jacobian(lambda *ps: outputs_with(group, *ps), p0)
        j = torch.cat([jac[i].reshape(z0.numel(), sizes[i]) for i in range(len(group))], dim=1)
        ref["ggn." + prefix] = (j.T @ hz @ j).numpy()
    return ref


def damped_steps(net, params, x, y, loss_fn, blocks, alpha):
    """Paper eq. 10 with each module's joint block C of `blocks` (joint_blocks'), g the mean loss's
    gradient in its parameters stacked as there: {'grad.<m>': g, 'step.<kind>.<m>':
    torch.linalg.solve(alpha I + (1 - alpha) C, -g), 'mineig.<kind>.<m>': the smallest eigenvalue of
    that matrix (CG needs it > 0)} for kind hessian and ggn."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    loss = loss_fn(functional_call(net, leaves, (x,)), y)
    grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    out = {}
    for prefix, group in module_groups(params).items():
        g = torch.cat([grads[k].reshape(-1) for k in group])
        out["grad." + prefix] = g.numpy()
        for kind in ("hessian", "ggn"):
            c = torch.from_numpy(blocks[kind + "." + prefix])
            a = alpha * torch.eye(c.shape[0]) + (1 - alpha) * c
            out["step." + kind + "." + prefix] = torch.linalg.solve(a, -g).numpy()
            out["mineig." + kind + "." + prefix] = np.array(torch.linalg.eigvalsh((a + a.T) / 2).min().item())
    return out
