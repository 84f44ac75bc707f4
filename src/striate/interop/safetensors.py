"""Reading and writing the safetensors format without the safetensors package.

A file is: 8 bytes (little-endian u64) giving the header length N, N bytes of JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional
``"__metadata__"`` dict of strings), then the raw little-endian bytes of every tensor.
Nothing in the file is executed on load, unlike a pickle.

The reader trusts nothing in the file (checkpoints travel): it reads only regular files (a FIFO,
a device such as ``/dev/zero`` or a directory is refused before it is read), caps the header at
:data:`MAX_HEADER` bytes and its JSON at :data:`MAX_JSON_DEPTH` levels, refuses repeated keys,
and requires, as the reference implementation does, that the tensors' data offsets tile the data
section exactly (no gap, no overlap) and that the file ends where they do.  Every tensor is read
straight into its own array of the size the file holds, so memory never exceeds the file's size.
Every problem is one :class:`SafetensorsError` that names the file.

BF16 tensors, which NumPy has no type for, are read as float32 (twice their size in the file): a
bfloat16 is the top half of the float32 of the same value, so widening is exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from ..backend import to_numpy
from ..fileio import atomic_write
from ..tensor import Tensor

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32,
          "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
BFLOAT16 = "BF16"  # read as float32 (see :func:`_read_array`)
# safetensors dtypes NumPy has no type for: named in the error, with what to do
UNREADABLE = {"F8_E4M3": "float8 e4m3", "F8_E5M2": "float8 e5m2"}
MAX_HEADER = 100_000_000  # bytes, the reference implementation's limit
MAX_JSON_DEPTH = 64       # nesting levels of any JSON we parse (header, checkpoint metadata)
MAX_NDIM = 64             # NumPy's limit
_MAX_EXTENT = 2**62       # bytes spanned by a shape (zeros counted as 1): NumPy's size limit
_TENSOR_FIELDS = {"dtype", "shape", "data_offsets"}


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
    with _open_regular(path) as (f, size):
        if size < 8:
            raise SafetensorsError(f"{path}: too short to be a safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", _read(f, 8, path))
        if n > MAX_HEADER:
            raise SafetensorsError(f"{path}: header length {n} is over the limit of "
                                   f"{MAX_HEADER} bytes; not a safetensors file")
        if n > size - 8:
            raise SafetensorsError(f"{path}: header length {n} exceeds the file "
                                   f"({size} bytes); truncated or corrupt")
        header = parse_json(_read(f, n, path), f"{path}: header")
        if not isinstance(header, dict):
            raise SafetensorsError(f"{path}: header is not a JSON object")
        metadata = _metadata(header.pop("__metadata__", None), path)
        entries = sorted((_entry(name, info, path) for name, info in header.items()),
                         key=lambda e: (e.begin, e.end))
        _check_tiling(entries, size - 8 - n, path)
        arrays = {e.name: _read_array(f, e, path) for e in entries}
    return {name: arrays[name] for name in header}, metadata


def parse_json(text: bytes | str, what: str) -> Any:
    """``json.loads`` plus what it leaves out: UTF-8 only, no repeated key in an object (it keeps
    the last silently), at most :data:`MAX_JSON_DEPTH` levels; every failure, including Python's
    own limits (recursion, digits of an int), is one :class:`SafetensorsError` starting ``what``."""
    try:
        value = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text,
                           object_pairs_hook=_unique_keys)
    except RecursionError:
        raise SafetensorsError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise SafetensorsError(f"{what} is not UTF-8 text") from None
    except _RepeatedKey as e:
        raise SafetensorsError(f"{what} repeats the key {short_repr(e.args[0])} in an "
                               "object") from None
    except ValueError as e:  # JSONDecodeError, or an int of more digits than Python converts
        raise SafetensorsError(f"{what} is not valid JSON ({e})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise SafetensorsError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: untrusted text in a one-line error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- reading, piece by piece ---------------------------------------------------------------------


class _Entry(NamedTuple):
    name: str
    dtype: np.dtype  # as stored; BF16 is stored as uint16
    shape: tuple[int, ...]
    begin: int
    end: int
    bfloat16: bool = False


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _RepeatedKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack and deepest <= MAX_JSON_DEPTH:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def not_regular(mode: int) -> str | None:
    """What a non-regular file is (``os.stat``'s ``st_mode``), in words; None for a regular
    file, the only kind a reader should open (a FIFO blocks, a device never ends)."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The open file and its size, for regular files only.

    ``os.stat`` refuses a FIFO, device or directory before anything opens it (opening a FIFO
    blocks until a writer comes; ``/dev/zero`` never ends); the file is then opened non-blocking
    and checked again with ``fstat``, in case the path changed in between.
    """
    try:
        kind = not_regular(os.stat(path).st_mode)
    except FileNotFoundError:
        raise SafetensorsError(f"{path}: no such file") from None
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read it ({e.strerror or e})") from None
    if kind is None:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except OSError as e:
            raise SafetensorsError(f"{path}: cannot open it ({e.strerror or e})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            kind = not_regular(info.st_mode)
            if kind is None:
                yield f, info.st_size
                return
    if kind == "a directory":
        raise SafetensorsError(f"{path}: is a directory, expected a .safetensors file")
    raise SafetensorsError(f"{path}: is {kind}, not a regular file; expected a .safetensors file")


def _read(f: BinaryIO, n: int, path: Path) -> bytes:
    data = f.read(n)
    if len(data) != n:  # the file shrank since its size was taken
        raise SafetensorsError(f"{path}: ends early; truncated or corrupt")
    return data


def _metadata(value: Any, path: Path) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SafetensorsError(f"{path}: __metadata__ is not a JSON object")
    for key, text in value.items():
        if not isinstance(text, str):
            raise SafetensorsError(f"{path}: __metadata__ {short_repr(key)} is a "
                                   f"{type(text).__name__}, not a string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(name: str, info: Any, path: Path) -> _Entry:
    """One tensor's header entry, checked: known dtype, sane shape, offsets that fit its size."""
    where = f"{path}: tensor {short_repr(name)}"
    if not isinstance(info, dict) or set(info) != _TENSOR_FIELDS:
        raise SafetensorsError(f"{where}: header entry must be an object with exactly dtype, "
                               "shape and data_offsets")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code in UNREADABLE:
        raise SafetensorsError(f"{where}: dtype {code} ({UNREADABLE[code]}) cannot be read; "
                               "convert the file to F32 first")
    if not isinstance(code, str) or code not in {*DTYPES, BFLOAT16}:
        raise SafetensorsError(f"{where}: unknown dtype {short_repr(code)}; known: "
                               f"{', '.join([*DTYPES, BFLOAT16])}")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(_is_int(d) and d >= 0 for d in shape)):
        raise SafetensorsError(f"{where}: shape {short_repr(shape)} is not a list of at most "
                               f"{MAX_NDIM} non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_int, offsets))
            or not 0 <= offsets[0] <= offsets[1]):
        raise SafetensorsError(f"{where}: data_offsets {short_repr(offsets)} is not a pair of "
                               "integers 0 <= begin <= end")
    dtype = np.dtype(np.uint16 if code == BFLOAT16 else DTYPES[code]).newbyteorder("<")
    if math.prod(max(d, 1) for d in shape) * dtype.itemsize > _MAX_EXTENT:
        raise SafetensorsError(f"{where}: shape {short_repr(shape)} is too large")
    size, span = math.prod(shape) * dtype.itemsize, offsets[1] - offsets[0]
    if size != span:
        raise SafetensorsError(f"{where}: {code} of shape {shape} takes {size} bytes but its "
                               f"data_offsets span {span}; corrupt")
    return _Entry(name, dtype, tuple(shape), offsets[0], offsets[1], code == BFLOAT16)


