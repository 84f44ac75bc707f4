"""The two errors of the ONNX interop, both ``ValueError`` subclasses (catch either)."""

from __future__ import annotations


class ONNXExportError(ValueError):
    """A model that cannot be written as ONNX: an op without an ONNX mapping (named, with the
    module that called it), or arguments the export cannot express."""


class ONNXImportError(ValueError):
    """An ONNX file striate cannot build a model from; the message names the file and, for an
    operator or attribute striate lacks, the node."""

    def __init__(self, path: object, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
