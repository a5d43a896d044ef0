"""PyTorch's reference for hbp's 'mse' loss: a small net with nn.MSELoss(reduction='mean') (the mean
over all N*C entries), its parameters and a batch as hbp reads them, and autograd's loss, gradients,
exact Hessian blocks and GGN blocks of every parameter (row-major flattening), in float64; also the
loss with reduction='sum' divided by N, which is hbp's 'squareloss'.  Usage: mse_check.py OUT_DIR"""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import reference, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(1)

net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
out = sys.argv[1]
n = 4
x = torch.randn(n, 5)
y = torch.randn(n, 3)
params = dict(net.named_parameters())
save_problem(out, params, x, y)
ref = reference(net, params, x, y, nn.MSELoss(reduction="mean"))
ref["loss_sum_over_n"] = np.array((nn.MSELoss(reduction="sum")(net(x), y) / n).item())
np.savez(out + "/ref.npz", **ref)
print("ok", len(params), "parameters")
