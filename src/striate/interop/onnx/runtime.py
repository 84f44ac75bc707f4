"""An exported classifier as a striate module, for ``striate predict`` and ``evaluate``.

:func:`open_classifier` runs the file through onnxruntime when it is installed (the engine the
file is made for), else through :func:`~striate.interop.onnx.load`; either way the result is a
:class:`~striate.nn.Module` whose ``forward`` maps an (N, C, H, W) batch to logits, and which
knows the file's input shape, class names and whether it normalises its own input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...nn.module import Module
from ...tensor import Tensor
from .errors import ONNXImportError


class ONNXClassifier(Module):
    """``forward(x)``: the file's first output for the batch x, as a tensor (no gradient
    through onnxruntime)."""

    def __init__(self, run: Any, input_shape: tuple[int, ...], metadata: dict[str, str]):
        super().__init__()
        self._run = run
        self.input_shape = input_shape  # (C, H, W), the batch dim left out
        self.class_names = json.loads(metadata["class_names"]) \
            if "class_names" in metadata else None
        self.normalizes = "normalization" in metadata

    def forward(self, input: Any) -> Any:
        x = input.data if isinstance(input, Tensor) else np.asarray(input)
        return self._run(np.ascontiguousarray(x, dtype=np.float32))


def open_classifier(path: str | os.PathLike[str]) -> ONNXClassifier:
    """The ONNX file at ``path`` as an :class:`ONNXClassifier`; :class:`ONNXImportError` for
    a file that is missing or not a model, ImportError when neither onnxruntime nor onnx is
    installed."""
    path = Path(path)
    if not path.is_file():
        raise ONNXImportError(path, "no such file")
    try:
        import onnxruntime
    except ImportError:
        return _through_striate(path)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ONNXImportError(path, f"onnxruntime cannot run it ({first})") from None
    graph_input = session.get_inputs()[0]
    name = graph_input.name

    def run(x: np.ndarray) -> Tensor:
        return Tensor(session.run(None, {name: x})[0])

    shape = tuple(d if isinstance(d, int) else -1 for d in graph_input.shape[1:])
    return ONNXClassifier(run, shape, dict(session.get_modelmeta().custom_metadata_map))


def _through_striate(path: Path) -> ONNXClassifier:
    import onnx

    from .importer import load

    model = load(path).eval()
    proto = onnx.load(str(path), load_external_data=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim[1:]
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)

    def run(x: np.ndarray) -> Any:
        out = model(Tensor(x))
        return out[0] if isinstance(out, tuple) else out

    return ONNXClassifier(run, shape, {p.key: p.value for p in proto.metadata_props})
