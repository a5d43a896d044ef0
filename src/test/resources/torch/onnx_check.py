"""PyTorch's reference for hbp's ONNX import: builds a small PyTorch model (float64), exports it with
torch.onnx.export to OUT/model.onnx, writes a batch (OUT/batch.npz: x, y) and autograd's loss,
gradients, exact Hessian blocks and GGN blocks of every parameter (OUT/ref.npz, PyTorch's names,
row-major flattening), and the parameters' names in PyTorch's order (OUT/names.txt, one a line).
Usage: onnx_check.py OUT_DIR [override] mlp|cnn|gap|norm|norm17|custom|thresholded|residual|resnet|tied|inception|bn1d|bn2d|bnres|embed|transformer|transformer17|transformer_bias|causal|tokensoftmax|softmaxaxis|permute|pick|arith|bufdiv|scale|layerscale|normcnn|layerscale2d|learnedsubdiv|learnedfirst|channelbias|transformer_preserve|separate|separate_fold|cross

For the transformers, PyTorch's parameter att.in_proj_weight [3d, d] is hbp's Wq, Wk, Wv (its row
blocks), att.in_proj_bias [3d] hbp's bq, bk, bv: their gradients and diagonal curvature blocks are split into
'<name>[q]', '[k]', '[v]'.
transformer_preserve is transformer_bias exported as the Python package hbp exports (do_constant_folding=False,
TrainingMode.PRESERVE): in_proj_weight stays an initializer (read through a Transpose), so hbp's Wq, Wk, Wv go by
'<in_proj_weight>[q]', '[k]', '[v]'. With 'override', the parameters are changed after the export and written to
OUT/params.npz under PyTorch's names and in PyTorch's shapes (for --params); the reference is autograd's at those."""
import sys
import numpy as np
import torch
from torch import nn

from autograd_reference import reference

torch.set_default_dtype(torch.float64)
torch.manual_seed(3)
override = sys.argv[2] == "override"
out, kind = sys.argv[1], sys.argv[3 if override else 2]
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


class ThresholdedReluFn(torch.autograd.Function):
    """z = x where x > 0.5, else 0, exported as ONNX ThresholdedRelu with its attribute alpha = 0.5."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * (x > 0.5)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (x > 0.5)

    @staticmethod
    def symbolic(g, x):
        return g.op("ThresholdedRelu", x, alpha_f=0.5)


class ThresholdedRelu(nn.Module):
    def forward(self, x):
        return ThresholdedReluFn.apply(x)


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


class AttentionBlock(nn.Module):
    """Pre-norm: x + mha(ln1(x)), then x + fc2(gelu(fc1(ln2(x)))); mha = nn.MultiheadAttention(batch_first=True), by default
    bias=False (as networks/transformer.hbp), with bias=True PyTorch's default; mask: a float attn_mask (a buffer: a constant)."""

    def __init__(self, d, heads, hidden, bias=False, mask=None):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, bias=bias, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)
        self.register_buffer("mask", mask)

    def forward(self, x):
        a = self.ln1(x)
        x = x + self.att(a, a, a, need_weights=False, attn_mask=self.mask)[0]
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class TinyTransformer(nn.Module):
    """As networks/transformer.hbp: token embedding + learned positional embedding, two pre-norm blocks, mean over the tokens, a linear head.
    biases, masks: per block, nn.MultiheadAttention's bias and attn_mask (default: bias=False, no mask)."""

    def __init__(self, vocab, tokens, d, heads, hidden, classes, biases=(False, False), masks=(None, None)):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.5 * torch.randn(tokens, d))
        self.blocks = nn.ModuleList([AttentionBlock(d, heads, hidden, b, m) for b, m in zip(biases, masks)])
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        e = self.emb(ids) + self.pos
        for b in self.blocks:
            e = b(e)
        return self.head(e.mean(1))


