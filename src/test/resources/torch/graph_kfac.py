"""The PyTorch reference of the GGN diagonal, KFLR, EKFAC and per-sample gradients on graph
networks, in float64, from their definitions (independently of hbp):

  diag        the diagonal of autograd's GGN block (autograd_reference.reference: sum_n J_n' H_n J_n / N
              with autograd's Jacobian and loss Hessian), as a diagonal matrix
  S_n         per-sample loss-Hessian factor, S_n S_n' = H_n (torch.linalg.eigh of autograd's H_n)
  U_{n,c}     autograd's gradient of f_n . s_{n,c} at each linear layer's output (forward hooks), so
              the columns pass every branch, concat and skip as autograd takes them
  A = sum_n a_n a_n' / N, G = sum_{n,c} U_{n,c} U_{n,c}' / N: KFLR's weight block kron(G, A) (row-major),
              its bias block G; EKFAC: (Q_G (x) Q_A) diag(D) (Q_G (x) Q_A)' with
              D = sum_{n,c} (Q_G' grad_{n,c} Q_A)^2 / N, grad_{n,c} autograd's gradient of f_n . s_{n,c} in W
  psg         per-sample gradients of the per-sample loss (a loop over samples)

Usage: graph_kfac.py NET OUT_DIR  (NET: skipcat, a branch + concat + skip; tied, one layer used
twice; or pool, convolutions and max-pools (graph_networks.Pool); for tied and pool only diag and
psg are written: tied's KFLR is not defined, pool's convolutions are not linear layers)."""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograd_reference import reference, save_problem
from graph_networks import Pool, Tied

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


class SkipCat(nn.Module):
    """h = linear(x); a = tanh(h); b = sigmoid(linear(a)); k = linear(concat(a, b)); y = linear(tanh(k + h))."""

    def __init__(self):
        super().__init__()
        self.h, self.g, self.k, self.y = nn.Linear(5, 4), nn.Linear(4, 3), nn.Linear(7, 4), nn.Linear(4, 3)
        with torch.no_grad():
            self.h.weight.mul_(2)

    def forward(self, x):
        h = self.h(x)
        a = torch.tanh(h)
        b = torch.sigmoid(self.g(a))
        return self.y(torch.tanh(self.k(torch.cat([a, b], dim=1)) + h))


name, out = sys.argv[1], sys.argv[2]
net, shape = {"skipcat": (SkipCat, (5,)), "tied": (Tied, (5,)), "pool": (Pool, (2, 4, 4))}[name]
net = net()
n = 5
x = torch.randn(n, *shape)
y = torch.randint(0, 3, (n,))
params = dict(net.named_parameters())
save_problem(out, params, x, y)
ref = {}
for k, v in reference(net, params, x, y, nn.CrossEntropyLoss()).items():
    if k.startswith("ggn."):
        ref["diag." + k[4:]] = np.diag(np.diag(v))


def loss_one(z, t):
    return F.cross_entropy(z.unsqueeze(0), t.unsqueeze(0))


if name == "skipcat":
    layers = {k: m for k, m in net.named_modules() if isinstance(m, nn.Linear)}
    inputs, outputs = {}, {}

    def recorder(k):
        def hook(module, i, o):
            inputs[k], outputs[k] = i[0], o
        return hook

    for k, m in layers.items():
        m.register_forward_hook(recorder(k))
    z = net(x)
    names = list(layers)
    hs = [torch.autograd.functional.hessian(lambda t: loss_one(t, y[i]), z[i].detach()) for i in range(n)]
    factors = []
    for h in hs:
        lam, q = torch.linalg.eigh(h)
        factors.append(q * lam.clamp(min=0).sqrt())
    c = z.shape[1]
    U = {k: [] for k in names}  # U[k]: over (n, c), the vector at the layer's output
    W = {k: [] for k in names}  # W[k]: over (n, c), (weight grad, bias grad)
    for i in range(n):
        for j in range(c):
            tensors = [outputs[k] for k in names] + [params[k + s] for k in names for s in (".weight", ".bias")]
            g = torch.autograd.grad(z[i] @ factors[i][:, j], tensors, retain_graph=True)
            for m, k in enumerate(names):
                U[k].append(g[m][i])
                W[k].append((g[len(names) + 2 * m], g[len(names) + 2 * m + 1]))
    for k in names:
        a = inputs[k].detach()
        A = a.T @ a / n
        G = sum(torch.outer(u, u) for u in U[k]) / n
        ref["kflr." + k + ".weight"] = torch.kron(G, A).numpy()
        ref["kflr." + k + ".bias"] = G.numpy()
        qa, qg = torch.linalg.eigh(A)[1], torch.linalg.eigh(G)[1]
        dw = sum((qg.T @ gw @ qa) ** 2 for gw, _ in W[k]) / n
        db = sum((qg.T @ gb) ** 2 for _, gb in W[k]) / n
        q = torch.kron(qg, qa)
        ref["ekfac." + k + ".weight"] = (q @ torch.diag(dw.reshape(-1)) @ q.T).numpy()
        ref["ekfac." + k + ".bias"] = (qg @ torch.diag(db) @ qg.T).numpy()
else:
    z = net(x)
for k, v in params.items():
    ref["psg." + k] = torch.stack([torch.autograd.grad(loss_one(z[i], y[i]), v, retain_graph=True)[0] for i in range(n)]).detach().numpy()
np.savez(out + "/ref.npz", **ref)
print("ok", len(params), "parameters")
