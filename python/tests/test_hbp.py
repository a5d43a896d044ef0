"""Tests of the hbp Python package against PyTorch autograd (float64, 1e-10).

Run: HBP_JAR=target/hbp.jar PYTHONPATH=python python3 -m unittest discover -s python/tests
(the JUnit test PythonPackageTest runs exactly this in the default test run).
"""

import unittest
from pathlib import Path

import torch

import hbp

torch.set_default_dtype(torch.float64)


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3))


def batch(n=4):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def mean_loss(model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y)


def autograd_hessian_block(model, x, y, name):
    """The Hessian of the mean loss with respect to one parameter, [numel, numel], by double backward."""
    params = dict(model.named_parameters())
    p = params[name]

    def f(flat):
        values = {n: (flat.view_as(p) if n == name else q) for n, q in params.items()}
        out = torch.nn.utils.stateless.functional_call(model, values, (x,))
        return torch.nn.functional.cross_entropy(out, y)

    return torch.autograd.functional.hessian(f, p.detach().flatten().clone())


def autograd_ggn_block(model, x, y, name):
    """J' H J of the mean loss for one parameter: J the Jacobian of the logits, H the loss Hessian in the logits."""
    params = dict(model.named_parameters())
    p = params[name]

    def logits(flat):
        values = {n: (flat.view_as(p) if n == name else q) for n, q in params.items()}
        return torch.nn.utils.stateless.functional_call(model, values, (x,)).flatten()

    flat = p.detach().flatten().clone()
    jac = torch.autograd.functional.jacobian(logits, flat)                  # [N*C, numel]
    z = logits(flat).detach()
    h = torch.autograd.functional.hessian(
        lambda zz: torch.nn.functional.cross_entropy(zz.view(x.shape[0], -1), y), z)  # [N*C, N*C]
    return jac.T @ h @ jac


class DenseBlocks(unittest.TestCase):
    def test_hessian_and_ggn_blocks_equal_autograd(self):
        model, (x, y) = mlp(), batch()
        for curvature, reference in (("hessian", autograd_hessian_block), ("ggn", autograd_ggn_block)):
            blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature=curvature)
            self.assertEqual(set(blocks), {n for n, _ in model.named_parameters()})
            for name, _ in model.named_parameters():
                expected = reference(model, x, y, name)
                torch.testing.assert_close(blocks[name], expected, rtol=0, atol=1e-10, msg=f"{curvature} {name}")

    def test_products_equal_the_dense_block_times_the_directions(self):
        model, (x, y) = mlp(), batch()
        w = model[0].weight
        v = torch.randn(3, *w.shape, generator=torch.Generator().manual_seed(2))
        prods = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors={"0.weight": v})
        expected = (autograd_hessian_block(model, x, y, "0.weight") @ v.reshape(3, -1).T).T.reshape(v.shape)
        torch.testing.assert_close(prods["0.weight"], expected, rtol=0, atol=1e-10)

    def test_products_of_some_blocks_take_one_hbp_run_that_multiplies_only_those(self):
        model, (x, y) = mlp(), batch()
        b = model[2].bias
        v = torch.randn(2, *b.shape, dtype=b.dtype, generator=torch.Generator().manual_seed(3))
        calls = []
        run = hbp._run._run

        def counting(args, folder=None):
            calls.append([str(a) for a in args])
            return run(args, folder)

        hbp._run._run = counting
        try:
            prods = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors={"2.bias": v})
        finally:
            hbp._run._run = run
        self.assertEqual(len(calls), 1, calls)
        out = calls[0]
        self.assertIn("--vectors", out)
        self.assertTrue(out[-1].endswith("out.npz"), out)
        expected = (autograd_hessian_block(model, x, y, "2.bias") @ v.reshape(2, -1).T).T.reshape(v.shape)
        self.assertEqual(set(prods), {"2.bias"})
        torch.testing.assert_close(prods["2.bias"], expected, rtol=0, atol=1e-10)

    def test_newton_step_solves_the_damped_system(self):
        model, (x, y) = mlp(), batch()
        damping = 0.1
        step = hbp.newton_step(model, "crossentropy", x, y, curvature="ggn", damping=damping, cg_tol=1e-14)
        loss = mean_loss(model, x, y)
        grads = dict(zip([n for n, _ in model.named_parameters()], torch.autograd.grad(loss, list(model.parameters()))))
        for name, p in model.named_parameters():
            c = autograd_ggn_block(model, x, y, name)
            a = damping * torch.eye(c.shape[0]) + (1 - damping) * c
            expected = torch.linalg.solve(a, -grads[name].flatten()).view_as(p)
            torch.testing.assert_close(step[name], expected, rtol=0, atol=1e-10, msg=name)


