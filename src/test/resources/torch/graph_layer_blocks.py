"""Per-layer joint curvature blocks of graph networks (graph_networks.py's nets: branches, merges,
a tied layer, concatenated convolutions) by PyTorch autograd, float64, as references for
`hbp curvature --blocks layer` on graph networks.  Writes the problem (OUT/params.npz,
OUT/batch.npz) and OUT/layer_ref.npz with, for every module with parameters (prefix '<m>', its
parameters stacked in declaration order, each flattened row-major): hessian.<m> and ggn.<m>
(autograd_reference.joint_blocks; a tied module's parameters are shared, so its blocks sum both
uses and their cross terms), and step.<kind>.<m>, grad.<m>, mineig.<kind>.<m> of paper eq. 10
with damping ALPHA (autograd_reference.damped_steps).
Usage: graph_layer_blocks.py NET OUT_DIR ALPHA."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import damped_steps, joint_blocks, module_groups, save_problem
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
params = dict(net.named_parameters())
save_problem(out, params, x, y)
ref = joint_blocks(net, params, x, y, loss_fn)
ref.update(damped_steps(net, params, x, y, loss_fn, ref, alpha))
np.savez(out + "/layer_ref.npz", **ref)
print("ok", len(module_groups(params)), "layers")
