"""PyTorch's reference for hbp's ONNX import: builds a small PyTorch model (float64), exports it with
torch.onnx.export to OUT/model.onnx, writes a batch (OUT/batch.npz: x, y) and autograd's loss,
gradients, exact Hessian blocks and GGN blocks of every parameter (OUT/ref.npz, PyTorch's names,
row-major flattening), and the parameters' names in PyTorch's order (OUT/names.txt, one a line).
Usage: onnx_check.py OUT_DIR mlp|cnn|gap|norm|norm17|custom|residual|resnet|tied|inception"""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import reference

torch.set_default_dtype(torch.float64)
torch.manual_seed(3)
out, kind = sys.argv[1], sys.argv[2]
n = 4


class Scale(nn.Module):
    """z = w * x entrywise, w a parameter vector (exported as Mul)."""

    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(1 + torch.rand(d))

    def forward(self, x):
        return self.w * x


class Exp(nn.Module):
    def forward(self, x):
        return torch.exp(x)


class Skip(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


class Block(nn.Module):
    """A ResNet block: relu(s(x) + conv2(relu(conv1(x)))), s the identity or a 1x1 convolution (projection shortcut)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        s = x if self.proj is None else self.proj(x)
        return torch.relu(s + self.conv2(torch.relu(self.conv1(x))))


class Tied(nn.Module):
    """One Linear (fc) applied twice, then a product with an earlier value: v = tanh(fc(tanh(fc(h)))), out(v * h)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 5)
        self.fc = nn.Linear(5, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        v = torch.tanh(self.fc(torch.tanh(self.fc(h))))
        return self.out(v * h - torch.sigmoid(h))


class Inception(nn.Module):
    """Branches of 1x1, 3x3 and dilated 3x3 convolutions of one value, concatenated along the channels."""

    def __init__(self, cin):
        super().__init__()
        self.b1 = nn.Conv2d(cin, 2, 1)
        self.b3 = nn.Conv2d(cin, 2, 3, padding=1)
        self.b5 = nn.Conv2d(cin, 1, 3, padding=2, dilation=2)

    def forward(self, x):
        return torch.cat([torch.relu(self.b1(x)), torch.relu(self.b3(x)), self.b5(x)], dim=1)


if kind == "mlp":
    # every activation the importer maps (and a softmax); a bias-free Linear exports as MatMul, the others as Gemm
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 4, bias=False), nn.Sigmoid(),
                        nn.Linear(4, 4), nn.Softplus(), nn.Linear(4, 4), nn.ELU(), nn.Dropout(0.3), nn.Linear(4, 4), nn.LeakyReLU(),
                        nn.Linear(4, 4), nn.GELU(), nn.Softmax(dim=1), nn.Linear(4, 3))
    x = 2 * torch.randn(n, 6)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "cnn":
    # stride and padding, max pooling, zero padding, a bias-free convolution, a dilated one, average pooling, flatten
    net = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Sigmoid(), nn.MaxPool2d(2), nn.ZeroPad2d(1),
                        nn.Conv2d(3, 4, 2, padding=1, bias=False), nn.Tanh(), nn.Conv2d(4, 4, 3, padding=2, dilation=2),
                        nn.Softplus(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(36, 3))
    x = torch.randn(n, 2, 12, 12)
    y = torch.randn(n, 3)
    loss_fn = nn.MSELoss()
elif kind == "gap":
    # global average pooling (AdaptiveAvgPool2d(1)), ReLU, a LogSoftmax before the cross-entropy
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax(dim=1))
    x = torch.randn(n, 2, 8, 8)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind in ("norm", "norm17"):
    # layer normalisation: opset 14 writes ReduceMean, Sub, Pow, ... (norm), opset 17 LayerNormalization (norm17)
    net = nn.Sequential(nn.Linear(5, 4), nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 3))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.5 * torch.randn(4))
                m.bias.copy_(0.5 * torch.randn(4))
    x = torch.randn(n, 5)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "custom":
    # operators without a built-in mapping, for --map: Mul by a parameter vector, Exp
    net = nn.Sequential(nn.Linear(4, 3), Scale(3), Exp(), nn.Linear(3, 2))
    x = torch.randn(n, 4)
    y = torch.tensor([0, 1, 1, 0])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "residual":
    # a skip connection: Add of two computed values
    net = nn.Sequential(nn.Linear(4, 4), Skip(nn.Linear(4, 4)), nn.Linear(4, 2))
    x = torch.randn(n, 4)
    y = torch.tensor([0, 1, 1, 0])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "resnet":
    # an identity block and a block with a 1x1-convolution projection shortcut
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), Block(3, 3), Block(3, 4), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    x = torch.randn(n, 2, 4, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "tied":
    net = Tied()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "inception":
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), Inception(3), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(20, 3))
    x = torch.randn(n, 2, 6, 6)
    y = torch.randn(n, 3)
    loss_fn = nn.MSELoss()
else:
    raise SystemExit("unknown model " + kind)

net.eval()
torch.onnx.export(net, x, out + "/model.onnx", opset_version=17 if kind == "norm17" else 14)
params = dict(net.named_parameters())
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
with open(out + "/names.txt", "w") as f:
    f.write("\n".join(params) + "\n")
ref = reference(net, params, x, y, loss_fn)
np.savez(out + "/ref.npz", **ref)
print("ok", kind, len(params), "parameters")