class Permute(nn.Module):
    """A convolution, then the channels moved last (Transpose perm [0, 2, 3, 1], which hbp does not map), flatten, a Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.out = nn.Linear(32, 3)

    def forward(self, x):
        return self.out(self.conv(x).permute(0, 2, 3, 1).flatten(1))


class Pick(nn.Module):
    """Two features picked by index (Gather of a float value along axis 1, not an embedding), a Linear."""

    def __init__(self):
        super().__init__()
        self.out = nn.Linear(2, 3)

    def forward(self, x):
        return self.out(x[:, [0, 2]])


class Embed(nn.Module):
    """nn.Embedding, tanh, the (T, d) sequence transposed to (d, T), a Linear over the tokens, flatten, a Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.mix = nn.Linear(4, 2)
        self.out = nn.Linear(6, 3)

    def forward(self, ids):
        s = torch.tanh(self.emb(ids)).transpose(1, 2)
        return self.out(torch.tanh(self.mix(s)).flatten(1))


class TokenSoftmax(nn.Module):
    """Softmax and LogSoftmax over the last axis of a sequence [N, T, d] (each token's features), between Linears on the tokens."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.fc = nn.Linear(4, 6)
        self.mix = nn.Linear(6, 3)
        self.out = nn.Linear(3, 3)

    def forward(self, ids):
        s = torch.softmax(self.fc(self.emb(ids)), dim=-1)
        s = torch.log_softmax(self.mix(s), dim=2)
        return self.out(s.mean(1))


class TokenAxisSoftmax(nn.Module):
    """Softmax over the tokens of a sequence [N, T, d] (axis 1, not the features), which hbp does not map."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.out = nn.Linear(12, 3)

    def forward(self, ids):
        return self.out(torch.softmax(self.emb(ids), dim=1).flatten(1))


class Arith(nn.Module):
    """Arithmetic with fixed constants (Constant nodes): x * 0.5, x / 3.0, x - c, c - x, x * c and x / c with c a per-feature
    vector, 1.5 + x; and x / y of two computed values (Div, the module divide)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 5)
        self.gate = nn.Linear(5, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        h = self.inp(x) * 0.5
        h = torch.tanh(h / 3.0 - torch.tensor([0.1, -0.2, 0.3, 0.4, -0.5]))
        h = torch.tensor([1.0, 2.0, 0.5, -1.0, 0.25]) - h * torch.tensor([2.0, -1.0, 0.5, 1.5, 3.0])
        h = torch.tanh(h / torch.tensor([2.0, 4.0, 0.5, 1.0, 8.0]))
        d = h / (1.5 + torch.sigmoid(self.gate(h)))
        return self.out(2.0 - d)


class DivideByBuffer(nn.Module):
    """x / b with b a registered buffer (an initializer: a parameter or a buffer, which the ONNX file does not tell apart)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 3)
        self.register_buffer("b", 1 + torch.rand(3))

    def forward(self, x):
        return self.inp(x) / self.b


class LearnedScales(nn.Module):
    """Mul by parameters (initializers): h * gamma (a per-feature vector, LayerScale), h * t (t of shape [1], a learned
    temperature), s * h (s a 0-d parameter, first)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(5, 4)
        self.gamma = nn.Parameter(1 + 0.5 * torch.randn(4))
        self.fc = nn.Linear(4, 4)
        self.t = nn.Parameter(torch.tensor([1.5]))
        self.s = nn.Parameter(torch.tensor(0.7))
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x)) * self.gamma
        h = torch.tanh(self.fc(h)) * self.t
        return self.out(self.s * torch.sigmoid(h))


class LayerScaleTokens(nn.Module):
    """LayerScale on a sequence [N, T, d]: e + gamma * tanh(fc(e)) (gamma [d], first), then e * t (t [1]), the mean over the tokens,
    a Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.fc = nn.Linear(4, 4)
        self.gamma = nn.Parameter(1 + 0.5 * torch.randn(4))
        self.t = nn.Parameter(torch.tensor([0.8]))
        self.out = nn.Linear(4, 3)

    def forward(self, ids):
        e = self.emb(ids)
        e = e + self.gamma * torch.tanh(self.fc(e))
        return self.out((e * self.t).mean(1))


