"""The generated PyTorch Conv2d and Avgpool used as a PyTorch user would: natural shapes in and out,
checked against F.conv2d / F.avg_pool2d and torch.autograd (float64). argv[1]: the folder holding
the generated package hbp_generated. Exits non-zero with a message on the first mismatch."""
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, sys.argv[1])
from hbp_generated.conv2d import Conv2d, Conv2dDerivatives  # noqa: E402
from hbp_generated.avgpool import Avgpool, AvgpoolDerivatives  # noqa: E402

torch.manual_seed(3)
dt = torch.float64
TOL = 1e-12


def same(what, got, want):
    if tuple(got.shape) != tuple(want.shape):
        sys.exit("%s: shape %s, expected %s" % (what, tuple(got.shape), tuple(want.shape)))
    err = (got - want).abs().max().item()
    if err > TOL * (1 + want.abs().max().item()):
        sys.exit("%s: max |got - want| = %g" % (what, err))
    print("ok", what)


# a non-square image and stride 2, so that a transposed pixel order cannot pass
N, V, cin, cout, h, w, k, s, p, d = 2, 3, 2, 3, 5, 7, 3, 2, 1, 1
conv = Conv2d(cin, cout, h, w, k, s, p, d, dtype=dt)
X = torch.randn(N, cin, h, w, dtype=dt)
W4 = conv.W.detach().reshape(cout, cin, k, k)
b = conv.b.detach()


def ref(x, w4=W4):
    return F.conv2d(x, w4, b, stride=s, padding=p, dilation=d)


Z = ref(X)
oh, ow = Z.shape[2:]
same("Conv2d forward vs F.conv2d", conv(X), Z)
same("Conv2d forward flatten(2) vs F.conv2d(...).flatten(2)", conv(X).flatten(2), Z.flatten(2))

der = Conv2dDerivatives(conv, X)
vx = torch.randn(V, N, cin, h, w, dtype=dt)
want = torch.stack([torch.autograd.functional.jvp(ref, X, vx[i])[1] for i in range(V)])
same("jac_mat_prod(X) vs autograd jvp", der.jac_mat_prod("X", vx), want)
vw = torch.randn(V, N, cout, cin * k * k, dtype=dt)
want = torch.stack([torch.stack([torch.autograd.functional.jvp(lambda w2: ref(X[n:n + 1], w2.reshape(cout, cin, k, k)),
                                                               conv.W.detach(), vw[i, n])[1][0] for n in range(N)]) for i in range(V)])
same("jac_mat_prod(W) vs autograd jvp", der.jac_mat_prod("W", vw), want)

mz = torch.randn(V, N, cout, oh, ow, dtype=dt)
Xg = X.clone().requires_grad_(True)
Zg = ref(Xg)
want = torch.stack([torch.autograd.grad(Zg, Xg, mz[i], retain_graph=True)[0] for i in range(V)])
same("jac_t_mat_prod(X) vs autograd vjp", der.jac_t_mat_prod("X", mz), want)
Wg = conv.W.detach().clone().requires_grad_(True)
Zw = ref(X, Wg.reshape(cout, cin, k, k))
want = torch.stack([torch.autograd.grad(Zw, Wg, mz[i], retain_graph=True)[0] for i in range(V)])
same("jac_t_mat_prod(W, sum_batch) vs autograd vjp", der.jac_t_mat_prod("W", mz, sum_batch=True), want)

# dense matrices over the output use PyTorch's row-major flattening of [cout, oh, ow]
dout = cout * oh * ow
hz = torch.randn(N, dout, dout, dtype=dt)
hz = hz @ hz.mT
jx = torch.stack([torch.autograd.functional.jacobian(ref, X[n:n + 1]).reshape(dout, cin * h * w) for n in range(N)])
same("jac_t_mat_jac_prod(X) vs autograd jacobian", der.jac_t_mat_jac_prod("X", hz), jx.mT @ hz @ jx)

# the Kronecker factor of W: columns over the output's pixels column-major, F.unfold's columns reordered
u = F.unfold(X, k, dilation=d, padding=p, stride=s)  # [N, cin*k*k, oh*ow], column y*ow + x
want = u.reshape(N, cin * k * k, oh, ow).transpose(2, 3).reshape(N, cin * k * k, oh * ow)  # column y + oh*x
same("kronecker_factor(W) vs F.unfold in column-major pixel order", der.kronecker_factor("W"), want)

c, ph, pw, pk = 2, 4, 6, 2
pool = Avgpool(c, ph, pw, pk, dtype=dt)
x = torch.randn(N, c, ph, pw, dtype=dt)
same("Avgpool forward vs F.avg_pool2d", pool(x), F.avg_pool2d(x, pk))
pd = AvgpoolDerivatives(pool, x)
m = torch.randn(V, N, c, ph // pk, pw // pk, dtype=dt)
xg = x.clone().requires_grad_(True)
zg = F.avg_pool2d(xg, pk)
want = torch.stack([torch.autograd.grad(zg, xg, m[i], retain_graph=True)[0] for i in range(V)])
same("Avgpool jac_t_mat_prod(x) vs autograd vjp", pd.jac_t_mat_prod("x", m), want)
print("all image layout checks passed")
