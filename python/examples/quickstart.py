# The hbp Python package on a live PyTorch model (python/examples/quickstart.py).
import torch
import hbp

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
x, y = torch.randn(32, 10, dtype=torch.float64), torch.randint(0, 3, (32,))

ggn = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")           # exact GGN blocks
for name, block in ggn.items():
    print(f"{name}: block {tuple(block.shape)}, trace {block.trace():.6f}")
v = {"2.weight": torch.randn(4, 3, 8, dtype=torch.float64)}                     # 4 directions
hv = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors=v)
print("Hessian block products:", tuple(hv["2.weight"].shape))
step = hbp.newton_step(model, "crossentropy", x, y, curvature="ggn", strategy="kfra", damping=0.01)
print("Newton step (kfra):", {name: tuple(d.shape) for name, d in step.items()})