class NormalizedCnn(nn.Module):
    """Input normalisation by buffers, (x - mean) / std per channel (mean, std [C, 1, 1] as torchvision's transforms hold them), in
    front of a small CNN; inside it per-channel buffers again: h * scale ([1, C, 1, 1]), h + shift ([C, 1, 1]) and offset - h.
    The buffers are initializers of the ONNX file that hbp takes as fixed data with --constants."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1))
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("scale", (1 + torch.rand(4)).view(1, 4, 1, 1))
        self.register_buffer("shift", torch.randn(4).view(4, 1, 1))
        self.register_buffer("offset", torch.randn(4).view(4, 1, 1))
        self.conv2 = nn.Conv2d(4, 2, 3)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.conv1((x - self.mean) / self.std))
        h = torch.sigmoid(self.offset - (h * self.scale + self.shift))
        h = nn.functional.max_pool2d(h, 2)
        return self.fc(torch.tanh(self.conv2(h)).flatten(1))


class LayerScale2d(nn.Module):
    """ConvNeXt-style LayerScale on images: x + gamma * conv(x) with gamma [C, 1, 1] a parameter (learned_scale_channels, in a
    residual: the graph form), then h * beta with beta [1, C, 1, 1] (a chain step)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 3, 3, padding=1)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.gamma = nn.Parameter(1 + 0.5 * torch.randn(3, 1, 1))
        self.beta = nn.Parameter(1 + 0.5 * torch.randn(1, 3, 1, 1))
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        h = h + self.gamma * torch.tanh(self.conv(h))
        h = nn.functional.avg_pool2d(torch.sigmoid(h * self.beta), 2)
        return self.fc(h.flatten(1))


class LearnedSubDiv(nn.Module):
    """Sub and Div by parameters (initializers): h - b (learned_subtract), h / w (learned_divide), logits / t with t [1] (a learned
    temperature: learned_divide_scalar)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 5)
        self.b = nn.Parameter(torch.randn(5))
        self.w = nn.Parameter(1.5 + torch.rand(5))
        self.out = nn.Linear(5, 3)
        self.t = nn.Parameter(torch.tensor([1.3]))

    def forward(self, x):
        h = torch.tanh(self.inp(x)) - self.b
        h = torch.tanh(h / self.w)
        return self.out(h) / self.t


class LearnedFirst(nn.Module):
    """Sub and Div with the parameter (initializer) first: b - h (b [5]: learned_minus), w / h (w [5]: learned_reciprocal), t - h
    (t [1]: learned_minus_scalar), s / h (s 0-d: learned_reciprocal_scalar); h kept away from 0 before each division."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 5)
        self.b = nn.Parameter(torch.randn(5))
        self.w = nn.Parameter(1 + torch.rand(5))
        self.t = nn.Parameter(torch.tensor([0.4]))
        self.s = nn.Parameter(torch.tensor(1.7))
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        h = self.b - torch.tanh(self.inp(x))
        h = self.w / (1.5 + torch.sigmoid(h))
        h = self.t - torch.tanh(h)
        return self.out(self.s / (2 + torch.tanh(h)))


class ChannelBias(nn.Module):
    """A learned per-channel Add on images: h + gamma * tanh(conv(h)) + bias with bias [C, 1, 1] a parameter
    (learned_bias_channels, in a residual: the graph form), then beta + h with beta [1, C, 1, 1] first (a chain step)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 3, 3, padding=1)
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bias = nn.Parameter(0.5 * torch.randn(3, 1, 1))
        self.beta = nn.Parameter(0.5 * torch.randn(1, 3, 1, 1))
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        h = torch.tanh(self.stem(x))
        h = h + torch.tanh(self.conv(h) + self.bias)
        h = nn.functional.avg_pool2d(torch.sigmoid(self.beta + h), 2)
        return self.fc(h.flatten(1))


def separate_attention(d, heads, bias):
    """nn.MultiheadAttention with separate projection weights q_proj_weight, k_proj_weight, v_proj_weight (as PyTorch builds it
    where kdim or vdim differs from d), here all [d, d] for self-attention: built with kdim = vdim = d + 1, the key and value
    weights then replaced by [d, d] ones."""
    m = nn.MultiheadAttention(d, heads, bias=bias, batch_first=True, kdim=d + 1, vdim=d + 1)
    m.k_proj_weight = nn.Parameter(0.5 * torch.randn(d, d))
    m.v_proj_weight = nn.Parameter(0.5 * torch.randn(d, d))
    m.kdim = m.vdim = d
    assert not m._qkv_same_embed_dim
    return m


class SeparateAttention(nn.Module):
    """nn.Embedding, a residual self-attention block with separate projection weights (optionally a constant causal attn_mask),
    the mean over the tokens, a linear head."""

    def __init__(self, bias, mask=None):
        super().__init__()
        self.emb = nn.Embedding(5, 8)
        self.att = separate_attention(8, 2, bias)
        self.register_buffer("mask", mask)
        self.head = nn.Linear(8, 3)

    def forward(self, ids):
        e = self.emb(ids)
        e = e + self.att(e, e, e, need_weights=False, attn_mask=self.mask)[0]
        return self.head(e.mean(1))


class CrossAttention(nn.Module):
    """For the errors: nn.MultiheadAttention as cross-attention, queries from one value and keys and values from another
    (tanh of the embedding), which hbp does not map."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 8)
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, ids):
        e = self.emb(ids)
        m = torch.tanh(e)
        return self.head(self.att(e, m, m, need_weights=False)[0].mean(1))


