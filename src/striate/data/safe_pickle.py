"""A restricted unpickler for dataset files that come as Python pickles (CIFAR).

An ordinary ``pickle.load`` runs whatever callable the file names, so a tampered download could
execute code. The CIFAR batches only hold dicts, lists, bytes, ints and NumPy arrays pickled by
Python 2, which name exactly three globals: ``numpy.core.multiarray._reconstruct`` (spelled
``numpy._core.multiarray`` by NumPy 2), ``numpy.ndarray`` and ``numpy.dtype``; everything else is
refused. Even those three are not handed to NumPy as the file states them: NumPy trusts the state
of a pickled array or dtype (an object array whose list is short, or a dtype with a forged item
size, crashes the interpreter; a forged shape allocates any amount of memory). So they become
inert recipes, and an array is built only from a plain numeric dtype and a byte string of exactly
the announced size. :func:`load_pickle` also checks, before unpickling, that every length and memo
index in the file fits the file, because the C unpickler allocates what a header claims before
reading it (a 20-byte file could ask for gigabytes).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import re
from typing import Any

import numpy as np

from .errors import DatasetError

_NUMERIC = re.compile(r"[iufc]\d{1,2}")  # 'u1', 'i8', 'f4', 'c16' (no bool: any byte is one)
_MEMO_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class _NdarrayMarker:
    """Stands for ``numpy.ndarray`` in a pickle: accepted by ``_reconstruct``, not callable."""

    __slots__ = ()


class _DtypeRecipe:
    """``numpy.dtype(spec, align, copy)`` and its pickled state, recorded but never trusted."""

    __slots__ = ("spec", "state")
    __hash__ = None  # type: ignore[assignment]  # an array stand-in cannot be a key

    def __init__(self, spec: Any = None, align: Any = False, copy: Any = False):
        self.spec, self.state = spec, None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def build(self) -> np.dtype:
        """The dtype, if it is a plain number type (no objects, fields, sub-arrays)."""
        spec = self.spec.decode("latin-1") if isinstance(self.spec, bytes) else self.spec
        state = self.state if self.state is not None else (3, "|", None, None, None)
        endian = state[1] if isinstance(state, tuple) and len(state) >= 5 else None
        endian = endian.decode("latin-1") if isinstance(endian, bytes) else endian
        if (not isinstance(spec, str) or not _NUMERIC.fullmatch(spec)
                or endian not in ("<", ">", "|", "=") or state[2:5] != (None, None, None)):
            raise pickle.UnpicklingError(
                f"array dtype {self.spec!r} (state {self.state!r}) is not allowed: only plain "
                "numeric arrays are"
            )
        dtype = np.dtype(spec)  # TypeError for specs like 'i3'
        return dtype.newbyteorder(endian) if endian in "<>" else dtype


class _ArrayRecipe:
    """What ``_reconstruct`` returns: its pickled state is checked, then made an array."""

    __slots__ = ("array",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 4:  # old pickles leave the version out
            state = (1, *state)
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError(f"array state {type(state).__name__} is malformed")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeRecipe):
            raise pickle.UnpicklingError("array state has no numpy.dtype")
        dtype = dtype.build()
        if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of sizes")
        nbytes = math.prod(shape) * dtype.itemsize
        if not isinstance(raw, bytes | bytearray) or len(raw) != nbytes:
            got = len(raw) if isinstance(raw, bytes | bytearray) else type(raw).__name__
            raise pickle.UnpicklingError(
                f"array of shape {shape} and dtype {dtype} needs {nbytes} bytes of data, got {got}"
            )
        flat = np.frombuffer(raw, dtype=dtype)
        self.array = flat.reshape(shape, order="F" if fortran else "C").copy()


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> _ArrayRecipe:
    """Stands for NumPy's ``_reconstruct``: allocates nothing (its shape is replaced later)."""
    if not isinstance(subtype, _NdarrayMarker):
        raise pickle.UnpicklingError("_reconstruct builds only numpy.ndarray")
    return _ArrayRecipe()


_NDARRAY = _NdarrayMarker()
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeRecipe,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS` and refuses every other global.

    ``load()`` returns real NumPy arrays, built from checked recipes. For files from outside,
    use :func:`load_pickle`, which also bounds the memory a file can make it allocate.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"global '{module}.{name}' is not allowed in a dataset pickle"
            ) from None

    def load(self) -> Any:
        return _resolve(super().load(), {})


def _resolve(obj: Any, done: dict[int, Any]) -> Any:
    """``obj`` with each recipe replaced by what it stands for (lists and dicts in place)."""
    key = id(obj)
    if key in done:
        return done[key]
    if isinstance(obj, _ArrayRecipe):
        if obj.array is None:
            raise pickle.UnpicklingError("an array in the pickle has no data")
        done[key] = obj.array
    elif isinstance(obj, _DtypeRecipe):
        done[key] = obj.build()
    elif type(obj) is list:
        done[key] = obj
        obj[:] = [_resolve(x, done) for x in obj]
    elif type(obj) is dict:
        done[key] = obj
        for k, v in obj.items():
            obj[k] = _resolve(v, done)
    elif type(obj) is tuple:
        items = tuple(_resolve(x, done) for x in obj)
        done[key] = obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    else:
        done[key] = obj
    return done[key]


def _check_sizes(data: bytes) -> None:
    """Every counted string and memo index in ``data`` fits the file (before any allocation)."""
    for opcode, arg, pos in pickletools.genops(io.BytesIO(data)):  # reads lengths, not trusts
        if opcode.name in _MEMO_OPS and not 0 <= arg <= len(data):
            raise pickle.UnpicklingError(f"memo index {arg} at byte {pos} is impossible")


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a dataset pickle through :class:`RestrictedUnpickler`.

    Python 2 ``str`` objects come back as ``bytes`` (``encoding="bytes"``), as the CIFAR page
    prescribes. Any refusal or corruption raises :class:`DatasetError` naming the file. Memory
    stays within a small multiple of the file's size.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        _check_sizes(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except FileNotFoundError as exc:
        raise DatasetError(f"dataset file {os.fspath(path)!r} does not exist") from exc
    except RefusedGlobal as exc:
        raise DatasetError(
            f"dataset file {os.fspath(path)!r} was refused: {exc} (it could run code); it is "
            "not a genuine dataset pickle: delete it and download it again"
        ) from exc
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError) as exc:
        detail = " ".join(str(exc).split())  # some of pickle's messages span two lines
        raise DatasetError(
            f"dataset file {os.fspath(path)!r} is truncated or corrupt ({type(exc).__name__}: "
            f"{detail}); delete it and download it again"
        ) from exc
