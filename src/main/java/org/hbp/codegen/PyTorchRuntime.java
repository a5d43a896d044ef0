package org.hbp.codegen;

/**
 * The source of {@code hbp_runtime.py}, the Python module that every generated PyTorch package
 * holds: layouts, kernels on items, residual modifications and the BackPACK-style contract
 * ({@code ModuleDerivatives}, {@code LossDerivatives}). Held as a text block so that it travels
 * in hbp's jar; written verbatim by {@link PyTorchGeneration}.
 */
final class PyTorchRuntime {
  private PyTorchRuntime() {}

  /** The Python source. */
  static final String SOURCE = """
\"""Kernels and conventions shared by the PyTorch modules that hbp generates (depends on torch only).

Written by `hbp generate --target pytorch`; do not edit.

Conventions
-----------
* Public tensors have PyTorch's natural shapes: an input batch is [N, *shape], a parameter
  [*shape], directions (BackPACK's `mat`) are [V, N, *shape] (V directions of N samples).
  An image that a spec holds as a matrix (c, oh*ow), its columns the product of two derived dims
  (conv2d's, avgpool's output), has the natural shape (c, oh, ow): F.conv2d's [N, c, oh, ow].
  Dense matrices over a variable index its entries in PyTorch's row-major flattening.
* Inside the generated code a value is a 4-d tensor [V, N, rows, cols] of items, as hbp's Java
  operators hold it: a vector(n) is an n x 1 item, a matrix(m, n) an m x n item, a tensor
  (c, h, w) a c x (h*w) item whose column y + h*x holds X[:, y, x] (column-major over the trailing
  dims). A V or N axis of extent 1 is shared (broadcast). Vectorization is column-major, as in the
  derived formulas: vec(X) stacks the columns of X.
\"""
import torch
import torch.nn.functional as F


# ---- layouts --------------------------------------------------------------------------------------

def _reverse_trailing(t, ndim):
    lead = t.dim() - ndim
    return t.permute(*range(lead), *reversed(range(lead, t.dim())))


def item_of(t, shape):
    \"""Natural [..., *shape] -> items [..., rows, cols]: rows = shape[0], columns column-major over shape[1:].\"""
    shape = tuple(shape)
    lead = t.shape[:t.dim() - len(shape)]
    if len(shape) == 0:
        return t.reshape(*lead, 1, 1)
    rest = 1
    for d in shape[1:]:
        rest *= d
    k = t.dim() - len(shape)
    # (d0, d1..dk) -> (d0, dk..d1): a row-major reshape of (dk..d1) runs d1 fastest
    order = [*range(k), k, *reversed(range(k + 1, t.dim()))]
    return t.permute(*order).reshape(*lead, shape[0], rest)


def natural_of(item, shape):
    \"""The inverse of item_of: items [..., rows, cols] -> natural [..., *shape].\"""
    shape = tuple(shape)
    lead = item.shape[:-2]
    if len(shape) == 0:
        return item.reshape(lead)
    t = item.reshape(*lead, shape[0], *reversed(shape[1:]))
    k = len(lead)
    order = [*range(k), k, *reversed(range(k + 1, t.dim()))]
    return t.permute(*order)


def vec_of(t, shape):
    \"""Natural [..., *shape] -> column-major vec as columns [..., numel, 1].\"""
    shape = tuple(shape)
    lead = t.shape[:t.dim() - len(shape)]
    numel = 1
    for d in shape:
        numel *= d
    return _reverse_trailing(t, len(shape)).reshape(*lead, numel, 1)


def natural_from_vec(col, shape):
    \"""The inverse of vec_of: columns [..., numel, 1] -> natural [..., *shape].\"""
    shape = tuple(shape)
    lead = col.shape[:-2]
    return _reverse_trailing(col.reshape(*lead, *reversed(shape)), len(shape))


def expand_batch(a, v, n):
    \"""Items [V', N', r, c] with shared (extent 1) axes expanded to [v, n, r, c].\"""
    return a.expand(v, n, *a.shape[2:])


class Cache:
    \"""The forward values of one batch as items (by name), the memo of forward-only subexpressions, dtype and device.\"""

    def __init__(self, values, dtype, device):
        self.values = dict(values)
        self.memo = {}
        self.dtype = dtype
        self.device = device

    def __getitem__(self, name):
        return self.values[name]


def per_sample(cache, item):
    \"""item [N or 1, rows, cols] as one item per sample of the batch: an output that does not depend on the batch's
    values (a constant, z = 3) is computed once, as one item, and repeated for each of the N samples.\"""
    n = max(v.shape[1] for v in cache.values.values())
    return item.expand(n, *item.shape[1:]) if item.shape[0] == 1 and n != 1 else item


# ---- kernels on items [V, N, rows, cols] -------------------------------------------------------------

def fill(cache, rows, cols, value):
    return torch.full((1, 1, rows, cols), float(value), dtype=cache.dtype, device=cache.device)


def eye(cache, n):
    return torch.eye(n, dtype=cache.dtype, device=cache.device).reshape(1, 1, n, n)


def apply(f, a):
    \"""f applied to every entry of a (a constant formula gives a constant tensor of a's shape).\"""
    r = f(a)
    return r if torch.is_tensor(r) and r.shape == a.shape else torch.zeros_like(a) + r


def matmul(a, ta, b, tb):
    \"""op(a) @ op(b) per item, op = transpose where the flag is set.\"""
    return (a.mT if ta else a) @ (b.mT if tb else b)


def sum_products(a, ta, b, tb):
    \"""sum_n op(a_n) @ op(b_n) over the samples (one sample in the result).\"""
    return matmul(a, ta, b, tb).sum(dim=1, keepdim=True)


def samples_sum(a):
    return a.sum(dim=1, keepdim=True)


def kron(a, b):
    \"""The Kronecker product of the items.\"""
    ar, ac = a.shape[-2:]
    br, bc = b.shape[-2:]
    p = a[..., :, None, :, None] * b[..., None, :, None, :]
    return p.reshape(*p.shape[:-4], ar * br, ac * bc)


def reshape(a, rows, cols):
    \"""Each item read column-major as rows x cols.\"""
    return a.mT.reshape(*a.shape[:-2], cols, rows).mT


def columns_as_directions(a):
    \"""[V, N] items r x c -> [V*c, N] items r x 1; item (v, n) column j becomes direction v*c + j.\"""
    v, n, r, c = a.shape
    return a.permute(0, 3, 1, 2).reshape(v * c, n, r, 1)


def directions_as_columns(a, cols):
    \"""The inverse of columns_as_directions.\"""
    vc, n, r, _ = a.shape
    return a.reshape(vc // cols, cols, n, r).permute(0, 2, 3, 1)


def diag_matrix(a):
    \"""diag(vec(item)).\"""
    return torch.diag_embed(reshape(a, a.shape[-2] * a.shape[-1], 1)[..., 0])


def diagonal(a):
    return torch.diagonal(a, dim1=-2, dim2=-1).unsqueeze(-1)


def trace(a):
    return torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)[..., None, None]


def item_sum(a):
    return a.sum(dim=(-2, -1), keepdim=True)


def softmax(a):
    \"""Softmax over each item's entries.\"""
    return torch.softmax(a.reshape(*a.shape[:-2], -1), dim=-1).reshape(a.shape)


def log_sum_exp(a):
    return torch.logsumexp(a.reshape(*a.shape[:-2], -1), dim=-1)[..., None, None]


def inverse(a):
    return torch.linalg.inv(a)


def determinant(a):
    return torch.linalg.det(a)[..., None, None]


def _flat(a):
    return a.reshape(-1, *a.shape[2:]), a.shape[:2]


def _out_size(g):
    c, h, w, k, s, p, d = g
    return (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1


def unfold(x, g):
    \"""unfold (im2col) of items read column-major as tensors (c, h, w) (any item shape with c*h*w entries):
    items (c*k*k) x (outH*outW), row (ch*k + ki)*k + kj, column oh + outH*ow (hbp's order). g = (c, h, w, k, s, p, d).\"""
    c, h, w, k, s, p, d = g
    oh, ow = _out_size(g)
    flat, lead = _flat(x)
    image = flat.mT.reshape(-1, w, h, c).permute(0, 3, 2, 1)  # [B, c, h, w]
    u = F.unfold(image, kernel_size=k, dilation=d, padding=p, stride=s)  # columns oh*ow + ow (row-major)
    u = u.reshape(-1, c * k * k, oh, ow).transpose(-1, -2).reshape(-1, c * k * k, oh * ow)
    return u.reshape(*lead, c * k * k, oh * ow)


def fold(cols, g):
    \"""The adjoint of unfold (col2im, summing overlaps): items with (c*k*k)*patches entries (read column-major as
    (c*k*k) x patches) -> items c x (h*w).\"""
    c, h, w, k, s, p, d = g
    oh, ow = _out_size(g)
    flat, lead = _flat(cols)
    u = flat.mT.reshape(-1, ow, oh, c * k * k).permute(0, 3, 2, 1).reshape(-1, c * k * k, oh * ow)
    image = F.fold(u, output_size=(h, w), kernel_size=k, dilation=d, padding=p, stride=s)  # [B, c, h, w]
    return image.permute(0, 3, 2, 1).reshape(-1, w * h, c).mT.reshape(*lead, c, h * w)


def convolution(w, x, g, bias):
    \"""w @ unfold(x) (+ bias * ones'): items cout x patches.\"""
    r = w @ unfold(x, g)
    return r if bias is None else r + bias


def convolution_adjoint(w, y, g):
    \"""fold(w' @ y): the adjoint of a convolution in its input; y's items read as rows(w) x patches.\"""
    oh, ow = _out_size(g)
    return fold(w.mT @ reshape(y, w.shape[-2], oh * ow), g)


def sum_convolution_weight_gradients(y, x, g):
    \"""sum_n y_n @ unfold(x_n)' over the samples; y's items read as (entries/patches) x patches.\"""
    oh, ow = _out_size(g)
    y = reshape(y, y.shape[-2] * y.shape[-1] // (oh * ow), oh * ow)
    return (y @ unfold(x, g).mT).sum(dim=1, keepdim=True)


def _positions(index, size):
    \"""Column-major positions of an index item as a long tensor, -1 (a padded zero) mapped to `size`.\"""
    i = reshape(index, index.shape[-2] * index.shape[-1], 1)[..., 0].round().long()
    return torch.where(i < 0, torch.full_like(i, size), i)


def gather(x, index):
    \"""out[j] = x[index[j]] (column-major positions; 0 where index[j] = -1); items shaped like the index's.\"""
    size = x.shape[-2] * x.shape[-1]
    src = reshape(x, size, 1)[..., 0]
    src = torch.cat([src, torch.zeros_like(src[..., :1])], dim=-1)
    pos = _positions(index, size)
    lead = torch.broadcast_shapes(src.shape[:-1], pos.shape[:-1])
    out = torch.gather(src.expand(*lead, size + 1), -1, pos.expand(*lead, pos.shape[-1]))
    return reshape(out[..., None], index.shape[-2], index.shape[-1])


def scatter_add(g, index, rows, cols):
    \"""The adjoint of gather: out[index[j]] += g[j], items rows x cols.\"""
    size = rows * cols
    src = reshape(g, g.shape[-2] * g.shape[-1], 1)[..., 0]
    pos = _positions(index, size)
    lead = torch.broadcast_shapes(src.shape[:-1], pos.shape[:-1])
    out = torch.zeros(*lead, size + 1, dtype=g.dtype, device=g.device)
    out.scatter_add_(-1, pos.expand(*lead, pos.shape[-1]), src.expand(*lead, src.shape[-1]))
    return reshape(out[..., :size, None], rows, cols)


# ---- curvature from the generated products ---------------------------------------------------------

CURVATURES = ("hessian", "ggn", "pch-abs", "pch-clip")


def check_curvature(curvature):
    if curvature not in CURVATURES:
        raise ValueError("curvature must be one of %s, not %r" % (", ".join(CURVATURES), curvature))


def modify_eigenvalues(values, curvature):
    \"""The residual modification on eigenvalues (or diagonal entries): hessian as is, pch-abs |.|, pch-clip max(., 0).\"""
    if curvature == "pch-abs":
        return values.abs()
    if curvature == "pch-clip":
        return values.clamp(min=0)
    return values


def modify_dense(r, curvature):
    \"""mod(R) of symmetric matrices [..., D, D]: Q f(L) Q' of the eigendecomposition of (R + R')/2.\"""
    if curvature == "hessian":
        return r
    if curvature == "ggn":
        return torch.zeros_like(r)
    lam, q = torch.linalg.eigh((r + r.mT) / 2)
    return (q * modify_eigenvalues(lam, curvature)[..., None, :]) @ q.mT


def dense(product, n, shape, dtype, device):
    \"""[N, D, D] from a product [V, N, *shape] -> [V, N, *shape] applied to the D unit directions (row-major).\"""
    size = 1
    for d in shape:
        size *= d
    units = torch.eye(size, dtype=dtype, device=device).reshape(size, 1, *shape).expand(size, n, *shape)
    columns = product(units).reshape(size, n, -1)  # [D (unit j), N, D]: column j of each sample's matrix
    return columns.permute(1, 2, 0)


def jt_columns(jac_t_mat_prod, m, n, out_shape):
    \"""J_n' M_n for M [N', Dout, C] (N' = 1: shared): the columns of M as directions; [N, Dwrt, C].\"""
    cols = m.shape[-1]
    mat = m.expand(n, *m.shape[-2:]).permute(2, 0, 1).reshape(cols, n, *out_shape)
    return jac_t_mat_prod(mat).reshape(cols, n, -1).permute(1, 2, 0)


# ---- index maps declared by specs ---------------------------------------------------------------------

def window_argmax(x, shape, k):
    \"""window_argmax(x, k) of a batch x [N, c, h, w]: per k x k window (stride k) the position of its maximum,
    as column-major positions ch + c*(y + h*x) into the sample; [N, c, h/k, w/k] (ties: PyTorch's choice).\"""
    c, h, w = shape
    _, flat = F.max_pool2d(x.detach(), k, stride=k, return_indices=True)
    y, xx = flat // w, flat % w
    ch = torch.arange(c, device=x.device).reshape(1, c, 1, 1)
    return (ch + c * (y + h * xx)).to(x.dtype)


def window_argmax_strided(x, shape, k, s, p):
    \"""window_argmax_strided(x, k, s, p) of a batch x [N, c, h, w]: per k x k window at stride s of x padded by p on each
    side with -inf (floor mode) the column-major position ch + c*(y + h*x) into the sample of its maximum, -1 for a
    window of padding only; [N, c, (h + 2p - k)/s + 1, (w + 2p - k)/s + 1] (ties: the first in the window's row-major
    order).\"""
    c, h, w = shape
    n = x.shape[0]
    ch = torch.arange(c, device=x.device).reshape(c, 1, 1)
    y = torch.arange(h, device=x.device).reshape(1, h, 1)
    xx = torch.arange(w, device=x.device).reshape(1, 1, w)
    source = F.pad((ch + c * (y + h * xx)).to(x.dtype), (p, p, p, p), value=-1.0).expand(n, c, h + 2 * p, w + 2 * p)
    padded = F.pad(x.detach(), (p, p, p, p), value=float("-inf"))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    windows = padded.unfold(2, k, s).unfold(3, k, s).reshape(n, c, oh, ow, k * k)
    sources = source.unfold(2, k, s).unfold(3, k, s).reshape(n, c, oh, ow, k * k)
    best = torch.argmax(windows, dim=4, keepdim=True)
    return torch.gather(sources, 4, best).squeeze(4)


def pad_source(x, shape, p):
    \"""pad_source(x, p) for a batch x [N, c, h, w]: for each position of x padded by p on each side the
    column-major position ch + c*(y + h*x) of its source, -1 in the padding; [N, c, h + 2p, w + 2p].\"""
    c, h, w = shape
    ch = torch.arange(c, device=x.device).reshape(c, 1, 1)
    y = torch.arange(h, device=x.device).reshape(1, h, 1)
    xx = torch.arange(w, device=x.device).reshape(1, 1, w)
    source = F.pad((ch + c * (y + h * xx)).to(x.dtype), (p, p, p, p), value=-1.0)
    return source.expand(x.shape[0], *source.shape)


# ---- names and inputs of the generated modules -------------------------------------------------------

def spec_name(module, name):
    \"""The spec's name of a variable given by its spec name or its Python name (module.PYTHON_NAMES lists the
    names that differ: a Python keyword, an attribute of torch.nn.Module, ...).\"""
    for spec, python in module.PYTHON_NAMES.items():
        if name == python:
            return spec
    return name


def check_inputs(module, given):
    \"""A ValueError unless every given tensor has its variable's natural shape behind the batch axis: given is
    (role, spec name, Python name, tensor or None, layout text) per argument of forward; inputs and targets
    share the first one's N, a data or index variable has N or 1 (shared) samples. None (not given) is skipped.\"""
    n = first = None
    for role, name, python, t, layout in given:
        if t is None:
            continue
        shape = tuple(module.shape(name))
        what = "%s: %s %s%s" % (type(module).__name__, role, name, "" if python == name else " (argument %s)" % python)
        expected = "[N, %s] (%s)" % (", ".join(map(str, shape)), layout) if shape else "[N] (%s)" % layout
        if not torch.is_tensor(t):
            raise ValueError("%s: expected a tensor of shape %s, got %s" % (what, expected, type(t).__name__))
        if t.dim() != 1 + len(shape) or tuple(t.shape[1:]) != shape:
            raise ValueError("%s: expected shape %s, got %s" % (what, expected, list(t.shape)))
        if role in ("input", "target"):
            if n is None:
                n, first = t.shape[0], name
            elif t.shape[0] != n:
                raise ValueError("%s: expected N = %d samples (as %s), got %s" % (what, n, first, list(t.shape)))
        elif n is not None and t.shape[0] not in (1, n):
            raise ValueError("%s: expected N = %d samples (as %s) or 1 (shared), got %s" % (what, n, first, list(t.shape)))


# ---- the operator contract, batched like BackPACK's derivatives ------------------------------------------

def _check_directions(mat, v_n, shape, what):
    if mat.dim() != 2 + len(shape) or tuple(mat.shape[1:]) != (v_n, *shape):
        raise ValueError("%s: expected directions [V, N=%d, %s], got %s" % (what, v_n, ", ".join(map(str, shape)), tuple(mat.shape)))


class ModuleDerivatives:
    \"""The derived rules of a generated module on one batch (its forward cache), BackPACK-style.

    mat: [V, N, *shape] (V directions per sample, PyTorch's natural shape of the variable); dense
    matrices over a variable use PyTorch's row-major flattening of its shape, D = numel(shape).
    Subclasses (generated) name the output (OUTPUT) and residual kinds (RESIDUAL_KINDS); the module's
    private methods _jac_W, _jac_t_W, ... are the lowered rules.
    \"""

    def __init__(self, module, cache, samples):
        self.module = module
        self.cache = cache
        self.samples = samples
        cache.values[self.OUTPUT] = module._forward(cache)

    def output(self):
        \"""The module's output [N, *out].\"""
        return natural_of(self.cache[self.OUTPUT][0], self.module.shape(self.OUTPUT))

    def _variable(self, wrt):
        \"""The spec's name of wrt (its spec or Python name) and its natural shape.\"""
        name = spec_name(self.module, wrt)
        if name not in self.RESIDUAL_KINDS:
            raise ValueError("%s: no differentiable variable %r; it has %s" % (type(self).__name__, wrt, ", ".join(self.RESIDUAL_KINDS)))
        return name, self.module.shape(name)

    def _rule(self, name, wrt):
        return getattr(self.module, "_%s_%s" % (name, wrt))

    def _apply(self, rule, mat, in_shape, out_shape, what, *extra):
        _check_directions(mat, self.samples, in_shape, what)
        v = vec_of(mat, in_shape)
        r = rule(self.cache, *extra, v)
        return natural_from_vec(expand_batch(r, mat.shape[0], self.samples), out_shape)

    def jac_mat_prod(self, wrt, mat):
        \"""J_n v per sample: mat [V, N, *wrt] -> [V, N, *out], J_n = d out_n / d wrt.\"""
        wrt, shape = self._variable(wrt)
        return self._apply(self._rule("jac", wrt), mat, shape, self.module.shape(self.OUTPUT), "jac_mat_prod(%s)" % wrt)

    def jac_t_mat_prod(self, wrt, mat, sum_batch=False):
        \"""J_n' v per sample: mat [V, N, *out] -> [V, N, *wrt]; with sum_batch, sum_n J_n' v_n: [V, *wrt]
        (BackPACK's param_mjp(sum_batch=True): the batch gradient for mat = the output gradient).\"""
        wrt, shape = self._variable(wrt)
        out = self.module.shape(self.OUTPUT)
        if not sum_batch:
            return self._apply(self._rule("jac_t", wrt), mat, out, shape, "jac_t_mat_prod(%s)" % wrt)
        _check_directions(mat, self.samples, out, "jac_t_mat_prod(%s)" % wrt)
        r = self._rule("jac_t_sum", wrt)(self.cache, vec_of(mat, out))
        return natural_from_vec(expand_batch(r, mat.shape[0], 1), shape)[:, 0]

    def residual_kind(self, wrt):
        \"""'zero', 'diagonal' or 'general': the derived structure of the residual.\"""
        wrt, _ = self._variable(wrt)
        return self.RESIDUAL_KINDS[wrt]

    def _dz(self, g_out):
        out = self.module.shape(self.OUTPUT)
        if tuple(g_out.shape) != (self.samples, *out):
            raise ValueError("g_out: expected [N=%d, %s], got %s" % (self.samples, ", ".join(map(str, out)), tuple(g_out.shape)))
        return item_of(g_out, out)[None]

    def _exact_residual_mat_prod(self, wrt, dz, mat):
        wrt, shape = self._variable(wrt)
        if self.RESIDUAL_KINDS[wrt] == "zero":
            _check_directions(mat, self.samples, shape, "residual_mat_prod(%s)" % wrt)
            return torch.zeros_like(mat)
        return self._apply(self._rule("residual", wrt), mat, shape, shape, "residual_mat_prod(%s)" % wrt, dz)

    def residual_mat_prod(self, wrt, g_out, mat, curvature="hessian"):
        \"""mod(R_n) v per sample, R_n = sum_k dz_{n,k} d^2 out_{n,k} / d wrt^2 (dz = g_out [N, *out], the output
        gradient): mat [V, N, *wrt] -> [V, N, *wrt]. curvature: hessian (R), ggn (0), pch-abs (Q|L|Q'),
        pch-clip (Q max(L, 0) Q'), of the eigendecomposition R = Q L Q' (entrywise for a diagonal R).\"""
        check_curvature(curvature)
        wrt, shape = self._variable(wrt)
        dz = self._dz(g_out)
        kind = self.RESIDUAL_KINDS[wrt]
        if curvature == "hessian" or kind == "zero":
            return self._exact_residual_mat_prod(wrt, dz, mat)
        _check_directions(mat, self.samples, shape, "residual_mat_prod(%s)" % wrt)
        if curvature == "ggn":
            return torch.zeros_like(mat)
        if kind == "diagonal":
            return self.residual_diag(wrt, g_out, curvature)[None] * mat
        r = self.residual(wrt, g_out, curvature)  # [N, D, D]
        flat = mat.reshape(mat.shape[0], self.samples, -1)
        return torch.einsum("nij,vnj->vni", r, flat).reshape(mat.shape)

    def residual_diag(self, wrt, g_out, curvature="hessian"):
        \"""diag(mod(R_n)) per sample: [N, *wrt].\"""
        check_curvature(curvature)
        wrt, shape = self._variable(wrt)
        dz = self._dz(g_out)
        kind = self.RESIDUAL_KINDS[wrt]
        if kind == "zero" or curvature == "ggn":
            return torch.zeros(self.samples, *shape, dtype=self.cache.dtype, device=self.cache.device)
        if kind == "diagonal":
            d = self._rule("residual_diag", wrt)(self.cache, dz)
            d = natural_from_vec(expand_batch(d, 1, self.samples), shape)[0]
            return modify_eigenvalues(d, curvature)
        return torch.diagonal(self.residual(wrt, g_out, curvature), dim1=-2, dim2=-1).reshape(self.samples, *shape)

    def residual(self, wrt, g_out, curvature="hessian"):
        \"""mod(R_n) as dense matrices [N, D, D] (row-major flattening of wrt).\"""
        check_curvature(curvature)
        wrt, shape = self._variable(wrt)
        dz = self._dz(g_out)
        r = dense(lambda u: self._exact_residual_mat_prod(wrt, dz, u), self.samples, shape, self.cache.dtype, self.cache.device)
        if self.RESIDUAL_KINDS[wrt] == "diagonal" and curvature != "ggn":
            return torch.diag_embed(modify_eigenvalues(torch.diagonal(r, dim1=-2, dim2=-1), curvature))
        return modify_dense(r, curvature)

    def _jt_columns(self, wrt, m):
        out = self.module.shape(self.OUTPUT)
        return jt_columns(lambda u: self.jac_t_mat_prod(wrt, u), m, self.samples, out)

    def jac_t_mat_jac_prod(self, wrt, mat):
        \"""J_n' M_n J_n per sample: mat [N, Dout, Dout] (or [Dout, Dout], shared) -> [N, D, D].\"""
        m = mat if mat.dim() == 3 else mat[None]
        jtmt = self._jt_columns(wrt, m.mT)  # J_n' M_n'
        return self._jt_columns(wrt, jtmt.mT)  # J_n' (M_n J_n)

    def ea_jac_t_mat_jac_prod(self, wrt, mat, averaging="kfra"):
        \"""The batch-averaged J' M J for mat [Dout, Dout] -> [D, D]: averaging 'kfra' is the paper's eq. 8,
        mean_n J_n' M J_n (BackPACK's ea_jac_t_mat_jac_prod); 'bda' is eq. 9, (mean_n J_n)' M (mean_n J_n).\"""
        if averaging == "kfra":
            return self.jac_t_mat_jac_prod(wrt, mat).mean(0)
        if averaging != "bda":
            raise ValueError("averaging must be 'kfra' (eq. 8) or 'bda' (eq. 9), not %r" % (averaging,))
        mean_jtmt = self._jt_columns(wrt, mat.mT[None]).mean(0, keepdim=True)  # (mean J)' M'
        return self._jt_columns(wrt, mean_jtmt.mT).mean(0)  # (mean J)' M (mean J)

    def kronecker_factor(self, wrt):
        \"""A_n with J_n = kron(A_n', I) (column-major vec), items [N, rows, cols]; with PyTorch's row-major
        flattening of a matrix parameter and a matrix output that is J_n = kron(I, A_n'). For an image output
        [c, oh, ow] the columns of A_n run over its pixels column-major (column y + oh*x is pixel (y, x)):
        A_n[:, y + oh*x] is F.unfold's column y*ow + x.\"""
        wrt, _ = self._variable(wrt)
        if wrt not in self.KRONECKER_FACTORS:
            raise ValueError("%s: the Jacobian of %r has no derived Kronecker factor; variables with one: %s"
                             % (type(self).__name__, wrt, ", ".join(self.KRONECKER_FACTORS) or "none"))
        a = self._rule("kron_factor", wrt)(self.cache)
        return a[0].expand(self.samples, *a.shape[2:])


class LossDerivatives:
    \"""The derived gradient and Hessian of a generated loss on one batch: per-sample losses E_n, gradients
    [N, *x], Hessian products mat [V, N, *x] -> [V, N, *x], dense Hessians [N, D, D] (row-major).\"""

    def __init__(self, module, cache, samples):
        self.module = module
        self.cache = cache
        self.samples = samples
        cache.values[self.OUTPUT] = module._forward(cache)

    def _variable(self, wrt):
        \"""The spec's name of wrt (its spec or Python name) and its natural shape.\"""
        name = spec_name(self.module, wrt)
        if name not in self.HESSIAN_IS_PSD:
            raise ValueError("%s: no differentiable input %r; it has %s" % (type(self).__name__, wrt, ", ".join(self.HESSIAN_IS_PSD)))
        return name, self.module.shape(name)

    def loss(self):
        \"""The per-sample losses E_n: [N].\"""
        return self.cache[self.OUTPUT][0].reshape(self.samples)

    def gradient(self, wrt):
        \"""dE_n / d wrt per sample: [N, *wrt].\"""
        wrt, shape = self._variable(wrt)
        g = getattr(self.module, "_gradient_" + wrt)(self.cache)
        return natural_of(expand_batch(g, 1, self.samples)[0], shape)

    def hessian_mat_prod(self, wrt, mat):
        \"""H_n v per sample: mat [V, N, *wrt] -> [V, N, *wrt].\"""
        wrt, shape = self._variable(wrt)
        _check_directions(mat, self.samples, shape, "hessian_mat_prod(%s)" % wrt)
        r = getattr(self.module, "_hessian_" + wrt)(self.cache, vec_of(mat, shape))
        return natural_from_vec(expand_batch(r, mat.shape[0], self.samples), shape)

    def hessian(self, wrt):
        \"""H_n as dense matrices [N, D, D] (row-major flattening of wrt).\"""
        wrt, shape = self._variable(wrt)
        return dense(lambda u: self.hessian_mat_prod(wrt, u), self.samples, shape, self.cache.dtype, self.cache.device)

    def loss_factor(self, wrt):
        \"""S_n with H_n = S_n S_n' per sample, derived with the Hessian (the certificate of its positive
        semi-definiteness): [N, D, R], rows in the row-major flattening of wrt, the blocks' columns side by side.
        A ValueError where the derivation found no factor.\"""
        wrt, shape = self._variable(wrt)
        columns = getattr(self.module, "_factor_columns_" + wrt, None)
        if columns is None:
            raise ValueError("%s: the derivation certified no factor S with H = S S' for %r" % (type(self).__name__, wrt))
        blocks = []
        for i, r in enumerate(columns()):
            eye = torch.eye(r, dtype=self.cache.dtype, device=self.cache.device).reshape(r, 1, r, 1)
            out = getattr(self.module, "_factor_%s_%d" % (wrt, i))(self.cache, eye)
            s = natural_from_vec(expand_batch(out, r, self.samples), shape).reshape(r, self.samples, -1)
            blocks.append(s.permute(1, 2, 0))
        return torch.cat(blocks, dim=2)

    def hessian_is_psd(self, wrt):
        \"""Whether the derivation proved the Hessian positive semi-definite.\"""
        wrt, _ = self._variable(wrt)
        return self.HESSIAN_IS_PSD[wrt]
""";
}
