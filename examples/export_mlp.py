"""Writes examples/mlp.onnx, the model of the README's section "From PyTorch (ONNX)": a small MLP
exported with torch.onnx.export (float32, fixed seed). Usage: python3 examples/export_mlp.py"""
import os
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
x = torch.randn(2, 1, 4, 4)  # a batch of 2 images, 1 x 4 x 4
torch.onnx.export(model, x, os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlp.onnx"))