def randomize_attention_biases(net):
    """nn.MultiheadAttention's biases (zeros as PyTorch initializes them) away from 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.MultiheadAttention) and m.in_proj_bias is not None:
                m.in_proj_bias.copy_(0.5 * torch.randn(m.in_proj_bias.shape))
                m.out_proj.bias.copy_(0.5 * torch.randn(m.out_proj.bias.shape))


class ConstantWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        w = torch.arange(9, dtype=x.dtype).reshape(3, 3) / 10  # no parameter: written as a Constant node
        return torch.nn.functional.linear(torch.tanh(self.fc(x)), w)


def randomize_norms(net):
    """Weights and biases of the normalisation layers away from 1 and 0; batch norms' running statistics away from 0 and 1."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None:
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape))
                m.bias.copy_(0.5 * torch.randn(m.bias.shape))
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape))


order = None  # the parameters in hbp's order, where PyTorch's differs
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
elif kind == "gap_pool":
    # global average pooling straight after a MaxPool, on a map that is not square (4 x 3)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3))
    x = torch.randn(n, 2, 8, 6)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "gap_pad":
    # global average pooling after a ZeroPad2d after an activation of the input itself
    net = nn.Sequential(nn.Tanh(), nn.ZeroPad2d(1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    x = 2 * torch.randn(n, 2, 5, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "bn_fixed":
    # batch norms without affine parameters: the exporter writes their scale and bias as Constant nodes (fixed data)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(3, affine=False), nn.Flatten(), nn.Linear(48, 4),
                        nn.BatchNorm1d(4, affine=False), nn.Tanh(), nn.Linear(4, 3))
    randomize_norms(net)
    x = torch.randn(n, 2, 4, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "maxpool_odd":
    # pooling windows that do not divide the map, floor mode: MaxPool2d(2) of 7 x 7 (PyTorch drops the last row and column),
    # AvgPool2d(2) of 5 x 5
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(3, 3, 3, padding=2), nn.Sigmoid(),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(12, 2))
    x = torch.randn(n, 2, 7, 7)
    y = torch.randn(n, 2)
    loss_fn = nn.MSELoss()
elif kind == "pool_stride":
    # ResNet's stem pool MaxPool2d(3, stride=2, padding=1) (overlapping windows, padding by -inf), MaxPool2d(3, stride=1,
    # padding=1) (an entry the maximum of up to 9 windows), AvgPool2d(3, stride=2, padding=1) (padded zeros counted) and
    # AvgPool2d(2, stride=1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(3, 4, 3, padding=1),
                        nn.Softplus(), nn.MaxPool2d(3, stride=1, padding=1), nn.AvgPool2d(3, stride=2, padding=1), nn.Sigmoid(),
                        nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(4, 3))
    x = torch.randn(n, 2, 7, 7)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "pool_ceil":
    # for the errors: MaxPool2d(2, ceil_mode=True) of 7 x 7 (a last window of one row and column)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(48, 2))
    x = torch.randn(n, 2, 7, 7)
    y = torch.randn(n, 2)
    loss_fn = nn.MSELoss()
elif kind == "constant_weight":
    # for the errors: a Linear whose weight is a tensor of the forward pass (a Constant node), not a parameter
    net = ConstantWeight()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 1, 2, 0])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "square_matmul":
    # a bias-free square Linear: exported with constant folding as a MatMul by the transposed initializer onnx::MatMul_* [in, out]
    net = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Tanh(), nn.Linear(4, 3))
    x = torch.randn(n, 4)
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
elif kind == "thresholded":
    # an operator without a built-in mapping that has an attribute: ThresholdedRelu (alpha = 0.5), which --map cannot carry
    net = nn.Sequential(nn.Linear(4, 3), ThresholdedRelu(), nn.Linear(3, 2))
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
elif kind == "bn1d":
    # nn.BatchNorm1d in eval mode (running statistics as constants, weight and bias as parameters)
    net = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    randomize_norms(net)
    x = torch.randn(n, 5)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "bn2d":
    # nn.BatchNorm2d in eval mode after a convolution and after a pooling
    # (PyTorch's exporter folds a BatchNorm2d right after a Conv into the Conv's weight and bias; here one follows a ReLU, one a MaxPool)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(3), nn.MaxPool2d(2), nn.BatchNorm2d(3), nn.Conv2d(3, 2, 3),
                        nn.Tanh(), nn.Flatten(), nn.Linear(8, 3))
    randomize_norms(net)
    x = torch.randn(n, 2, 8, 8)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "arith":
    net = Arith()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "bufdiv":
    net = DivideByBuffer()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "scale":
    net = LearnedScales()
    x = torch.randn(n, 5)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    # named_parameters lists a module's own parameters before its submodules'; hbp's order is the graph's
    order = ["inp.weight", "inp.bias", "gamma", "fc.weight", "fc.bias", "t", "s", "out.weight", "out.bias"]
