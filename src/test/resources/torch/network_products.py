"""Whole-network curvature products by PyTorch autograd (float64), as references for hbp's
Pass.networkProduct: the Hessian-vector product by double backward (torch.autograd.functional.hvp
of the mean loss in all parameters at once), and the GGN-vector product as J'(H_z(J v)): a
forward-mode directional derivative of the outputs (jvp), the Hessian of the mean loss in the
outputs applied to it (hvp), and the transposed Jacobian (vjp).  Directions: V random ones for
every parameter.  Usage: network_products.py NET OUT_DIR  (NET: fc, relu, resnet, skip, cnn).
Writes OUT/params.npz, OUT/batch.npz, OUT/dirs.npz ([V, *shape] per parameter) and OUT/ref.npz
with 'hvp.<p>' and 'ggnvp.<p>' ([V, *shape])."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import Residual, functional_call, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


class Skip(nn.Module):
    """hbp's skip module: z = x + W2 sigmoid(W1 x), parameters '<i>.W1', '<i>.W2'."""

    def __init__(self, n, h):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(h, n))
        self.W2 = nn.Parameter(torch.randn(n, h))

    def forward(self, x):
        return x + torch.sigmoid(x @ self.W1.T) @ self.W2.T


def scaled(linear, factor):
    """Weights scaled up, so that activations leave their linear range (the residuals matter)."""
    with torch.no_grad():
        linear.weight.mul_(factor)
    return linear


NETS = {
    # (net, input shape, loss, target maker)
    "fc": lambda: (nn.Sequential(scaled(nn.Linear(5, 4), 3), nn.Sigmoid(), scaled(nn.Linear(4, 4), 3), nn.Tanh(), nn.Linear(4, 3)),
                   (5,), "ce"),
    "relu": lambda: (nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)), (5,), "mse"),
    "resnet": lambda: (nn.Sequential(scaled(nn.Linear(5, 4), 2), nn.Tanh(),
                                     Residual(scaled(nn.Linear(4, 4), 3), nn.Sigmoid(), scaled(nn.Linear(4, 4), 3)), nn.Linear(4, 3)),
                       (5,), "ce"),
    "skip": lambda: (nn.Sequential(scaled(nn.Linear(5, 4), 2), nn.Tanh(), Skip(4, 3), nn.Linear(4, 3)), (5,), "ce"),
    "cnn": lambda: (nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2), nn.ZeroPad2d(1), nn.AvgPool2d(2),
                                  nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(16, 3)), (2, 8, 8), "ce"),
}

net, shape, loss_name = NETS[sys.argv[1]]()
out = sys.argv[2]
n, V = 4, 2
x = torch.randn(n, *shape)
if loss_name == "ce":
    y = torch.randint(0, 3, (n,))
    loss_fn = nn.CrossEntropyLoss()
else:
    y = torch.randn(n, 3)
    # hbp's squareloss is sum_k (z_k - y_k)^2 per sample, averaged over the batch
    loss_fn = lambda z, t: ((z - t) ** 2).sum() / z.shape[0]
params = dict(net.named_parameters())
save_problem(out, params, x, y)
names = list(params)
p0 = tuple(params[k].detach() for k in names)
dirs = {k: torch.randn(V, *params[k].shape) for k in names}
np.savez(out + "/dirs.npz", **{k: d.numpy() for k, d in dirs.items()})


def outputs(*ps):
    return functional_call(net, dict(zip(names, ps)), (x,))


def mean_loss(*ps):
    return loss_fn(outputs(*ps), y)


ref = {}
hv, gv = {k: [] for k in names}, {k: [] for k in names}
z0 = outputs(*p0).detach()
for i in range(V):
    v = tuple(dirs[k][i] for k in names)
    _, h = torch.autograd.functional.hvp(mean_loss, p0, v)
    _, jv = torch.autograd.functional.jvp(outputs, p0, v)
    _, hjv = torch.autograd.functional.hvp(lambda z: loss_fn(z, y), z0, jv)
    _, g = torch.autograd.functional.vjp(outputs, p0, hjv)
    for k, a, b in zip(names, h, g):
        hv[k].append(a)
        gv[k].append(b)
for k in names:
    ref["hvp." + k] = torch.stack(hv[k]).numpy()
    ref["ggnvp." + k] = torch.stack(gv[k]).numpy()
np.savez(out + "/ref.npz", **ref)
print("ok", len(names), "parameters")
