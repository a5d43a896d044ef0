"""BackPACK's KFRA pass against the plain gradient pass, on hbp's FC or c4d3 net (float32), the
reference of issue 19's kfra target (docs/performance.md). Usage:
  PYTHONPATH=BACKPACK:EINOPS:UNFOLDND:PACKAGING/src python3 scripts/backpack_kfra.py fc|c4d3 BATCH [REPEAT WARMUP]
BackPACK is not installable from the registries these machines reach, and its releases after 1.6
need torch>=2.2: its sources at 56fed435^ (github.com/f-dangel/backpack, the last commit that
supports torch 1.9-2.1, with the torch 1.13 fixes) and those of einops, unfoldNd and packaging go on
PYTHONPATH. Both passes run forward and backward; the KFRA pass also computes BackPACK's KFRA
factors of every layer. Prints the medians."""
import statistics
import sys
import time

import pkg_resources

# Debian's torch reports 1.13.0a0, a pre-release below 1.13 for BackPACK's version gate, which then
# imports a helper torch 1.13 removed: report the release.
_distribution = pkg_resources.get_distribution


class _Release:
    def __init__(self, d):
        self._d = d

    def __getattr__(self, k):
        return getattr(self._d, k)

    @property
    def version(self):
        v = self._d.version
        return v.split("a")[0] if self._d.project_name == "torch" else v


pkg_resources.get_distribution = lambda name: _Release(_distribution(name))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from backpack import backpack, extend  # noqa: E402
from backpack.extensions import KFRA  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)
net_name, N = sys.argv[1], int(sys.argv[2])
repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 7
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 3
if net_name == "fc":
    sizes = [3072, 1024, 512, 256, 128, 64, 32, 16, 10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    x = torch.randn(N, 3072)
else:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.Sigmoid(), nn.Conv2d(16, 16, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.Sigmoid(), nn.Conv2d(32, 32, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2048, 512), nn.Sigmoid(), nn.Linear(512, 64), nn.Sigmoid(), nn.Linear(64, 10))
    x = torch.randn(N, 3, 32, 32)
y = torch.randint(0, 10, (N,))
model = extend(model)
loss_fn = extend(nn.CrossEntropyLoss())


def grad_pass():
    model.zero_grad()
    loss_fn(model(x), y).backward()


def kfra_pass():
    model.zero_grad()
    with backpack(KFRA()):
        loss_fn(model(x), y).backward()


def median(f):
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


g = median(grad_pass)
k = median(kfra_pass)
assert all(hasattr(p, "kfra") for p in model.parameters()), "KFRA computed no factor"
print(f"backpack {net_name} batch {N} float32: gradient pass {g:.4f} s, KFRA pass (forward, backward with KFRA) {k:.4f} s, "
      f"KFRA / gradient {k / g:.2f}")