elif kind == "layerscale":
    net = LayerScaleTokens()
    x = torch.tensor([[0, 4, 2, 2], [1, 3, 0, 4], [2, 2, 2, 1], [4, 0, 1, 3]])
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    order = ["emb.weight", "fc.weight", "fc.bias", "gamma", "t", "out.weight", "out.bias"]
elif kind == "normcnn":
    net = NormalizedCnn()
    x = torch.rand(n, 3, 8, 8)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "layerscale2d":
    net = LayerScale2d()
    x = torch.randn(n, 2, 4, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    order = ["stem.weight", "stem.bias", "conv.weight", "conv.bias", "gamma", "beta", "fc.weight", "fc.bias"]
elif kind == "learnedsubdiv":
    net = LearnedSubDiv()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    order = ["inp.weight", "inp.bias", "b", "w", "out.weight", "out.bias", "t"]
elif kind == "learnedfirst":
    net = LearnedFirst()
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    order = ["inp.weight", "inp.bias", "b", "w", "t", "s", "out.weight", "out.bias"]
elif kind == "channelbias":
    net = ChannelBias()
    x = torch.randn(n, 2, 4, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    order = ["stem.weight", "stem.bias", "conv.weight", "bias", "beta", "fc.weight", "fc.bias"]
elif kind in ("separate", "separate_fold"):
    # separate: with biases, exported as the Python package exports (no constant folding); separate_fold: without biases,
    # with a causal attn_mask, exported with the exporter's defaults
    causal = torch.triu(torch.full((4, 4), float("-inf")), diagonal=1)
    net = SeparateAttention(bias=kind == "separate", mask=None if kind == "separate" else causal)
    randomize_attention_biases(net)
    x = torch.randint(0, 5, (n, 4))
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "cross":
    net = CrossAttention()
    x = torch.randint(0, 5, (n, 4))
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind in ("permute", "pick"):
    # for the errors: operators with arguments hbp does not map
    net = Permute() if kind == "permute" else Pick()
    x = torch.randn(n, 2, 4, 4) if kind == "permute" else torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "bnres":
    # batch norm inside a residual branch (the graph form): x + bn(relu(fc(x)))
    net = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), Skip(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4))), nn.Linear(4, 3))
    randomize_norms(net)
    x = torch.randn(n, 4)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "embed":
    net = Embed()
    x = torch.tensor([[0, 4, 2, 2], [1, 3, 0, 4], [2, 2, 2, 1], [4, 0, 1, 3]])
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind in ("transformer", "transformer17"):
    net = TinyTransformer(vocab=5, tokens=4, d=8, heads=2, hidden=16, classes=3)
    randomize_norms(net)
    x = torch.randint(0, 5, (n, 4))
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    names = [k for k, _ in net.named_parameters()]
    order = ["emb.weight", "pos"] + [k for k in names if k not in ("emb.weight", "pos")]
