"""A network whose input is a matrix, flattened (flatten_matrix) into a linear layer, against
PyTorch autograd in float64: hbp reads the input matrix(m, n) from a batch [N, m, n] entry for entry,
so its flatten_matrix (column-major vec) is PyTorch's x.transpose(1, 2).flatten(1). argv[1]: the
folder to write params.npz, batch.npz and ref.npz (each parameter's dense Hessian and GGN block,
[numel, numel] in PyTorch's row-major flattening, and the loss)."""
import sys

import numpy as np
import torch

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
out = sys.argv[1]
N, m, n, k = 5, 4, 3, 2  # m != n: a transposed reading cannot pass
x = torch.randn(N, m, n)
y = torch.randn(N, k)
P = {"2.weight": torch.randn(k, m * n), "2.bias": torch.randn(k)}


def features(x):
    # the net: sigmoid (entrywise), flatten_matrix, linear, mse (mean over outputs and samples)
    return torch.sigmoid(x).transpose(1, 2).flatten(1)


def outputs(p):
    return features(x) @ p["2.weight"].T + p["2.bias"]


def loss_of(f):
    return ((f - y) ** 2).mean(-1).mean()  # hbp's mse: (y - x)'*(y - x) / n per sample


ref = {"loss": np.array([loss_of(outputs(P)).item()])}
for name, value in P.items():
    def as_function(v, name=name):
        return loss_of(outputs({**P, name: v}))
    H = torch.autograd.functional.hessian(as_function, value).reshape(value.numel(), value.numel())
    # GGN: J' (2/(k N) I) J with J the Jacobian of all outputs in this parameter
    J = torch.autograd.functional.jacobian(lambda v, name=name: outputs({**P, name: v}), value).reshape(N * k, value.numel())
    G = J.T @ J * (2.0 / (k * N))
    ref["hessian." + name] = H.numpy()
    ref["ggn." + name] = G.numpy()
np.savez(out + "/params.npz", **{name: v.numpy() for name, v in P.items()})
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
np.savez(out + "/ref.npz", **ref)
