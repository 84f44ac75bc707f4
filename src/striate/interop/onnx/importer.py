"""``load``: a trainable striate model from an ONNX file.

The model (:class:`ONNXModel`) keeps the graph's nodes in the file's (topological) order and
runs each with striate ops (:mod:`.ops_import`), so gradients flow through it like through any
striate model.  Its floating-point initializers are :class:`~striate.nn.Parameter`\\ s, except
the running statistics of ``BatchNormalization`` (buffers) and 0-d scalars (constants); integer
ones (shapes, axes) are constants.  An initializer named like a ``state_dict`` key
(``layer1.0.conv1.weight``, as :func:`~striate.interop.onnx.export` and PyTorch's exporter name
them) is registered under that key, in submodules of those names, so the model's ``state_dict``
keys are the exporting model's.

Every problem is an :class:`~striate.interop.onnx.ONNXImportError` naming the file: a file that
is not a valid ONNX model, the first operator striate lacks (with its node's name), an attribute
it cannot honour.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...nn.module import Module, Parameter
from ...tensor import Tensor
from .errors import ONNXImportError
from .ops_import import BUILDERS, Node, Unsupported

_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}  # running mean and variance


class ONNXModel(Module):
    """An ONNX graph run node by node with striate ops; ``forward(*inputs)`` takes the graph's
    inputs in order and returns its output (a tuple when it has several)."""

    def __init__(self, graph: Any, opset: int, path: Any = "<model>"):
        from onnx import numpy_helper

        super().__init__()
        self.input_names = [i.name for i in graph.input
                            if i.name not in {t.name for t in graph.initializer}]
        self.output_names = [o.name for o in graph.output]
        self._values: dict[str, tuple[Module, str] | Any] = {}
        buffers = {n.input[i] for n in graph.node for i in _BUFFER_INPUTS.get(n.op_type, ())
                   if i < len(n.input)}
        for t in graph.initializer:
            self._add_initializer(t.name, numpy_helper.to_array(t), t.name in buffers)
        self._steps: list[tuple[Node, Any]] = []
        known = set(self.input_names) | set(self._values) | {""}
        for proto in graph.node:
            node = Node(proto, opset)
            label = f"{proto.op_type} node {proto.name or '(unnamed)'!r}"
            if proto.domain not in ("", "ai.onnx"):
                raise ONNXImportError(path, f"unsupported operator {proto.domain}.{label}")
            builder = BUILDERS.get(proto.op_type)
            if builder is None:
                raise ONNXImportError(path, f"unsupported operator {label}; striate runs "
                                      f"{', '.join(sorted(BUILDERS))}")
            missing = [i for i in proto.input if i not in known]
            if missing:
                raise ONNXImportError(path, f"{label} reads {missing[0]!r} before any node "
                                      "writes it (the graph is not in topological order)")
            try:
                self._steps.append((node, builder(node)))
            except Unsupported as e:
                raise ONNXImportError(path, f"{label}: {e}") from None
            known.update(proto.output)

    def _add_initializer(self, name: str, array: np.ndarray, buffer: bool) -> None:
        """Register a learned float array as a Parameter (or a buffer) at the module path its
        name spells, anything else as a constant."""
        if array.dtype.kind != "f" or (array.ndim == 0 and not buffer):
            self._values[name] = Tensor(array) if array.dtype.kind == "f" else array
            return
        owner, attr = self._place(name)
        if buffer:
            owner.register_buffer(attr, array.copy())
        else:
            setattr(owner, attr, Parameter(array.copy()))
        self._values[name] = (owner, attr)

    def _place(self, name: str) -> tuple[Module, str]:
        """The submodule and attribute for a dotted name (``a.b.weight``: submodule ``a.b``,
        attribute ``weight``), made on demand; a name that does not fit is flattened."""
        parts = [re.sub(r"\W", "_", p) or "_" for p in name.split(".")]
        owner = self
        for part in parts[:-1]:
            child = owner._modules.get(part)
            if child is None:
                if part in owner._parameters or part in owner._buffers:
                    return self._flat(name)
                child = Module()
                owner.add_module(part, child)
            owner = child
        leaf = parts[-1]
        if leaf in owner._modules or leaf in owner._parameters or leaf in owner._buffers \
                or leaf in owner.__dict__ or hasattr(type(owner), leaf):
            return self._flat(name)
        return owner, leaf

    def _flat(self, name: str) -> tuple[Module, str]:
        base = "_" + re.sub(r"\W", "_", name)
        leaf, k = base, 0
        while leaf in self._parameters or leaf in self._buffers or leaf in self._modules:
            k += 1
            leaf = f"{base}_{k}"
        return self, leaf

    def _value(self, name: str) -> Any:
        held = self._values[name]
        if isinstance(held, tuple):
            owner, attr = held
            return getattr(owner, attr)
        return held

    def forward(self, *inputs: Any) -> Any:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"ONNXModel: expected {len(self.input_names)} inputs "
                             f"({', '.join(self.input_names)}), got {len(inputs)}")
        env: dict[str, Any] = {"": None}
        for name, value in zip(self.input_names, inputs, strict=True):
            env[name] = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        for node, run in self._steps:
            args = [env[i] if i in env else self._value(i) for i in node.inputs]
            while args and args[-1] is None:
                args.pop()
            out = run(self, args)
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.outputs, outs, strict=False):
                env[name] = value
        results = tuple(env[n] if n in env else self._value(n) for n in self.output_names)
        return results[0] if len(results) == 1 else results

    def extra_repr(self) -> str:
        return f"inputs={self.input_names}, outputs={self.output_names}, nodes={len(self._steps)}"


def load(path: str | os.PathLike[str]) -> ONNXModel:
    """Build a striate model from the ONNX file at ``path`` (see the module docstring).

    Raises :class:`ONNXImportError` (a ``ValueError``) naming the file for a missing or
    malformed file, the first operator striate does not have, or an unsupported attribute."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ONNXImportError(path, "no such file")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:  # protobuf's DecodeError, onnx's ValidationError, external data
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ONNXImportError(path, f"not a valid ONNX model ({first})") from None
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ONNXImportError(path, "the model imports no standard ONNX opset")
    return ONNXModel(proto.graph, opset, path)
