"""A small transformer classifier as PyTorch users write one, exported for `hbp train --net model.onnx --data sequences`:
nn.Embedding(V, d) of the token ids [N, T] plus a learned positional embedding, one pre-norm block (nn.LayerNorm,
nn.MultiheadAttention(d, 2, batch_first=True) with its default biases, nn.LayerNorm, a GELU MLP, residuals), the mean
over the tokens, nn.Linear(d, classes). Float32 (torch's default), exported after model.eval() at opset 14; PyTorch's
initialization (seed 0). Writes OUT/model.onnx.  Usage: onnx_classifier.py OUT V T CLASSES"""
import sys
import torch
from torch import nn

out, vocab, tokens, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d, heads, hidden = 16, 2, 32
torch.manual_seed(0)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.1 * torch.randn(tokens, d))
        self.ln1 = nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        x = self.emb(ids) + self.pos
        a = self.ln1(x)
        x = x + self.att(a, a, a, need_weights=False)[0]
        x = x + self.mlp(self.ln2(x))
        return self.head(x.mean(1))


model = Classifier().eval()
torch.onnx.export(model, torch.randint(0, vocab, (2, tokens)), out + "/model.onnx", opset_version=14,
                  input_names=["ids"], output_names=["logits"], dynamic_axes={"ids": {0: "batch"}, "logits": {0: "batch"}})
print("ok", sum(p.numel() for p in model.parameters()), "parameters")
