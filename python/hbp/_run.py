"""Runs the hbp jar on a PyTorch model exported to ONNX (see the package docstring)."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

CURVATURES = ("hessian", "ggn", "pch-abs", "pch-clip")


class HbpError(RuntimeError):
    """hbp refused the request or failed; the message is hbp's own (what and where)."""


def jar_path():
    """The hbp jar: ``$HBP_JAR``, else ``target/hbp.jar`` of the repository holding this package."""
    env = os.environ.get("HBP_JAR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for root in (here.parent.parent, here.parent):
        candidate = root / "target" / "hbp.jar"
        if candidate.is_file():
            return candidate
    raise HbpError("hbp.jar not found: build it with 'mvn -B -q package -DskipTests' in the hbp repository, "
                   "or point HBP_JAR at it")


def _java():
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise HbpError("java not found: install a Java 17 runtime or set JAVA_HOME")
    return java


def _named_parameters(model):
    """The trainable parameters' names (requires_grad); frozen ones are held fixed and get no block."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise HbpError("the model has no trainable parameters (all have requires_grad=False)")
    return names


def _frozen(model):
    return [n for n, p in model.named_parameters() if not p.requires_grad]


def _covered(name, reported):
    """Whether hbp reports parameter name: under its own name, or (in_proj_weight, in_proj_bias) as row blocks '<name>[q]'..."""
    return name in reported or any(f"{name}[{p}]" in reported for p in "qkv")


def _owner(reported_name, names):
    """The parameter of names that hbp's reported name stands for ('<name>[q]' is name's), or None (e.g. a frozen
    parameter, or a constant of the export that hbp takes as a parameter)."""
    if reported_name in names:
        return reported_name
    m = re.fullmatch(r"(.*)\[[a-z]+\]", reported_name)
    return m.group(1) if m and m.group(1) in names else None


def _unused(model, x, names):
    """Those of names (trainable parameters) that the model's output does not depend on (autograd finds no path from
    them to the output, in eval mode as exported): the export drops them, and the loss's curvature and gradient in them
    are zero."""
    params = dict(model.named_parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            out = model(x)
            outs = [t for t in (out if isinstance(out, (tuple, list)) else (out,))
                    if isinstance(t, torch.Tensor) and t.requires_grad]
            if not outs:
                return list(names)
            grads = torch.autograd.grad(outs, [params[n] for n in names], [torch.ones_like(t) for t in outs],
                                        allow_unused=True)
    finally:
        model.train(was_training)
    return [n for n, g in zip(names, grads) if g is None]


def _absent(model, x, names, reported):
    """The parameters of names that hbp did not report (reported: the names of its results) and that forward does not
    use (they get zero blocks, products and steps); a parameter that forward uses but hbp did not report is an error."""
    missing = [n for n in names if not _covered(n, reported)]
    if not missing:
        return []
    unused = _unused(model, x, missing)
    lost = [n for n in missing if n not in unused]
    if lost:
        raise HbpError(f"hbp returned no result for parameter{'s' if len(lost) > 1 else ''} {', '.join(lost)}, which forward "
                       f"uses (hbp returned results for {', '.join(reported) or 'none'})")
    return unused


def _export(model, x, folder):
    """model.onnx in folder, float64, parameters as initializers named as in named_parameters().

    The model runs in eval mode (batch norm on its running statistics, dropout off) but is exported with
    ``training=TrainingMode.PRESERVE``: an export in ``TrainingMode.EVAL`` (torch.onnx's default) folds a
    batch norm that follows a convolution into the convolution, renaming the convolution's parameters
    (``onnx::Conv_17``) and dropping the batch norm's, which hbp must see under PyTorch's names.
    ``do_constant_folding=False`` keeps every parameter an initializer of its own."""
    path = folder / "model.onnx"
    was_training = model.training
    model.eval()
    try:
        # not under torch.no_grad(): there nn.MultiheadAttention in eval mode takes its fast path, an operator
        # (aten::_native_multi_head_attention) that torch.onnx cannot export
        torch.onnx.export(model, (x,), str(path), export_params=True, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["x"], output_names=["logits"], opset_version=13)
    finally:
        model.train(was_training)
    return path


def _write_batch(x, y, folder):
    path = folder / "batch.npz"
    arrays = {"x": x.detach().cpu().numpy()}
    if y is not None:
        arrays["y"] = y.detach().cpu().numpy()
    np.savez(path, **arrays)
    return path


# As ./hbp starts java: with the Vector API, an incubator module in Java 17, for the float64 direct
# convolutions. The JVM then warns about it first thing on standard error; that line is not hbp's message.
_VECTOR_API = ["--add-modules", "jdk.incubator.vector"]
_INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.vector"


def _command():
    """java -jar hbp.jar, or with HBP_CLASSPATH set (tests inside hbp's build) java -cp CLASSPATH org.hbp.cli.Main."""
    classpath = os.environ.get("HBP_CLASSPATH")
    if classpath:
        return [_java(), *_VECTOR_API, "-cp", classpath, "org.hbp.cli.Main"]
    return [_java(), *_VECTOR_API, "-jar", str(jar_path())]


def _without_incubator_warning(stderr):
    """stderr without the JVM's first line about the incubator module."""
    lines = stderr.split("\n")
    if _INCUBATOR_WARNING in lines:
        lines.remove(_INCUBATOR_WARNING)
    return "\n".join(lines)


# What the files this package writes into its temporary folder hold, for hbp's messages about them.
_TEMPORARY_FILES = {"model.onnx (imported)": "the model (as exported to ONNX)", "model.onnx": "the model (as exported to ONNX)",
                    "batch.npz": "the batch (x, y)", "vectors.npz": "the directions (vectors)"}


def _run(args, folder=None):
    cmd = _command() + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        message = _without_incubator_warning(proc.stderr).strip() or proc.stdout.strip() or f"hbp exited with status {proc.returncode}"
        raise HbpError(_readable(message, folder))
    return proc.stdout


def _readable(message, folder):
    """hbp's message with the paths of this package's temporary files named by what they hold, and its advice
    to pass ``--map`` (an option of the command line) given as this package's ``maps=`` argument."""
    if folder is not None:
        for name, what in _TEMPORARY_FILES.items():
            message = message.replace(str(Path(folder) / name), what)
    return _maps_advice(message)


def _maps_advice(message):
    """hbp's ``--map OpType=spec.hbp:module`` written as ``maps={"OpType": "spec.hbp:module"}``, other mentions
    of ``--map`` as ``maps=``."""
    message = re.sub(r"--map ([A-Za-z_][A-Za-z0-9_.]*)=(\S+):([A-Za-z_][A-Za-z0-9_]*)",
                     lambda m: f'maps={{"{m.group(1)}": "{m.group(2)}:{m.group(3)}"}}', message)
    message = message.replace("--map it", "pass it in maps=")
    return message.replace("--map", "maps=")


def _check(curvature, model):
    if curvature not in CURVATURES:
        raise HbpError(f"unknown curvature '{curvature}'; expected one of {', '.join(CURVATURES)}")
    if not isinstance(model, torch.nn.Module):
        raise HbpError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _read(path, dtype, names, shapes=None):
    """The arrays of path as tensors of dtype, keyed and ordered by names (in_proj_weight and in_proj_bias as
    their row blocks, see _parts); with shapes ({name: (leading dims, parameter shape)}), each in that shape (hbp writes
    results under an initializer's name in its shape, also a scale [C, 1, 1] it holds as [C]; the reshape keeps the
    parameter's shape for any array of its entries in the same order)."""
    with np.load(path) as data:
        names = [part for n in names for part in _parts(n, data.files)]
        missing = [n for n in names if n not in data.files]
        if missing:
            raise HbpError(f"hbp's output {path.name} lacks {', '.join(missing)} (it has {', '.join(data.files)})")
        out = {n: torch.from_numpy(np.array(data[n])).to(dtype) for n in names}
    if shapes:
        for n in names:
            if n not in shapes:
                continue
            lead, shape = shapes[n]
            if out[n].numel() == int(np.prod(lead + tuple(shape))):
                out[n] = out[n].reshape(*lead, *shape)
    return out


def _parts(name, files):
    """The keys under which hbp returns a parameter: its name, or, for nn.MultiheadAttention's in_proj_weight and
    in_proj_bias, which hbp splits into its Wq, Wk, Wv and bq, bk, bv (blocks of their own), the row blocks
    '<name>[q]', '<name>[k]', '<name>[v]'."""
    split = [f"{name}[{p}]" for p in "qkv"]
    return split if name not in files and all(p in files for p in split) else [name]


def _map_options(maps):
    """maps ({ONNX operator type: "spec.hbp:module"}) as hbp's --map options."""
    if maps is None:
        return []
    if not isinstance(maps, dict):
        raise HbpError(f"maps must be a dict {{ONNX operator type: \"path/spec.hbp:module\"}}, got {type(maps).__name__}")
    options = []
    for op, target in maps.items():
        if not isinstance(op, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", op):
            raise HbpError(f"maps: {op!r} is not an ONNX operator type (e.g. \"Softsign\")")
        target = os.fspath(target) if isinstance(target, os.PathLike) else target
        if not isinstance(target, str) or ":" not in target or target.rsplit(":", 1)[1] == "" or target.rsplit(":", 1)[0] == "":
            raise HbpError(f"maps[{op!r}] = {target!r}: expected \"path/spec.hbp:module\" (a spec file and the name of a module in it)")
        options += ["--map", f"{op}={target}"]
    return options


def _common(model, loss, x, y, curvature, strategy, backend, folder, maps=None):
    map_options = _map_options(maps)
    onnx = _export(model, x, folder)
    batch = _write_batch(x, y, folder)
    # the buffers are fixed data; hbp takes those the export wrote as initializers and ignores the others
    buffers = []
    for n, _ in model.named_buffers():
        buffers += ["--buffers", _escaped(n)]
    return ["curvature", "--net", onnx, "--loss", loss, "--batch", batch, "--curvature", curvature,
            "--strategy", strategy, "--backend", backend] + buffers + map_options


def _escaped(name):
    """A name as hbp's --buffers and --constants read it: they split at commas, a comma inside a name written
    \\, and a backslash \\\\ (a buffer may be named "a,b": register_buffer forbids only dots)."""
    return name.replace("\\", "\\\\").replace(",", "\\,")


def _dtype(model, x):
    """The floating dtype of the computation: x's, or for integer inputs (token ids) the model's parameters'."""
    if x.dtype.is_floating_point:
        return x.dtype
    return next(p for p in model.parameters() if p.requires_grad).dtype


def _backend(dtype, backend):
    if backend is not None:
        return backend
    return "blas-f32" if dtype == torch.float32 else "blas-f64"


def _frozen_error(what, frozen):
    return HbpError(f"{what}: {', '.join(frozen)} {'is' if len(frozen) == 1 else 'are'} frozen (requires_grad=False): "
                    "frozen parameters are held fixed and have no block")


def curvature(model, loss, x, y, curvature="ggn", strategy="exact", vectors=None, backend=None, maps=None):
    """Products of each parameter's curvature block with directions.

    vectors: {parameter name: tensor [V, *parameter shape]} (V directions of each trainable parameter).
    maps: {ONNX operator type: "path/spec.hbp:module"}, a module of your own for each operator hbp does not map
    (hbp's ``--map``; see the package docstring).
    Returns {name: tensor [V, *parameter shape]}: block times each direction, for the mean loss (zeros for a
    parameter that forward does not use).
    """
    _check(curvature, model)
    names = _named_parameters(model)
    if not vectors:
        raise HbpError("vectors: give {parameter name: tensor [V, *shape]} for the parameters to multiply")
    frozen = [n for n in vectors if n in _frozen(model)]
    if frozen:
        raise _frozen_error("vectors", frozen)
    unknown = [n for n in vectors if n not in names]
    if unknown:
        raise HbpError(f"vectors: unknown parameter {', '.join(unknown)}; the model has {', '.join(names)}")
    count = {t.shape[0] for t in vectors.values()}
    if len(count) != 1:
        raise HbpError(f"vectors: every parameter needs the same number V of directions, got {sorted(count)}")
    v_count = count.pop()
    params = dict(model.named_parameters())
    for n, t in vectors.items():
        if tuple(t.shape[1:]) != tuple(params[n].shape):
            raise HbpError(f"vectors['{n}'] has shape {list(t.shape)}; expected [V, {', '.join(map(str, params[n].shape))}]"
                           f" (V directions of {n}, shaped as the parameter)")
    dtype = _dtype(model, x)
    with tempfile.TemporaryDirectory(prefix="hbp-") as tmp:
        folder = Path(tmp)
        args = _common(model, loss, x, y, curvature, strategy, _backend(dtype, backend), folder, maps)
        # the parameters forward does not use are not in the export: their blocks are zero, hbp is not asked
        absent = _unused(model, x, [n for n in names if n in vectors])
        given = [n for n in names if n in vectors and n not in absent]
        # hbp multiplies the blocks of the parameters it is given directions for, and no others
        arrays = {n: vectors[n].detach().cpu().numpy() for n in given}
        result = {}
        if given:
            v = folder / "vectors.npz"
            np.savez(v, **arrays)
            out = folder / "out.npz"
            _run(args + ["--vectors", v, "--out", out], folder)
            result = _read(out, dtype, given, {n: ((v_count,), params[n].shape) for n in given})
        return _with_zeros(result, [n for n in names if n in vectors], absent, lambda n: (v_count, *params[n].shape), dtype)


def _with_zeros(result, order, absent, shape, dtype):
    """result with zeros of shape(n) for the parameters absent (unused by forward), keyed in the order of order."""
    out = {}
    for n in order:
        if n in absent:
            out[n] = torch.zeros(*shape(n), dtype=dtype)
        else:
            out.update({k: t for k, t in result.items() if k == n or _owner(k, [n]) == n})
    return out


def dense_blocks(model, loss, x, y, curvature="ggn", strategy="exact", backend=None, maps=None):
    """Each trainable parameter's curvature block, dense: {name: tensor [numel, numel]} in the row-major order
    of the parameter's entries (``p.flatten()``); zeros for a parameter that forward does not use. maps: as for
    :func:`curvature`."""
    _check(curvature, model)
    names = _named_parameters(model)
    dtype = _dtype(model, x)
    params = dict(model.named_parameters())
    with tempfile.TemporaryDirectory(prefix="hbp-") as tmp:
        folder = Path(tmp)
        args = _common(model, loss, x, y, curvature, strategy, _backend(dtype, backend), folder, maps)
        out = folder / "dense.npz"
        _run(args + ["--dense", out], folder)
        with np.load(out) as data:
            absent = _absent(model, x, names, data.files)
        used = [n for n in names if n not in absent]
        result = _read(out, dtype, used)
        return _with_zeros(result, names, absent, lambda n: (params[n].numel(), params[n].numel()), dtype)


def newton_step(model, loss, x, y, curvature="ggn", strategy="exact", damping=1e-3, cg_tol=None, cg_maxiter=None,
                backend=None, maps=None):
    """The damped Newton step of each block (paper eq. 10, by CG): solves
    [damping I + (1 - damping) C] d = -g per trainable parameter; returns {name: d in the parameter's shape}
    (zeros for a parameter that forward does not use: its gradient is zero).
    cg_tol, cg_maxiter: CG's relative tolerance and iteration limit (hbp's defaults when None).
    maps: as for :func:`curvature`."""
    _check(curvature, model)
    if not 0 <= damping <= 1:
        raise HbpError(f"damping must be in [0, 1], got {damping}")
    names = _named_parameters(model)
    dtype = _dtype(model, x)
    params = dict(model.named_parameters())
    with tempfile.TemporaryDirectory(prefix="hbp-") as tmp:
        folder = Path(tmp)
        args = _common(model, loss, x, y, curvature, strategy, _backend(dtype, backend), folder, maps)
        out = folder / "step.npz"
        extra = (["--cg-tol", cg_tol] if cg_tol is not None else []) + \
            (["--cg-maxiter", cg_maxiter] if cg_maxiter is not None else [])
        _run(args + ["--solve", damping, "--out", out] + extra, folder)
        with np.load(out) as data:
            absent = _absent(model, x, names, data.files)
        used = [n for n in names if n not in absent]
        result = _read(out, dtype, used, {n: ((), params[n].shape) for n in used})
        return _with_zeros(result, names, absent, lambda n: tuple(params[n].shape), dtype)
