"""Per-layer joint curvature blocks by PyTorch autograd (float64), as references for hbp's
Curvature.layerDense / layerMatProd (hbp curvature --blocks layer).  The problem (net, parameters,
batch) is network_products.py's, which this script runs first (it writes OUT/params.npz,
OUT/batch.npz, OUT/dirs.npz).  For every module with parameters (PyTorch names '<prefix>.<p>'),
the joint block over its parameters stacked in declaration order, each flattened row-major
(autograd_reference.joint_blocks):
  hessian.<prefix>: torch.autograd.functional.hessian of the mean loss in those parameters;
  ggn.<prefix>:     J' H_z J, J the Jacobian of the net's outputs [N, C] in them
                    (torch.autograd.functional.jacobian), H_z the Hessian of the mean loss in the
                    outputs (torch.autograd.functional.hessian).
Usage: layer_blocks.py NET OUT_DIR.  Writes OUT/layer_ref.npz."""
import sys
import numpy as np

import network_products as problem  # runs the problem of NET (sys.argv) and writes its files
from autograd_reference import joint_blocks, module_groups

params = {k: v.detach() for k, v in problem.net.named_parameters()}
groups = module_groups(params)
ref = joint_blocks(problem.net, params, problem.x, problem.y, problem.loss_fn)
np.savez(sys.argv[2] + "/layer_ref.npz", **ref)
print("ok", len(groups), "layers")
