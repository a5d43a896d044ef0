"""PyTorch's reference for naming an imported block by its PyTorch name (hbp spectrum --scope block:NAME):
an nn.Sequential whose Softplus(beta=2) exports as several nodes, so that hbp's layer indices are not PyTorch's
(PyTorch's 4.weight is not hbp's 4.W), exported (float64, constant folding: the bias-free Linear becomes a
transposed initializer onnx::MatMul_*) to OUT/model.onnx, with a batch (OUT/batch.npz) and autograd's exact
Hessian blocks by PyTorch's names (OUT/ref.npz, 'hessian.<name>', row-major), the names in OUT/names.txt.
Usage: onnx_scope.py OUT_DIR"""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import reference

torch.set_default_dtype(torch.float64)
torch.manual_seed(5)
out = sys.argv[1]
net = nn.Sequential(nn.Linear(6, 6), nn.Softplus(beta=2), nn.Linear(6, 6), nn.Softplus(beta=2), nn.Linear(6, 6), nn.Tanh(),
                    nn.Linear(6, 5, bias=False), nn.Sigmoid(), nn.Linear(5, 3)).eval()
x = torch.randn(4, 6)
y = torch.tensor([0, 2, 1, 2])
torch.onnx.export(net, (x,), out + "/model.onnx")
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
params = dict(net.named_parameters())
np.savez(out + "/ref.npz", **reference(net, params, x, y, nn.CrossEntropyLoss()))
with open(out + "/names.txt", "w") as f:
    f.write("\n".join(params) + "\n")
