"""Graph networks (branches, merges, a tied layer) in PyTorch, float64, as references for hbp's
graph networks: writes the parameters and a batch as hbp reads them, and autograd's mean loss,
gradients, exact Hessian blocks and GGN blocks of every parameter (autograd_reference.reference;
a tied layer's parameters appear once, so their blocks sum every use and the cross terms).
Usage: graph_networks.py NET OUT_DIR  (NET: add, concat, product, tied, inception, pool)."""
import sys
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograd_reference import reference, save_problem

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)


class Add(nn.Module):
    """h = linear(x); z = tanh(h) + sigmoid(h); d = z - h; y = linear(d)."""

    def __init__(self):
        super().__init__()
        self.h, self.y = nn.Linear(5, 4), nn.Linear(4, 3)
        with torch.no_grad():
            self.h.weight.mul_(2)

    def forward(self, x):
        h = self.h(x)
        z = torch.tanh(h) + torch.sigmoid(h)
        return self.y(z - h)


class Concat(nn.Module):
    """a = tanh(linear(x)); b = sigmoid(linear(x)); y = linear(concat(a, b))."""

    def __init__(self):
        super().__init__()
        self.h, self.g, self.y = nn.Linear(5, 4), nn.Linear(5, 3), nn.Linear(7, 3)

    def forward(self, x):
        return self.y(torch.cat([torch.tanh(self.h(x)), torch.sigmoid(self.g(x))], dim=1))


class Product(nn.Module):
    """a = tanh(linear(x)); b = sigmoid(linear(x)); s = a .* b + a .* a; y = linear(s)."""

    def __init__(self):
        super().__init__()
        self.h, self.g, self.y = nn.Linear(5, 4), nn.Linear(5, 4), nn.Linear(4, 3)
        with torch.no_grad():
            self.y.weight.mul_(3)

    def forward(self, x):
        a, b = torch.tanh(self.h(x)), torch.sigmoid(self.g(x))
        return self.y(a * b + a * a)


class Tied(nn.Module):
    """a = tanh(linear(x)); v = fc(tanh(fc(a))) with one fc; y = linear(v)."""

    def __init__(self):
        super().__init__()
        self.h, self.fc, self.y = nn.Linear(5, 4), nn.Linear(4, 4), nn.Linear(4, 3)
        with torch.no_grad():
            self.fc.weight.mul_(2)

    def forward(self, x):
        a = torch.tanh(self.h(x))
        return self.y(self.fc(torch.tanh(self.fc(a))))


class Inception(nn.Module):
    """Two convolutions of x concatenated along channels, tanh, flatten, linear."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 2, 1)
        self.b = nn.Conv2d(2, 3, 3, padding=1)
        self.y = nn.Linear(5 * 4 * 4, 3)

    def forward(self, x):
        return self.y(torch.flatten(torch.tanh(torch.cat([self.a(x), self.b(x)], dim=1)), 1))


class Pool(nn.Module):
    """Two convolutions of x, each through an activation and 2 x 2 max-pools: sigmoid's value read by
    its max-pool alone, tanh's by two; p = pool(sigmoid(conv a)), q = r = pool(tanh(conv b)), y = linear((p + q) .* r)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 3, padding=1)
        self.b = nn.Conv2d(2, 3, 3, padding=1)
        self.y = nn.Linear(3 * 2 * 2, 3)
        with torch.no_grad():
            self.a.weight.mul_(2)

    def forward(self, x):
        p = F.max_pool2d(torch.sigmoid(self.a(x)), 2)
        u = torch.tanh(self.b(x))
        q, r = F.max_pool2d(u, 2), F.max_pool2d(u, 2)
        return self.y(torch.flatten((p + q) * r, 1))


NETS = {"add": (Add, (5,)), "concat": (Concat, (5,)), "product": (Product, (5,)), "tied": (Tied, (5,)),
        "inception": (Inception, (2, 4, 4)), "pool": (Pool, (2, 4, 4))}


def main():
    make, shape = NETS[sys.argv[1]]
    out = sys.argv[2]
    net = make()
    n = 4
    x = torch.randn(n, *shape)
    y = torch.randint(0, 3, (n,))
    params = dict(net.named_parameters())
    save_problem(out, params, x, y)
    ref = reference(net, params, x, y, nn.CrossEntropyLoss())
    np.savez(out + "/ref.npz", **ref)
    print("ok", len(params), "parameters")


if __name__ == "__main__":
    main()
