"""Per-layer joint curvature blocks of graph networks (graph_networks.py's nets: branches, merges,
a tied layer, concatenated convolutions) by PyTorch autograd, float64, as references for
`hbp curvature --blocks layer` on graph networks.  Writes the problem (OUT/params.npz,
OUT/batch.npz) and OUT/layer_ref.npz with, for every module with parameters (prefix '<m>', its
parameters '<m>.weight', '<m>.bias' stacked in declaration order, each flattened row-major):
  hessian.<m>: torch.autograd.functional.hessian of the mean loss in those parameters (a tied
               module's parameters are shared, so its block sums both uses and their cross terms);
  ggn.<m>:     sum_n J_n' H_n J_n, J_n the Jacobian of sample n's outputs in them, H_n the Hessian
               of sample n's share of the mean loss (its loss / N) in its outputs;
  step.<kind>.<m>: torch.linalg.solve(ALPHA I + (1 - ALPHA) C, -g), g the mean loss's gradient in
               them, where that matrix is positive definite (CG's premise), for kind ggn and hessian.
Usage: graph_layer_blocks.py NET OUT_DIR ALPHA."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import functional_call, save_problem
from graph_networks import NETS

torch.set_default_dtype(torch.float64)
torch.manual_seed(3)

name, out, alpha = sys.argv[1], sys.argv[2], float(sys.argv[3])
make, shape = NETS[name]
net = make()
n = 5
x = torch.randn(n, *shape)
y = torch.randint(0, 3, (n,))
loss_fn = nn.CrossEntropyLoss()
params = {k: v.detach() for k, v in net.named_parameters()}
save_problem(out, dict(net.named_parameters()), x, y)

groups = {}
for k in params:
    groups.setdefault(k.rsplit(".", 1)[0], []).append(k)


def outputs_with(group, *ps):
    values = dict(params)
    values.update(zip(group, ps))
    return functional_call(net, values, (x,))


z0 = outputs_with([]).detach()
ref = {}
for prefix, group in groups.items():
    p0 = tuple(params[k] for k in group)
    sizes = [p.numel() for p in p0]
    d = sum(sizes)
    offsets = np.cumsum([0] + sizes)
    h = torch.autograd.functional.hessian(lambda *ps: loss_fn(outputs_with(group, *ps), y), p0)
    hessian = torch.zeros(d, d)
    for i in range(len(group)):
        for j in range(len(group)):
            hessian[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] = h[i][j].reshape(sizes[i], sizes[j])
    jac = torch.autograd.functional.jacobian(lambda *ps: outputs_with(group, *ps), p0)  # each [n, C, *shape]
    j = torch.cat([jac[i].reshape(n, z0.shape[1], sizes[i]) for i in range(len(group))], dim=2)  # [n, C, d]
    ggn = torch.zeros(d, d)
    for s in range(n):
        hl = torch.autograd.functional.hessian(lambda t: loss_fn(t.unsqueeze(0), y[s:s + 1]), z0[s]) / n
        ggn += j[s].T @ hl @ j[s]
    ps = [p.clone().requires_grad_() for p in p0]
    grads = torch.autograd.grad(loss_fn(outputs_with(group, *ps), y), ps)
    g = torch.cat([t.reshape(-1) for t in grads])
    ref["hessian." + prefix] = hessian.numpy()
    ref["ggn." + prefix] = ggn.numpy()
    for kind, c in (("hessian", hessian), ("ggn", ggn)):
        a = alpha * torch.eye(d) + (1 - alpha) * c
        if torch.linalg.eigvalsh(a).min() > 1e-8:
            ref["step." + kind + "." + prefix] = torch.linalg.solve(a, -g).numpy()
np.savez(out + "/layer_ref.npz", **ref)
print("ok", len(groups), "layers")
