"""The PyTorch reference of hbp's Kronecker-factored curvature and first-order quantities, in
float64, computed from their definitions (independently of hbp):

  S_n         per-sample loss-Hessian factor, S_n S_n' = H_n (torch.linalg.eigh of autograd's H_n)
  U_{n,c}     autograd's gradient of f_n . s_{n,c} at the layer's output (m x T)
  A_n         a linear layer's input (p x 1), a convolution's torch.nn.functional.unfold patches (p x T)
  A = sum_n A_n A_n' / (N T),  G = sum_{n,c} U_{n,c} U_{n,c}' / N;  KFLR block of the weight A (x) G
  (column-major vec; kron(G, A) in PyTorch's row-major flattening), of the bias G
  EKFAC       eigenbases of A and G, D = sum_{n,c} (Q_G' grad_{n,c} Q_A)^2 / N with grad_{n,c} autograd's
              gradient of f_n . s_{n,c} in the weight; block (Q_G (x) Q_A) diag(D) (Q_G (x) Q_A)' (row-major)
  gvar_mc     the variance of one Monte-Carlo G (xi standard normal, one vector per sample):
              (1/N^2) sum_n 2 ||sym(M_n^ij)||_F^2 with M_n^ij = sum_t U_n[i,t,:] U_n[j,t,:]'
  gvar_sampled the variance of one sampled-label G (y ~ softmax(f_n), g = p - e_y), by enumerating y
  psg         per-sample gradients of the per-sample loss (a loop over samples)

Usage: kfac_reference.py NET OUT_DIR  (NET: fc, cnn, cnnpool (a sigmoid then a max-pool between the
convolutions), resnet, fcmse, or wide: 2 samples, so that the first layer's A (9 x 9) and G (7 x 7)
have fewer columns than their order)."""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograd_reference import Residual, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)

name, out = sys.argv[1], sys.argv[2]
n = 2 if name == "wide" else 6
if name == "wide":
    net = nn.Sequential(nn.Linear(9, 7), nn.Tanh(), nn.Linear(7, 3))
    x = torch.randn(n, 9)
elif name == "cnn":
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Sigmoid(), nn.Conv2d(3, 2, 3, stride=2, padding=1), nn.Tanh(),
                        nn.Flatten(), nn.Linear(18, 3))
    x = torch.randn(n, 2, 6, 6)
elif name == "cnnpool":
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2), nn.Conv2d(3, 2, 3, padding=1), nn.Tanh(),
                        nn.Flatten(), nn.Linear(18, 3))
    x = torch.randn(n, 2, 6, 6)
elif name == "resnet":
    net = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), Residual(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 4)), nn.Linear(4, 3))
    x = torch.randn(n, 5)
else:
    net = nn.Sequential(nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 3))
    x = torch.randn(n, 5)
mse = name == "fcmse"
y = torch.randn(n, 3) if mse else torch.randint(0, 3, (n,))


def loss_one(z, t):
    """The per-sample loss of one output z (C,) and target t."""
    return F.mse_loss(z, t) if mse else F.cross_entropy(z.unsqueeze(0), t.unsqueeze(0))


params = dict(net.named_parameters())
save_problem(out, params, x, y)
layers = {k: m for k, m in net.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
inputs, outputs = {}, {}


def recorder(k):
    def hook(module, i, o):
        inputs[k], outputs[k] = i[0], o
    return hook


for k, m in layers.items():
    m.register_forward_hook(recorder(k))
z = net(x)
ref = {}
names = list(layers)


def patches(k):
    """A_n for every sample: [N, p, T]."""
    m, a = layers[k], inputs[k].detach()
    if isinstance(m, nn.Conv2d):
        return F.unfold(a, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
    return a.unsqueeze(2)


def at_output(v, i):
    """For each layer, autograd's gradient of z_i . v at its output, as [m, T]; and the weight/bias gradients."""
    tensors = [outputs[k] for k in names] + [params[k + s] for k in names for s in (".weight", ".bias")]
    g = torch.autograd.grad(z[i] @ v, tensors, retain_graph=True)
    u = {k: g[j][i].reshape(g[j].shape[1], -1) for j, k in enumerate(names)}
    w = {k: (g[len(names) + 2 * j].reshape(g[len(names) + 2 * j].shape[0], -1), g[len(names) + 2 * j + 1]) for j, k in enumerate(names)}
    return u, w


hs = [torch.autograd.functional.hessian(lambda t: loss_one(t, y[i]), z[i].detach()) for i in range(n)]
factors = []
for h in hs:
    lam, q = torch.linalg.eigh(h)
    factors.append(q * lam.clamp(min=0).sqrt())
c = z.shape[1]
U = {k: [] for k in names}   # U[k][i]: [m, T, r]
W = {k: [] for k in names}   # W[k][i]: list over columns of (weight grad [m, p], bias grad [m])
for i in range(n):
    cols = [at_output(factors[i][:, j], i) for j in range(c)]
    for k in names:
        U[k].append(torch.stack([u[k] for u, _ in cols], dim=2))
        W[k].append([w[k] for _, w in cols])
for k in names:
    a = patches(k)
    t = a.shape[2]
    A = torch.einsum("npt,nqt->pq", a, a) / (n * t)
    G = sum(torch.einsum("itc,jtc->ij", u, u) for u in U[k]) / n
    ref["A." + k + ".weight"] = A.numpy()
    ref["G." + k + ".weight"] = G.numpy()
    ref["kflr." + k + ".weight"] = torch.kron(G, A).numpy()
    ref["kflr." + k + ".bias"] = G.numpy()
    # EKFAC from autograd's per-sample, per-column gradients in the eigenbases
    qa, qg = torch.linalg.eigh(A)[1], torch.linalg.eigh(G)[1]
    dw = sum((qg.T @ gw @ qa) ** 2 for cols in W[k] for gw, _ in cols) / n
    db = sum((qg.T @ gb) ** 2 for cols in W[k] for _, gb in cols) / n
    q = torch.kron(qg, qa)
    ref["ekfac." + k + ".weight"] = (q @ torch.diag(dw.reshape(-1)) @ q.T).numpy()
    ref["ekfac." + k + ".bias"] = (qg @ torch.diag(db) @ qg.T).numpy()
    # the variance of one Monte-Carlo G (one standard normal vector per sample)
    var = torch.zeros_like(G)
    for u in U[k]:
        mm = torch.einsum("itc,jtd->ijcd", u, u)
        var += 2 * ((mm + mm.transpose(2, 3)) / 2).pow(2).sum((2, 3))
    ref["gvar_mc." + k + ".weight"] = (var / n ** 2).numpy()
    if not mse:  # one sampled label per sample: E over y ~ softmax(z_i) of (U_y U_y')_ij, U_y at the output for p - e_y
        var = torch.zeros_like(G)
        for i in range(n):
            p = torch.softmax(z[i].detach(), 0)
            xs = []
            for label in range(c):
                u, _ = at_output(p - F.one_hot(torch.tensor(label), c).double(), i)
                xs.append(u[k] @ u[k].T)
            mean = sum(p[l] * xs[l] for l in range(c))
            var += sum(p[l] * (xs[l] - mean) ** 2 for l in range(c))
        ref["gvar_sampled." + k + ".weight"] = (var / n ** 2).numpy()
# per-sample gradients of the per-sample losses, a loop over samples
for k, v in params.items():
    ref["psg." + k] = torch.stack([torch.autograd.grad(loss_one(z[i], y[i]), v, retain_graph=True)[0] for i in range(n)]).numpy()
np.savez(out + "/ref.npz", **ref)
print("ok", len(names), "layers")
