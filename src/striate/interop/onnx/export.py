"""``export``: a striate model as an ONNX file, by tracing one forward pass.

The model runs once on the example input (in evaluation mode, unfused, without gradients) while
:mod:`.trace` records every op; each op becomes ONNX nodes through :mod:`.ops_export`.  An op
whose inputs are all constants (a weight masked by a connection table) is not exported: its
value is, as one initializer.  Parameters and buffers are initializers under their
``state_dict`` keys.  The file is checked with ``onnx.checker.check_model(full_check=True)``
before it is written, atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...backend import to_numpy
from ...fileio import atomic_write
from ...nn.fusion import unfuse
from ...nn.module import Module
from ...tensor import Tensor, no_grad
from .errors import ONNXExportError
from .graph import MIN_OPSET, Graph
from .ops_export import EXPORTERS
from .trace import Call, recording

INPUT, OUTPUT, BATCH = "input", "output", "batch"
MAX_BYTES = 2**31 - 1  # protobuf's limit on one message (ONNX external data is not written)


def export(model: Module, example_input: Any, path: str | os.PathLike[str], opset: int = 17,
           dynamic_batch: bool = True, normalization: tuple[Any, Any] | None = None,
           class_names: Sequence[str] | None = None) -> Path:
    """Write ``model`` (as it computes in evaluation mode) to ``path`` as an ONNX model.

    ``example_input`` (an array or tensor, with its batch dim) fixes the input's shape and
    dtype; with ``dynamic_batch`` its first dim is named ``batch`` and may be any size.
    ``normalization = (mean, std)`` (scalars, per-channel (C,) or per-pixel (C, H, W) values in
    the units of the file's input) adds y = (x − mean) / std before the model, so the file takes
    un-normalised images; it is recorded in ``metadata_props["normalization"]``, and
    ``class_names`` in ``metadata_props["class_names"]`` (JSON).  ``opset`` is the ONNX opset
    (13 or newer).  Raises :class:`ONNXExportError` for an op ONNX cannot express.
    """
    import onnx
    from onnx import checker, helper

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must lie in [{MIN_OPSET}, {newest}], got {opset}")
    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if x.dtype.kind != "f" or x.ndim < 1:
        raise ValueError(f"export: example_input must be a floating-point array with a batch "
                         f"dim, got shape {tuple(x.shape)} and dtype {x.dtype}")
    state = {id(p): name for name, p in model.named_parameters()}
    state.update({id(b): name for name, b in model.named_buffers() if b is not None})
    g = Graph(opset, x.dtype, state)
    g.unique(INPUT)
    g.unique(OUTPUT)
    g.bind(x, _normalise(g, x, normalization))
    with _inference(model), no_grad(), recording(model) as calls:
        result = model(x)
    _export_calls(g, calls)
    outputs = _outputs(g, x, result, dynamic_batch)
    batch = BATCH if dynamic_batch else x.shape[0]
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [helper.make_tensor_value_info(INPUT, _elem_type(x.dtype), [batch, *x.shape[1:]])],
        outputs, g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="striate",
                              producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(opsets))
    props = {}
    if class_names is not None:
        props["class_names"] = json.dumps([str(c) for c in class_names])
    if normalization is not None:
        props["normalization"] = json.dumps({k: np.asarray(v, dtype=np.float64).tolist()
                                             for k, v in zip(("mean", "std"), normalization,
                                                             strict=True)})
    helper.set_model_props(proto, props)
    if proto.ByteSize() > MAX_BYTES:
        raise ONNXExportError(f"export: the model needs {proto.ByteSize():,} bytes, over "
                              "protobuf's 2 GiB limit for one file")
    checker.check_model(proto, full_check=True)
    path = Path(path)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return path


@contextlib.contextmanager
def _inference(model: Module) -> Iterator[None]:
    """The model unfused and in evaluation mode within the block, as it was after it."""
    saved = [(m, type(m), m.training) for m in model.modules()]
    unfuse(model).eval()
    try:
        yield
    finally:
        for m, kind, training in saved:
            m.__class__, m.training = kind, training


def _normalise(g: Graph, x: Tensor, normalization: tuple[Any, Any] | None) -> str:
    """The name the model's input gets: the graph's input, or (input − mean) / std."""
    if normalization is None:
        return INPUT
    mean, std = (np.asarray(to_numpy(v.data if isinstance(v, Tensor) else v), dtype=np.float64)
                 for v in normalization)
    if not (std > 0).all():
        raise ValueError("export: normalization std must be positive")
    shapes = []
    for v in (mean, std):
        if v.ndim == 1 and x.ndim >= 2:
            v = v.reshape((1, -1) + (1,) * (x.ndim - 2))
        elif v.ndim and v.ndim == x.ndim - 1:
            v = v[None]
        try:
            np.broadcast_shapes(v.shape, x.shape)
        except ValueError:
            raise ValueError(f"export: normalization of shape {v.shape} does not fit inputs of "
                             f"shape {tuple(x.shape)}") from None
        shapes.append(v)
    g.scope = "normalization"
    centred = g.node("Sub", [INPUT, g.const(shapes[0], "mean")])
    return g.node("Div", [centred, g.const(shapes[1], "std")])


def _export_calls(g: Graph, calls: list) -> None:
    """Each traced op as ONNX nodes, in the order the model ran them; ops on constants only
    are folded into their values."""
    for call in calls:
        inputs = (*call.args, *call.kwargs.values())
        if not any(g.is_dynamic(a) for a in inputs):
            _fold(g, call)
            continue
        exporter = EXPORTERS.get(call.fn)
        if exporter is None:
            where = f" (called in {call.scope})" if call.scope else ""
            raise ONNXExportError(f"export: op {call.fn.op_name()}{where} has no ONNX form")
        g.scope = call.scope
        g.bind(call.outputs[0], exporter(g, call))


def _fold(g: Graph, call: Call) -> None:
    """An op on constants only: its value is a constant too, an initializer (trainable on
    import) when it derives from a parameter or buffer (a weight masked by a table)."""
    key = next((g.state_name(a) for a in call.args if g.state_name(a) is not None), None)
    for out in call.outputs:
        if key is None:
            g.name_of(out, f"{call.scope or 'model'}.{call.fn.op_name()}")
        else:
            g.bind(out, g.initializer(to_numpy(out.data), f"{key}.{call.fn.op_name()}"),
                   dynamic=False)


def _outputs(g: Graph, x: Tensor, result: Any, dynamic_batch: bool) -> list:
    """The graph's outputs (``output``, ``output_1``…), renaming what produced them."""
    from onnx import helper

    values = list(result) if isinstance(result, (tuple, list)) else [result]
    infos = []
    for i, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise ONNXExportError(f"export: the model returned {type(value).__name__}, not a "
                                  "tensor or a tuple of tensors")
        wanted = OUTPUT if i == 0 else g.unique(f"{OUTPUT}_{i}")
        current = g.name_of(value)
        producer = next((n for n in g.nodes if current in n.output), None)
        if producer is None or sum(current in n.output for n in g.nodes) != 1 or \
                any(current == o for info in infos for o in [info.name]):
            g.nodes.append(helper.make_node("Identity", [current], [wanted],
                                            name=f"/{wanted}/Identity"))
        else:
            for node in g.nodes:
                node.input[:] = [wanted if n == current else n for n in node.input]
                node.output[:] = [wanted if n == current else n for n in node.output]
            g.bind(value, wanted)
        dims = list(value.shape)
        if dynamic_batch and dims and dims[0] == x.shape[0]:
            dims[0] = BATCH
        infos.append(helper.make_tensor_value_info(wanted, _elem_type(value.dtype), dims))
    return infos


def _elem_type(dtype: Any) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _version() -> str:
    from ... import __version__

    return __version__