class Residual(torch.nn.Module):
    """x -> fc2(tanh(fc1(x)) + proj(x)): a graph (branch and merge) with a projection shortcut."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.fc1 = torch.nn.Linear(6, 5)
        self.proj = torch.nn.Linear(6, 5)
        self.fc2 = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)) + self.proj(x))


class GraphModels(unittest.TestCase):
    def test_a_residual_model_gives_autograds_hessian_blocks_under_its_parameter_names(self):
        model, (x, y) = Residual(), batch()
        blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="hessian")
        self.assertEqual(set(blocks), {n for n, _ in model.named_parameters()})
        for name, _ in model.named_parameters():
            torch.testing.assert_close(blocks[name], autograd_hessian_block(model, x, y, name), rtol=0, atol=1e-10, msg=name)


class NormalizedLayerScaleCnn(torch.nn.Module):
    """(x - mean) / std with buffers mean, std [3, 1, 1] (input normalisation), a convolution, a per-channel LayerScale
    gamma [2, 1, 1] (a parameter), a Linear; a buffer the forward pass does not use (the export drops it)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1))
        self.register_buffer("unused", torch.ones(3))
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.gamma = torch.nn.Parameter(1 + 0.5 * torch.randn(2, 1, 1))
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.conv((x - self.mean) / self.std))
        return self.fc((h * self.gamma).flatten(1))


class Buffers(unittest.TestCase):
    def test_normalisation_buffers_are_constants_and_blocks_equal_autograd(self):
        model = NormalizedLayerScaleCnn()
        g = torch.Generator().manual_seed(5)
        x, y = torch.rand(4, 3, 4, 4, generator=g), torch.randint(0, 3, (4,), generator=g)
        names = [n for n, _ in model.named_parameters()]
        for curvature, reference in (("hessian", autograd_hessian_block), ("ggn", autograd_ggn_block)):
            blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature=curvature)
            self.assertEqual(set(blocks), set(names))
            for name in names:
                torch.testing.assert_close(blocks[name], reference(model, x, y, name), rtol=0, atol=1e-10, msg=f"{curvature} {name}")
        # the step comes back in each parameter's shape (gamma [2, 1, 1], which hbp holds as [2])
        step = hbp.newton_step(model, "crossentropy", x, y, curvature="ggn", damping=0.1, cg_tol=1e-14)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        grads = dict(zip(names, torch.autograd.grad(loss, list(model.parameters()))))
        for name, p in model.named_parameters():
            c = autograd_ggn_block(model, x, y, name)
            expected = torch.linalg.solve(0.1 * torch.eye(c.shape[0]) + 0.9 * c, -grads[name].flatten()).view_as(p)
            torch.testing.assert_close(step[name], expected, rtol=0, atol=1e-10, msg=name)


    def test_directions_of_a_per_channel_parameter_in_its_pytorch_shape(self):
        # gamma [2, 1, 1], which hbp holds as [2]: directions [V, 2, 1, 1] as PyTorch shapes it, products back in that shape
        model = NormalizedLayerScaleCnn()
        g = torch.Generator().manual_seed(8)
        x, y = torch.rand(4, 3, 4, 4, generator=g), torch.randint(0, 3, (4,), generator=g)
        v = {"gamma": torch.randn(3, 2, 1, 1, generator=g), "conv.weight": torch.randn(3, 2, 3, 3, 3, generator=g)}
        prods = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors=v)
        self.assertEqual(set(prods), set(v))
        for name, d in v.items():
            expected = (autograd_hessian_block(model, x, y, name) @ d.reshape(3, -1).T).T.reshape(d.shape)
            self.assertEqual(prods[name].shape, d.shape, name)
            torch.testing.assert_close(prods[name], expected, rtol=0, atol=1e-10, msg=name)


