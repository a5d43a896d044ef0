"""Damped Newton steps of paper eq. 10 with per-layer joint blocks, by PyTorch autograd and a dense
solve (float64), as references for hbp's Curvature.layerSolve (hbp curvature --blocks layer --solve).
The problem and the dense joint blocks are layer_blocks.py's (which runs network_products.py), which
this script runs first.  For every module with parameters (PyTorch names '<prefix>.<p>') and C its
joint block (hessian.<prefix> or ggn.<prefix>, parameters stacked in declaration order, each flattened
row-major), g the gradient of the mean loss in those parameters (torch.autograd.grad):
  step.<kind>.<prefix>:   d = torch.linalg.solve(ALPHA I + (1 - ALPHA) C, -g)   [D]
  mineig.<kind>.<prefix>: the smallest eigenvalue of ALPHA I + (1 - ALPHA) C     [] (CG needs it > 0)
  grad.<prefix>:          g                                                      [D]
Usage: layer_steps.py NET OUT_DIR ALPHA.  Writes OUT/layer_steps.npz (and layer_blocks.py's files)."""
import sys
import numpy as np
import torch

import layer_blocks as blocks  # runs the problem of NET (sys.argv) and its dense joint blocks

alpha = float(sys.argv[3])
problem, params, groups = blocks.problem, blocks.params, blocks.groups
leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
loss = problem.loss_fn(problem.functional_call(problem.net, leaves, (problem.x,)), problem.y)
grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
out = {}
for prefix, group in groups.items():
    g = torch.cat([grads[k].reshape(-1) for k in group])
    out["grad." + prefix] = g.numpy()
    for kind in ("hessian", "ggn"):
        c = torch.from_numpy(blocks.ref[kind + "." + prefix])
        a = alpha * torch.eye(c.shape[0]) + (1 - alpha) * c
        out["step." + kind + "." + prefix] = torch.linalg.solve(a, -g).numpy()
        out["mineig." + kind + "." + prefix] = np.array(torch.linalg.eigvalsh((a + a.T) / 2).min().item())
np.savez(sys.argv[2] + "/layer_steps.npz", **out)
print("ok", len(groups), "layers, alpha", alpha)