def _check_tiling(entries: list[_Entry], body: int, path: Path) -> None:
    """The tensors, in offset order, must cover the data section end to end, as the reference
    implementation requires: a gap or an overlap is corruption, and so is a size mismatch."""
    position = 0
    for e in entries:
        if e.begin != position:
            problem = "overlaps the tensor before it" if e.begin < position else (
                f"leaves {e.begin - position} bytes unaccounted for before it")
            raise SafetensorsError(f"{path}: tensor {short_repr(e.name)} at bytes "
                                   f"{e.begin}..{e.end} {problem}; corrupt")
        position = e.end
    if position != body:
        problem = "truncated" if position > body else "trailing bytes"
        raise SafetensorsError(f"{path}: the header describes {position} bytes of tensor data "
                               f"but the file holds {body} ({problem}); truncated or corrupt")


def _read_array(f: BinaryIO, e: _Entry, path: Path) -> np.ndarray:
    """The next ``e.end - e.begin`` bytes of the file, read straight into a new array."""
    array = np.empty(e.shape, e.dtype)
    view = memoryview(array.reshape(-1)).cast("B")  # flat: cast refuses a shape with zeros
    done = 0
    while done < len(view):
        got = f.readinto(view[done:])
        if not got:
            raise SafetensorsError(f"{path}: ends inside tensor {short_repr(e.name)}; "
                                   "truncated or corrupt")
        done += got
    if array.dtype == np.bool_:  # bytes other than 0 and 1 would make odd booleans
        return array.view(np.uint8) != 0
    if e.bfloat16:  # the bits of a bfloat16 are the high half of its float32's
        wide = array.astype(np.uint32)
        wide <<= 16
        return wide.view(np.float32)
    return array.astype(e.dtype.newbyteorder("="), copy=False)