class CommaBuffer(torch.nn.Module):
    """x - b with a buffer b [3, 1, 1] named 'norm,mean' (a comma: register_buffer forbids only dots), which hbp maps only
    as a constant (a per-channel Sub of a parameter it does not map), a convolution, a Linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(9)
        self.register_buffer("norm,mean", torch.tensor([0.5, 0.4, 0.3]).view(3, 1, 1))
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.conv(x - getattr(self, "norm,mean")))
        return self.fc(h.flatten(1))


class BufferNames(unittest.TestCase):
    def test_a_buffer_named_with_a_comma_is_a_constant_and_blocks_equal_autograd(self):
        model = CommaBuffer()
        g = torch.Generator().manual_seed(10)
        x, y = torch.rand(4, 3, 4, 4, generator=g), torch.randint(0, 3, (4,), generator=g)
        blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")
        self.assertEqual(set(blocks), {"conv.weight", "conv.bias", "fc.weight", "fc.bias"})
        for name in blocks:
            torch.testing.assert_close(blocks[name], autograd_ggn_block(model, x, y, name), rtol=0, atol=1e-10, msg=name)


class Attention(torch.nn.Module):
    """nn.Embedding, a residual nn.MultiheadAttention block (biases away from 0), the mean over the tokens, a Linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.emb = torch.nn.Embedding(5, 4)
        self.att = torch.nn.MultiheadAttention(4, 2, batch_first=True)
        self.fc = torch.nn.Linear(4, 3)
        with torch.no_grad():
            self.att.in_proj_bias.copy_(0.5 * torch.randn(12))
            self.att.out_proj.bias.copy_(0.5 * torch.randn(4))

    def forward(self, ids):
        e = self.emb(ids)
        e = e + self.att(e, e, e, need_weights=False)[0]
        return self.fc(e.mean(1))


class MultiheadAttention(unittest.TestCase):
    def test_in_proj_weight_comes_back_as_its_row_blocks_which_equal_autograds_diagonal_blocks(self):
        model = Attention().train()  # torch 1.13's eval fast path is not differentiable twice; no dropout here
        g = torch.Generator().manual_seed(12)
        x, y = torch.randint(0, 5, (4, 3), generator=g), torch.randint(0, 3, (4,), generator=g)
        blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")
        split = {"att.in_proj_weight": 16, "att.in_proj_bias": 4}
        expected_keys = {n for n, _ in model.named_parameters() if n not in split}
        expected_keys |= {f"{n}[{p}]" for n in split for p in "qkv"}
        self.assertEqual(set(blocks), expected_keys)
        for name, _ in model.named_parameters():
            full = autograd_ggn_block(model, x, y, name)
            if name not in split:
                torch.testing.assert_close(blocks[name], full, rtol=0, atol=1e-10, msg=name)
                continue
            size = split[name]
            for b, p in enumerate("qkv"):
                torch.testing.assert_close(blocks[f"{name}[{p}]"], full[b * size:(b + 1) * size, b * size:(b + 1) * size],
                                           rtol=0, atol=1e-10, msg=f"{name}[{p}]")
        # directions for in_proj_weight go in whole [V, 3d, d]; the products come back as its row blocks [V, d, d]
        w = model.att.in_proj_weight
        v = torch.randn(2, *w.shape, generator=g)
        prods = hbp.curvature(model, "crossentropy", x, y, curvature="ggn", vectors={"att.in_proj_weight": v})
        self.assertEqual(set(prods), {f"att.in_proj_weight[{p}]" for p in "qkv"})
        full = autograd_ggn_block(model, x, y, "att.in_proj_weight")
        for b, p in enumerate("qkv"):
            part = v[:, 4 * b:4 * (b + 1)].reshape(2, -1)
            expected = (full[16 * b:16 * (b + 1), 16 * b:16 * (b + 1)] @ part.T).T.reshape(2, 4, 4)
            torch.testing.assert_close(prods[f"att.in_proj_weight[{p}]"], expected, rtol=0, atol=1e-10, msg=f"product [{p}]")


