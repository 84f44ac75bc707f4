"""ONNX export and import.

``export(model, example_input, path)`` writes a striate model as an ONNX file by tracing one
forward pass (every layer of ``striate.nn`` has an ONNX form); ``load(path)`` builds a trainable
striate model from an ONNX graph of the operators striate has.  The ``onnx`` package is imported
only when one of them is called (``pip install striate[onnx]``).  See docs/onnx.md.
"""

from __future__ import annotations

from .errors import ONNXExportError, ONNXImportError
from .export import export
from .importer import ONNXModel, load

__all__ = ["export", "load", "ONNXModel", "ONNXExportError", "ONNXImportError"]
