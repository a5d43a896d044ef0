import torch
from my_ops.rmsnorm import Rmsnorm, RmsnormDerivatives

torch.manual_seed(0)
layer = Rmsnorm(n=5)                          # float64; layer.g is a torch.nn.Parameter [5]
x = torch.randn(8, 5, dtype=torch.float64)    # a batch of N = 8 samples
z = layer(x)                                  # [8, 5]
loss = 0.5 * ((z - 1) ** 2).sum()             # squared loss: per-sample Hessian H_z = I
g_out = torch.autograd.grad(loss, z)[0]       # the output gradient dz: [8, 5]

d = RmsnormDerivatives(layer, x)
H_z = torch.eye(5, dtype=torch.float64)
# Hessian backpropagation (eq. 7) to the input, per sample: J' H_z J + R  ->  [8, 5, 5]
H_x = d.jac_t_mat_jac_prod("x", H_z) + d.residual("x", g_out, "hessian")
exact = torch.autograd.functional.hessian(lambda x0: 0.5 * ((layer(x0[None]) - 1) ** 2).sum(), x[0])
print("max |H_x - autograd| =", (H_x[0] - exact).abs().max().item())
assert torch.allclose(H_x[0], exact, atol=1e-10, rtol=0)

# the residual made positive semi-definite (PCH, |eigenvalues|), and a GGN-vector product for g
pch = d.jac_t_mat_jac_prod("x", H_z) + d.residual("x", g_out, "pch-abs")
print("smallest eigenvalue of the PCH block:", torch.linalg.eigvalsh(pch).min().item())
v = torch.randn(3, 8, 5, dtype=torch.float64)             # V = 3 directions, BackPACK's mat [V, N, *g]
ggn_v = d.jac_t_mat_prod("g", d.jac_mat_prod("g", v))     # J_n' H_z J_n v_n per sample: [3, 8, 5]
# the batch-averaged block of eq. 8 (KFRA) for g: mean_n J_n' H_z J_n  ->  [5, 5]
print("KFRA block of g:", d.ea_jac_t_mat_jac_prod("g", H_z, "kfra").shape)
