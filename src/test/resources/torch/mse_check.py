"""PyTorch's reference for hbp's 'mse' loss: a small net with nn.MSELoss(reduction='mean') (the mean
over all N*C entries), its parameters and a batch as hbp reads them, and autograd's loss, gradients,
exact Hessian blocks and GGN blocks of every parameter (row-major flattening), in float64; also the
loss with reduction='sum' divided by N, which is hbp's 'squareloss'.  Usage: mse_check.py OUT_DIR"""
import sys
import numpy as np
import torch
from torch import nn

try:  # torch >= 2.0
    from torch.func import functional_call
except ImportError:  # Debian's python3-torch 1.13
    from torch.nn.utils.stateless import functional_call

torch.set_default_dtype(torch.float64)
torch.manual_seed(1)

net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
out = sys.argv[1]
n = 4
x = torch.randn(n, 5)
y = torch.randn(n, 3)
params = dict(net.named_parameters())
np.savez(out + "/params.npz", **{k: v.detach().numpy() for k, v in params.items()})
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
names = list(params)
loss_fn = nn.MSELoss(reduction="mean")


def outputs_with(name, value):
    p = {k: (value if k == name else v.detach()) for k, v in params.items()}
    return functional_call(net, p, (x,))


loss = loss_fn(net(x), y)
ref = {"loss": np.array(loss.item()),
       "loss_sum_over_n": np.array((nn.MSELoss(reduction="sum")(net(x), y) / n).item())}
grads = torch.autograd.grad(loss, [params[k] for k in names])
for k, g in zip(names, grads):
    ref["grad." + k] = g.detach().numpy()
z = net(x).detach()
for k in names:
    p0 = params[k].detach()
    numel = p0.numel()
    h = torch.autograd.functional.hessian(lambda v: loss_fn(outputs_with(k, v.reshape(p0.shape)), y), p0.reshape(-1))
    ref["hessian." + k] = h.numpy()
    j = torch.autograd.functional.jacobian(lambda v: outputs_with(k, v.reshape(p0.shape)), p0.reshape(-1))  # [n, C, numel]
    ggn = torch.zeros(numel, numel)
    for i in range(n):
        # Hessian of sample i's share of the batch loss with respect to its outputs
        hl = torch.autograd.functional.hessian(lambda t: loss_fn(t.unsqueeze(0), y[i:i + 1]), z[i]) / n
        ggn += j[i].T @ hl @ j[i]
    ref["ggn." + k] = ggn.numpy()
np.savez(out + "/ref.npz", **ref)
print("ok", len(names), "parameters")
