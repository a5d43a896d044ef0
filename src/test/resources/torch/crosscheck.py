"""Writes a net's parameters and a batch as hbp reads them (PyTorch layouts), and the autograd
reference: mean loss, gradients, and exact Hessian and GGN blocks of every parameter (row-major
flattening), in float64.  Usage: crosscheck.py NET OUT_DIR  (NET: cnn or resnet)."""
import sys
import numpy as np
import torch
from torch import nn

try:  # torch >= 2.0
    from torch.func import functional_call
except ImportError:  # Debian's python3-torch 1.13
    from torch.nn.utils.stateless import functional_call

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


class Residual(nn.Sequential):
    """z = x + body(x); its body's parameters are '<i>.<j>.weight' as in hbp."""

    def forward(self, x):
        return x + super().forward(x)


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


net, shape, classes = {"cnn": cnn, "resnet": resnet}[sys.argv[1]]()
out = sys.argv[2]
n = 4
x = torch.randn(n, *shape)
y = torch.randint(0, classes, (n,))
params = dict(net.named_parameters())
np.savez(out + "/params.npz", **{k: v.detach().numpy() for k, v in params.items()})
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
names = list(params)
loss_fn = nn.CrossEntropyLoss()  # mean over the batch


def logits_with(name, value):
    p = {k: (value if k == name else v.detach()) for k, v in params.items()}
    return functional_call(net, p, (x,))


ref = {"loss": np.array(loss_fn(net(x), y).item())}
loss = loss_fn(net(x), y)
grads = torch.autograd.grad(loss, [params[k] for k in names])
for k, g in zip(names, grads):
    ref["grad." + k] = g.detach().numpy()
for k in names:
    p0 = params[k].detach()
    numel = p0.numel()
    h = torch.autograd.functional.hessian(lambda v: loss_fn(logits_with(k, v.reshape(p0.shape)), y), p0.reshape(-1))
    ref["hessian." + k] = h.numpy()
    j = torch.autograd.functional.jacobian(lambda v: logits_with(k, v.reshape(p0.shape)), p0.reshape(-1))  # [n, C, numel]
    z = net(x).detach()
    ggn = torch.zeros(numel, numel)
    for i in range(n):
        hl = torch.autograd.functional.hessian(lambda t: loss_fn(t.unsqueeze(0), y[i:i + 1]), z[i])
        ggn += j[i].T @ hl @ j[i]
    ref["ggn." + k] = (ggn / n).numpy()
np.savez(out + "/ref.npz", **ref)
print("ok", len(names), "parameters")