class ConvBatchNormNet(torch.nn.Module):
    """Conv2d, BatchNorm2d (running statistics away from 0 and 1, affine weight and bias not 1 and 0), ReLU, max pooling,
    a Linear head: exported in eval mode, a batch norm after a convolution that torch.onnx's EVAL mode folds away."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(3)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(12, 3)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.tensor([0.3, -0.2, 0.5]))
            self.bn.running_var.copy_(torch.tensor([0.5, 2.0, 1.5]))
            self.bn.weight.copy_(torch.tensor([1.2, 0.7, -0.9]))
            self.bn.bias.copy_(torch.tensor([0.1, -0.3, 0.2]))

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1))


class BatchNorm(unittest.TestCase):
    def setUp(self):
        self.model = ConvBatchNormNet().eval()
        g = torch.Generator().manual_seed(7)
        self.x, self.y = torch.randn(4, 2, 4, 4, generator=g), torch.randint(0, 3, (4,), generator=g)
        self.names = [n for n, _ in self.model.named_parameters()]

    def test_names_survive_the_export_and_blocks_equal_autograd_in_eval_mode(self):
        model, x, y = self.model, self.x, self.y
        self.assertEqual(self.names, ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"])
        for curvature, reference in (("hessian", autograd_hessian_block), ("ggn", autograd_ggn_block)):
            blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature=curvature)
            self.assertEqual(set(blocks), set(self.names))
            for name in self.names:
                torch.testing.assert_close(blocks[name], reference(model, x, y, name), rtol=0, atol=1e-10, msg=f"{curvature} {name}")
        self.assertFalse(model.training, "hbp leaves the model in the mode it found")

    def test_gradients_equal_autograd(self):
        # with damping 1 the Newton system is I d = -g: the step is minus hbp's gradient
        model, x, y = self.model, self.x, self.y
        step = hbp.newton_step(model, "crossentropy", x, y, curvature="ggn", damping=1.0)
        grads = torch.autograd.grad(mean_loss(model, x, y), list(model.parameters()))
        for name, g in zip(self.names, grads):
            torch.testing.assert_close(step[name], -g, rtol=0, atol=1e-10, msg=name)

    def test_a_model_in_training_mode_is_exported_in_eval_mode_and_left_in_training_mode(self):
        model, x, y = self.model.train(), self.x, self.y
        blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")
        self.assertTrue(model.training)
        model.eval()
        torch.testing.assert_close(blocks["bn.weight"], autograd_ggn_block(model, x, y, "bn.weight"), rtol=0, atol=1e-10)


class _SoftsignOp(torch.autograd.Function):
    """x / (1 + |x|) as the single ONNX operator Softsign (torch.onnx writes nn.Softsign as Abs, Add, Div)."""

    @staticmethod
    def forward(ctx, x):
        return x / (1 + x.abs())

    @staticmethod
    def symbolic(g, x):
        return g.op("Softsign", x)


class Softsign(torch.nn.Module):
    """Softsign, exported as the ONNX operator Softsign, which hbp does not map; autograd sees x / (1 + |x|)."""

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return _SoftsignOp.apply(x)
        return x / (1 + x.abs())


SOFTSIGN_SPEC = str(Path(__file__).resolve().parent / "specs" / "softsign.hbp")


def softsign_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), Softsign(), torch.nn.Linear(5, 3))


class Maps(unittest.TestCase):
    def test_an_unmapped_operator_is_refused_with_advice_a_python_caller_can_follow(self):
        model, (x, y) = softsign_mlp(), batch()
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "crossentropy", x, y)
        message = str(e.exception)
        self.assertIn("hbp has no built-in mapping for the ONNX operator Softsign", message)
        self.assertIn('map it to a module of your own with maps={"Softsign": "my-specs/op.hbp:module"}', message)
        self.assertNotIn("--map", message)

    def test_with_maps_the_blocks_equal_autograd(self):
        model, (x, y) = softsign_mlp(), batch()
        maps = {"Softsign": f"{SOFTSIGN_SPEC}:softsign_layer"}
        for curvature, reference in (("hessian", autograd_hessian_block), ("ggn", autograd_ggn_block)):
            blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature=curvature, maps=maps)
            self.assertEqual(set(blocks), {n for n, _ in model.named_parameters()})
            for name, _ in model.named_parameters():
                torch.testing.assert_close(blocks[name], reference(model, x, y, name), rtol=0, atol=1e-10, msg=f"{curvature} {name}")
        w = model[0].weight
        v = torch.randn(2, *w.shape, generator=torch.Generator().manual_seed(2))
        prods = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors={"0.weight": v}, maps=maps)
        expected = (autograd_hessian_block(model, x, y, "0.weight") @ v.reshape(2, -1).T).T.reshape(v.shape)
        torch.testing.assert_close(prods["0.weight"], expected, rtol=0, atol=1e-10)
        step = hbp.newton_step(model, "crossentropy", x, y, damping=0.1, cg_tol=1e-14, maps=maps)
        grad = torch.autograd.grad(mean_loss(model, x, y), [model[2].bias])[0]
        a = 0.1 * torch.eye(3) + 0.9 * autograd_ggn_block(model, x, y, "2.bias")
        torch.testing.assert_close(step["2.bias"], torch.linalg.solve(a, -grad), rtol=0, atol=1e-10)

    def test_hbps_errors_about_a_mapping_name_maps(self):
        model, (x, y) = softsign_mlp(), batch()
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "crossentropy", x, y, maps={"Softsign": "no/such/spec.hbp:softsign_layer"})
        self.assertEqual(str(e.exception), 'hbp: maps={"Softsign": "no/such/spec.hbp:softsign_layer"}: spec file not found: no/such/spec.hbp')
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "crossentropy", x, y, maps={"Softsign": SOFTSIGN_SPEC})
        self.assertIn("expected \"path/spec.hbp:module\"", str(e.exception))
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "crossentropy", x, y, maps=["Softsign"])
        self.assertIn("maps must be a dict", str(e.exception))


def trainable(model):
    return [n for n, p in model.named_parameters() if p.requires_grad]


def check_against_autograd(test, model, x, y, multiplied):
    """dense_blocks (Hessian), curvature (Hessian products with directions for the parameters named in multiplied) and
    newton_step (GGN, damping 0.1) against autograd for the model's trainable parameters, which are their keys."""
    g = torch.Generator().manual_seed(8)
    names, params = trainable(model), dict(model.named_parameters())
    blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="hessian")
    test.assertEqual(list(blocks), names)
    for name in names:
        torch.testing.assert_close(blocks[name], autograd_hessian_block(model, x, y, name), rtol=0, atol=1e-10, msg=name)
    v = {n: torch.randn(2, *params[n].shape, generator=g) for n in multiplied}
    prods = hbp.curvature(model, "crossentropy", x, y, curvature="hessian", vectors=v)
    test.assertEqual(list(prods), multiplied)
    for n in multiplied:
        expected = (autograd_hessian_block(model, x, y, n) @ v[n].reshape(2, -1).T).T.reshape(v[n].shape)
        torch.testing.assert_close(prods[n], expected, rtol=0, atol=1e-10, msg=n)
    damping = 0.1
    step = hbp.newton_step(model, "crossentropy", x, y, curvature="ggn", damping=damping, cg_tol=1e-14)
    test.assertEqual(list(step), names)
    grads = torch.autograd.grad(mean_loss(model, x, y), [params[n] for n in names], allow_unused=True)
    for name, grad in zip(names, grads):
        grad = torch.zeros_like(params[name]) if grad is None else grad  # the loss does not depend on it
        c = autograd_ggn_block(model, x, y, name)
        expected = torch.linalg.solve(damping * torch.eye(c.shape[0]) + (1 - damping) * c, -grad.flatten()).view_as(params[name])
        torch.testing.assert_close(step[name], expected, rtol=0, atol=1e-10, msg=name)


