"""PyTorch's reference for hbp's 'gelu' module (modules-spec/gelu.hbp, the exact GELU with erf): a
small net with nn.GELU() (approximate='none', x * Phi(x) through erf) and nn.CrossEntropyLoss(), its
parameters and a batch as hbp reads them, and autograd's loss, gradients, exact Hessian blocks and
GGN blocks of every parameter (row-major flattening), in float64.  Usage: gelu_check.py OUT_DIR"""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import reference, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(2)

net = nn.Sequential(nn.Linear(5, 4), nn.GELU(), nn.Linear(4, 3))
out = sys.argv[1]
n = 4
x = 2 * torch.randn(n, 5)
y = torch.tensor([0, 2, 1, 2])
params = dict(net.named_parameters())
save_problem(out, params, x, y)
ref = reference(net, params, x, y, nn.CrossEntropyLoss())
np.savez(out + "/ref.npz", **ref)
print("ok", len(params), "parameters")
