"""Reading and writing the safetensors format without the safetensors package.

A file is: 8 bytes (little-endian u64) giving the header length N, N bytes of JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional
``"__metadata__"`` dict of strings), then the raw little-endian bytes of every tensor.
Nothing in the file is executed on load, unlike a pickle.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..fileio import atomic_write
from ..tensor import Tensor

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file."""


def save_file(tensors: dict[str, Any], path: str | Path,
              metadata: dict[str, str] | None = None) -> Path:
    """Write arrays (NumPy, CuPy or tensors) to ``path`` atomically: temp file, then rename."""
    header: dict[str, Any] = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        array = to_numpy(value.data if isinstance(value, Tensor) else value)
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d arrays 0-d
        if array.dtype not in CODES:
            raise TypeError(f"safetensors: cannot store {name!r} of dtype {array.dtype}")
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the data section starts 8-byte aligned
    path = Path(path)
    with atomic_write(path) as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)
    return path


def load_file(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read ``(arrays, metadata)``; a truncated or corrupt file raises :class:`SafetensorsError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SafetensorsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SafetensorsError(f"{path}: is a directory, expected a .safetensors file") from None
    if len(data) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(MAX_HEADER, len(data) - 8):
        raise SafetensorsError(f"{path}: header length {n} exceeds the file; truncated or corrupt")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    arrays = {}
    for name, info in header.items():
        try:
            dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
            begin, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(s) for s in info["shape"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: bad header entry for {name!r}") from None
        count = int(np.prod(shape)) if shape else 1
        if not 0 <= begin <= end <= len(body) or end - begin != count * dtype.itemsize:
            raise SafetensorsError(
                f"{path}: data of {name!r} lies outside the file or has the wrong size; "
                "the file is truncated or corrupt")
        arrays[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).astype(
            dtype.newbyteorder("="))
    return arrays, metadata
