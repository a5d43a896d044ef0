"""hbp for PyTorch users: curvature of a live ``torch.nn.Module`` by hbp.

Each call exports the model to ONNX and the batch to ``.npz`` in a temporary folder, runs the hbp
jar (``java -jar hbp.jar curvature --net model.onnx ...``) and reads the result back as tensors
keyed by PyTorch's names of the trainable parameters (``model.named_parameters()`` with ``requires_grad``;
a frozen parameter is held fixed and has no block; one that forward does not use gets zero blocks, products and
steps). The model runs in eval mode
(batch norm on its running statistics). Its buffers (``model.named_buffers()``, e.g. an input
normalisation's mean and std, batch norm's running statistics) are fixed data: hbp gets their names
as ``--buffers`` and takes those the export wrote as initializers as constants. hbp's error messages
surface as :class:`HbpError`.

An ONNX operator that hbp does not map (e.g. ``torch.nn.Softsign``, exported as ``Softsign``) is an
error that names it. Give it a module of your own: write a spec file (see the README, "Authoring a
new module") and pass ``maps={"Softsign": "my-specs/softsign.hbp:softsign_layer"}`` (operator type:
spec file, relative to the working directory, and the module's name in it) to any of the functions;
it becomes hbp's ``--map Softsign=my-specs/softsign.hbp:softsign_layer``. The node's computed
input is the module's input, its constant inputs the module's parameters; attributes are not supported.

    import hbp
    blocks = hbp.dense_blocks(model, "crossentropy", x, y, curvature="ggn")   # {name: [numel, numel]}
    prods = hbp.curvature(model, "crossentropy", x, y, vectors={"0.weight": v})
    step = hbp.newton_step(model, "crossentropy", x, y, damping=1e-3)
    blocks = hbp.dense_blocks(model, "crossentropy", x, y, maps={"Softsign": "my-specs/softsign.hbp:softsign_layer"})

The jar is found from ``HBP_JAR``, else ``target/hbp.jar`` of the repository this package sits in
(``python/`` beside ``target/``); ``java`` from ``JAVA_HOME`` or the PATH.
"""

from ._run import HbpError, curvature, dense_blocks, newton_step, jar_path

__all__ = ["HbpError", "curvature", "dense_blocks", "newton_step", "jar_path"]
