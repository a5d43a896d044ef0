"""Damped Newton steps of paper eq. 10 with per-layer joint blocks, by PyTorch autograd and a dense
solve (float64), as references for hbp's Curvature.layerSolve (hbp curvature --blocks layer --solve).
The problem and the dense joint blocks are layer_blocks.py's (which runs network_products.py), which
this script runs first.  For every module with parameters (PyTorch names '<prefix>.<p>') and C its
joint block (hessian.<prefix> or ggn.<prefix>, parameters stacked in declaration order, each flattened
row-major), g the gradient of the mean loss in those parameters (torch.autograd.grad;
autograd_reference.damped_steps):
  step.<kind>.<prefix>:   d = torch.linalg.solve(ALPHA I + (1 - ALPHA) C, -g)   [D]
  mineig.<kind>.<prefix>: the smallest eigenvalue of ALPHA I + (1 - ALPHA) C     [] (CG needs it > 0)
  grad.<prefix>:          g                                                      [D]
Usage: layer_steps.py NET OUT_DIR ALPHA.  Writes OUT/layer_steps.npz (and layer_blocks.py's files)."""
import sys
import numpy as np

import layer_blocks as blocks  # runs the problem of NET (sys.argv) and its dense joint blocks
from autograd_reference import damped_steps

alpha = float(sys.argv[3])
problem = blocks.problem
out = damped_steps(problem.net, blocks.params, problem.x, problem.y, problem.loss_fn, blocks.ref, alpha)
np.savez(sys.argv[2] + "/layer_steps.npz", **out)
print("ok", len(blocks.groups), "layers, alpha", alpha)
