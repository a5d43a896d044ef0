"""A label-smoothing cross-entropy whose loss assumes sum(y) == 1 of a real target (the derivation
simplifies its gradient and Hessian under it), after a linear layer, against PyTorch autograd in
float64 on targets that satisfy the assumption but are no probabilities (negative entries), so only
the assumption, not a domain, holds. argv[1]: the folder to write params.npz, batch.npz (rows sum to
1), bad.npz (the reviewer's batch: row 0 is [2, 0, 0]) and ref.npz (the loss, the gradient of the
mean loss, and each parameter's dense Hessian and GGN block, [numel, numel] in PyTorch's row-major
flattening)."""
import sys

import numpy as np
import torch

torch.manual_seed(11)
torch.set_default_dtype(torch.float64)
out = sys.argv[1]
N, d, c = 4, 4, 3
x = torch.randn(N, d)
y = torch.tensor([[1.5, -0.7, 0.2], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4], [-1.0, 0.5, 1.5]])
assert torch.allclose(y.sum(-1), torch.ones(N))
P = {"0.weight": torch.randn(c, d), "0.bias": torch.randn(c)}


def outputs(p):
    return x @ p["0.weight"].T + p["0.bias"]


def loss_of(f):
    # E = -(0.9*y + (0.1/c)*ones(c))'*log(softmax(f)) per sample, mean over samples
    t = 0.9 * y + 0.1 / c
    return -(t * torch.log_softmax(f, -1)).sum(-1).mean()


ref = {"loss": np.array([loss_of(outputs(P)).item()])}
for name, value in P.items():
    def as_function(v, name=name):
        return loss_of(outputs({**P, name: v}))
    v = value.clone().requires_grad_()
    (g,) = torch.autograd.grad(as_function(v), v)
    ref["grad." + name] = g.numpy()
    H = torch.autograd.functional.hessian(as_function, value).reshape(value.numel(), value.numel())
    # GGN: J' H_f J, H_f the (block-diagonal per sample) Hessian of the loss in the outputs
    J = torch.autograd.functional.jacobian(lambda w, name=name: outputs({**P, name: w}), value).reshape(N * c, value.numel())
    f0 = outputs(P)
    Hf = torch.autograd.functional.hessian(lambda f: loss_of(f.reshape(N, c)), f0.reshape(-1))
    ref["hessian." + name] = H.numpy()
    ref["ggn." + name] = (J.T @ Hf @ J).numpy()
np.savez(out + "/params.npz", **{name: v.numpy() for name, v in P.items()})
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
bad = y.clone()
bad[0] = torch.tensor([2.0, 0.0, 0.0])
np.savez(out + "/bad.npz", x=x.numpy(), y=bad.numpy())
np.savez(out + "/ref.npz", **ref)