class OneUsedLinear(torch.nn.Module):
    """Two Linear layers, of which forward uses one: the export drops the other's parameters."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(9)
        self.a = torch.nn.Linear(6, 3)
        self.extra = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.a(x)


class FrozenAndUnusedParameters(unittest.TestCase):
    def test_a_frozen_parameter_is_held_fixed_and_gets_no_block(self):
        model, (x, y) = mlp(), batch()
        model[0].weight.requires_grad_(False)
        check_against_autograd(self, model, x, y, ["0.bias", "2.weight"])
        self.assertEqual(trainable(model), ["0.bias", "2.weight", "2.bias"])

    def test_directions_for_a_frozen_parameter_are_refused_in_its_name(self):
        model, (x, y) = mlp(), batch()
        model[0].weight.requires_grad_(False)
        with self.assertRaises(hbp.HbpError) as e:
            hbp.curvature(model, "crossentropy", x, y, vectors={"0.weight": torch.zeros(1, 5, 6)})
        self.assertEqual(str(e.exception), "vectors: 0.weight is frozen (requires_grad=False): frozen parameters are held "
                         "fixed and have no block")

    def test_batch_norm_without_affine_parameters_gives_the_linear_layers_blocks(self):
        torch.manual_seed(10)
        model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5, affine=False), torch.nn.Linear(5, 3))
        model[1].running_mean.copy_(torch.randn(5))
        model[1].running_var.copy_(0.5 + torch.rand(5))
        model.eval()
        check_against_autograd(self, model, *batch(), ["0.weight", "2.bias"])

    def test_parameters_forward_does_not_use_get_zero_blocks_products_and_steps(self):
        model, (x, y) = OneUsedLinear(), batch()
        check_against_autograd(self, model, x, y, ["a.weight", "extra.weight"])
        blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")
        self.assertEqual(blocks["extra.weight"].shape, (18, 18))
        self.assertEqual(blocks["extra.bias"].abs().max().item(), 0)
        prods = hbp.curvature(model, "crossentropy", x, y, vectors={"extra.bias": torch.ones(2, 3)})
        self.assertEqual(list(prods), ["extra.bias"])
        torch.testing.assert_close(prods["extra.bias"], torch.zeros(2, 3), rtol=0, atol=0)

    def test_a_parameter_forward_uses_without_a_result_from_hbp_is_an_error_naming_it(self):
        model, (x, _) = OneUsedLinear(), batch()
        names = trainable(model)
        self.assertEqual(hbp._run._absent(model, x, names, ["a.weight", "a.bias"]), ["extra.weight", "extra.bias"])
        with self.assertRaises(hbp.HbpError) as e:
            hbp._run._absent(model, x, names, ["a.bias"])
        self.assertEqual(str(e.exception), "hbp returned no result for parameter a.weight, which forward uses (hbp returned "
                         "results for a.bias)")


class Errors(unittest.TestCase):
    def test_hbp_errors_surface_as_exceptions_with_hbps_message(self):
        model, (x, y) = mlp(), batch()
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "no-such-loss", x, y)
        self.assertIn("no-such-loss", str(e.exception))

    def test_an_unknown_loss_is_named_without_temporary_paths(self):
        model, (x, y) = mlp(), batch()
        with self.assertRaises(hbp.HbpError) as e:
            hbp.dense_blocks(model, "fisherloss", x, y)
        self.assertIn("the model (as exported to ONNX)", str(e.exception))
        self.assertNotIn("hbp-", str(e.exception))
        self.assertNotIn(".onnx (imported)", str(e.exception))

    def test_directions_of_the_wrong_shape_name_the_parameter_and_its_shape(self):
        model, (x, y) = mlp(), batch()
        w = dict(model.named_parameters())["0.weight"]
        with self.assertRaises(hbp.HbpError) as e:
            hbp.curvature(model, "crossentropy", x, y, vectors={"0.weight": torch.zeros(2, w.shape[0] + 1, w.shape[1])})
        self.assertEqual(str(e.exception), f"vectors['0.weight'] has shape [2, {w.shape[0] + 1}, {w.shape[1]}]; expected "
                         f"[V, {w.shape[0]}, {w.shape[1]}] (V directions of 0.weight, shaped as the parameter)")

    def test_unknown_parameter_in_vectors(self):
        model, (x, y) = mlp(), batch()
        with self.assertRaises(hbp.HbpError) as e:
            hbp.curvature(model, "crossentropy", x, y, vectors={"nope": torch.zeros(1, 2)})
        self.assertIn("nope", str(e.exception))
        self.assertIn("0.weight", str(e.exception))


if __name__ == "__main__":
    unittest.main()
