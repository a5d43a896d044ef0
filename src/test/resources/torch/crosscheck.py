"""Writes a net's parameters and a batch as hbp reads them (PyTorch layouts), and the autograd
reference: mean loss, gradients, and exact Hessian and GGN blocks of every parameter (row-major
flattening), in float64.  Usage: crosscheck.py NET OUT_DIR  (NET: cnn, resnet or fc)."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import Residual, reference, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


def cnn():
    # input 2 x 8 x 8; conv (stride, padding), max-pool, zero-pad, avg-pool, flatten, linear
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2), nn.ZeroPad2d(1), nn.AvgPool2d(2),
        nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(16, 3)), (2, 8, 8), 3


def resnet():
    return nn.Sequential(
        nn.Linear(5, 4), nn.Tanh(),
        Residual(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 4)),
        nn.Linear(4, 3)), (5,), 3


def fc():
    return nn.Sequential(nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 3)), (5,), 3


net, shape, classes = {"cnn": cnn, "resnet": resnet, "fc": fc}[sys.argv[1]]()
out = sys.argv[2]
n = 4
x = torch.randn(n, *shape)
y = torch.randint(0, classes, (n,))
params = dict(net.named_parameters())
save_problem(out, params, x, y)
ref = reference(net, params, x, y, nn.CrossEntropyLoss())  # mean over the batch
np.savez(out + "/ref.npz", **ref)
print("ok", len(params), "parameters")
