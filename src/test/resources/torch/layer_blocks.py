"""Per-layer joint curvature blocks by PyTorch autograd (float64), as references for hbp's
Curvature.layerDense / layerMatProd (hbp curvature --blocks layer).  The problem (net, parameters,
batch) is network_products.py's, which this script runs first (it writes OUT/params.npz,
OUT/batch.npz, OUT/dirs.npz).  For every module with parameters (PyTorch names '<prefix>.<p>'),
the joint block over its parameters stacked in declaration order, each flattened row-major:
  hessian.<prefix>: torch.autograd.functional.hessian of the mean loss in those parameters;
  ggn.<prefix>:     J' H_z J, J the Jacobian of the net's outputs [N, C] in them
                    (torch.autograd.functional.jacobian), H_z the Hessian of the mean loss in the
                    outputs (torch.autograd.functional.hessian).
Usage: layer_blocks.py NET OUT_DIR.  Writes OUT/layer_ref.npz."""
import sys
import numpy as np
import torch

import network_products as problem  # runs the problem of NET (sys.argv) and writes its files

net, x, y, loss_fn = problem.net, problem.x, problem.y, problem.loss_fn
params = {k: v.detach() for k, v in net.named_parameters()}
names = list(params)
groups = {}
for k in names:
    groups.setdefault(k.rsplit(".", 1)[0], []).append(k)


def outputs_with(group, *ps):
    values = dict(params)
    values.update(zip(group, ps))
    return problem.functional_call(net, values, (x,))


ref = {}
z0 = outputs_with([]).detach()
hz = torch.autograd.functional.hessian(lambda z: loss_fn(z, y), z0).reshape(z0.numel(), z0.numel())
for prefix, group in groups.items():
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
np.savez(sys.argv[2] + "/layer_ref.npz", **ref)
print("ok", len(groups), "layers")