elif kind in ("transformer_bias", "transformer_preserve"):
    # nn.MultiheadAttention with its default biases (in_proj_bias, out_proj.bias) in both blocks
    net = TinyTransformer(vocab=5, tokens=4, d=8, heads=2, hidden=16, classes=3, biases=(True, True))
    randomize_norms(net)
    randomize_attention_biases(net)
    x = torch.randint(0, 5, (n, 4))
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    names = [k for k, _ in net.named_parameters()]
    order = ["emb.weight", "pos"] + [k for k in names if k not in ("emb.weight", "pos")]
elif kind == "causal":
    # a causal float attn_mask A[query, key] (nn.Transformer.generate_square_subsequent_mask: -inf for key > query) in block 0,
    # whose attention has no biases; the boolean causal mask (True for key > query; the exporter writes its float form) in
    # block 1, whose attention has the default biases
    causal = torch.triu(torch.full((4, 4), float("-inf")), diagonal=1)
    boolean = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
    net = TinyTransformer(vocab=5, tokens=4, d=8, heads=2, hidden=16, classes=3, biases=(False, True), masks=(causal, boolean))
    randomize_norms(net)
    randomize_attention_biases(net)
    x = torch.randint(0, 5, (n, 4))
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    names = [k for k, _ in net.named_parameters()]
    order = ["emb.weight", "pos"] + [k for k in names if k not in ("emb.weight", "pos")]
elif kind == "tokensoftmax":
    net = TokenSoftmax()
    with torch.no_grad():
        net.fc.weight.mul_(4)  # softmax inputs of order 1, not near uniform
    x = torch.tensor([[0, 4, 2, 2], [1, 3, 0, 4], [2, 2, 2, 1], [4, 0, 1, 3]])
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
elif kind == "softmaxaxis":
    # for the errors: a softmax over the tokens
    net = TokenAxisSoftmax()
    x = torch.tensor([[0, 4, 2, 2], [1, 3, 0, 4], [2, 2, 2, 1], [4, 0, 1, 3]])
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
else:
    raise SystemExit("unknown model " + kind)

net.eval()
if kind in ("transformer_preserve", "separate"):
    torch.onnx.export(net, x, out + "/model.onnx", opset_version=14, do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
else:
    torch.onnx.export(net, x, out + "/model.onnx", opset_version=17 if kind.endswith("17") else 14)
params = dict(net.named_parameters())
if override:
    # parameters other than the file's: --params must bring them, under PyTorch's names and shapes
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape))
    np.savez(out + "/params.npz", **{k: p.detach().numpy() for k, p in net.named_parameters()})
if order is not None:
    params = {k: params[k] for k in order}
np.savez(out + "/batch.npz", x=x.numpy(), y=y.numpy())
with open(out + "/names.txt", "w") as f:
    f.write("\n".join(params) + "\n")
attention = kind.startswith("transformer") or kind in ("causal", "separate", "separate_fold", "cross")
if attention:
    # torch 1.13's eval-mode fast path of nn.MultiheadAttention (used where no input needs a gradient)
    # fails without biases; in training mode the model computes the same (no dropout, no batch norm)
    net.train()
ref = reference(net, params, x, y, loss_fn)
if attention:
    # in_proj_weight [3d, d] = [Wq; Wk; Wv] and in_proj_bias [3d] = [bq; bk; bv]: their row blocks and their diagonal blocks of
    # the curvature
    split = []
    for k in params:
        if not k.endswith(("in_proj_weight", "in_proj_bias")):
            split.append(k)
            continue
        rows = params[k].shape[0] // 3
        size = params[k].numel() // 3
        for b, part in enumerate("qkv"):
            name = k + "[" + part + "]"
            split.append(name)
            ref["grad." + name] = ref["grad." + k][b * rows:(b + 1) * rows]
            for c in ("hessian", "ggn"):
                ref[c + "." + name] = ref[c + "." + k][b * size:(b + 1) * size, b * size:(b + 1) * size]
    with open(out + "/names.txt", "w") as f:
        f.write("\n".join(split) + "\n")
# every gradient in its parameter's own shape: hbp writes results under an initializer's name in the initializer's shape,
# also where it holds the parameter squeezed (a per-channel [C, 1, 1] or [1, C, 1, 1] as [C], a 0-d parameter as [1])
np.savez(out + "/ref.npz", **ref)
print("ok", kind, len(params), "parameters")
