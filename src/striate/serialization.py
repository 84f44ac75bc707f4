"""``st.save`` and ``st.load``: tensors, arrays and state dicts in files that are never pickles.

``save(obj, path)`` writes one safetensors file.  Every array in ``obj`` (a Tensor, a NumPy or
CuPy array, or a state dict: dicts, lists and tuples of them and of numbers, strings, booleans
and None, such as a model's or an optimiser's ``state_dict()``) becomes one tensor of the file,
named by where it sits in ``obj`` (``conv1.weight``, ``state.0.momentum_buffer``); the rest of
the structure is JSON in the header's ``__metadata__`` under :data:`TREE_KEY`.  So loading runs
no code, unlike ``torch.load`` of a pickle, and a model's state dict saved this way is a plain
safetensors state dict that ``safetensors.torch.load_file`` reads as it is.

``load(path)`` reads a file by its suffix:

* ``.safetensors``: what :func:`save` wrote comes back as it was saved (Tensors with their
  ``requires_grad``, NumPy arrays and scalars, integer keys, tuples); any other safetensors file
  comes back as a dict name -> Tensor.
* ``.npz``: a dict name -> Tensor, read without pickles (``allow_pickle=False``), each array's
  claimed size checked against the archive before it is allocated.
* ``.pt`` / ``.pth``: ``torch.load(path, weights_only=True)`` (torch must be installed), every
  torch tensor turned into a Tensor and the dicts, lists and tuples around them kept.

Half-precision tensors (F16, BF16) of files that :func:`save` did not write come back as float32,
the precision striate computes in; widening is exact.  A missing file raises FileNotFoundError; a
file of another kind, a corrupt one, or a PyTorch file that only a full unpickle can read raises
one :class:`LoadError` (a ValueError; a bad safetensors file, a ``SafetensorsError``, also a
ValueError) that names the file and says what to do.
"""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import is_array, to_numpy
from .errors import UserError
from .interop.safetensors import load_file, not_regular, parse_json, save_file, short_repr
from .tensor import Tensor

if TYPE_CHECKING:
    import zipfile

TREE_KEY = "striate.object"  # the __metadata__ key holding the JSON of what save wrote
SUFFIX = ".safetensors"
ROOT_NAME = "tensor"  # the file's tensor name when the saved object is a single array

# JSON objects that stand for what JSON cannot hold: a tensor of the file (as a Tensor, a NumPy
# array or a NumPy scalar), a tuple, a dict whose keys are not all strings
_REFERENCES = {"__tensor__", "__array__", "__scalar__"}
_MARKERS = _REFERENCES | {"__tuple__", "__dict__"}
_SCALARS = (str, int, float, bool, type(None))


class LoadError(UserError, ValueError):
    """A file :func:`load` cannot read; the message names the file and what to do."""


def save(obj: Any, f: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a Tensor, an array or a state dict of them) to the safetensors file ``f``.

    The file is written atomically: an interrupted save leaves any previous file whole.  ``f``
    must end in ``.safetensors``, since :func:`load` reads a file by its suffix.  Raises
    TypeError for what cannot be stored (a Module or an optimiser: save its ``state_dict()``).
    """
    path = Path(f)
    if path.suffix != SUFFIX:
        raise ValueError(f"st.save writes safetensors files, and st.load reads a file by its "
                         f"suffix: name it {path.with_suffix(SUFFIX).name!r}, not {path.name!r}")
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(split_arrays(obj, arrays), separators=(",", ":"))
    parse_json(text, f"st.save: {path.name}: the structure of the object")  # what load accepts
    save_file(arrays, path, {TREE_KEY: text})


def load(f: str | os.PathLike[str]) -> Any:
    """Read what :func:`save` wrote, or a ``.safetensors``, ``.npz`` or PyTorch ``.pt``/``.pth``
    file from elsewhere (see the module's docstring for what each gives back)."""
    path = Path(f)
    try:
        kind = not_regular(os.stat(path).st_mode)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path)) from None
    if kind is not None:
        raise LoadError(f"{path}: is {kind}, not a file; st.load reads .safetensors, .npz, .pt "
                        "and .pth files")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise LoadError(f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; st.load "
                        "reads .safetensors, .npz, .pt and .pth files, by their suffix")
    return reader(path)


# --- the structure around the arrays, as JSON ---------------------------------------------------


def split_arrays(tree: Any, arrays: dict[str, np.ndarray], prefix: str = "", *,
                 lossless: bool = True) -> Any:
    """The JSON-able skeleton of ``tree``, each array moved into ``arrays`` under its dotted path
    from ``prefix`` (made unique with ``#n`` if two paths spell the same) and replaced by a
    reference to that name.

    ``lossless`` keeps what JSON cannot (Tensor or array or NumPy scalar, tuples, non-string
    keys) in marker objects that :func:`join_arrays` undoes, and refuses values it cannot store
    (TypeError naming where).  Without it, as checkpoint metadata is written, keys become
    strings, tuples lists and NumPy scalars Python numbers, and every array is a NumPy array.
    """
    def down(value: Any, key: Any) -> Any:
        return split_arrays(value, arrays, f"{prefix}.{key}" if prefix else str(key),
                            lossless=lossless)

    if isinstance(tree, Tensor):
        if not lossless:
            return {"__array__": _add(arrays, prefix, tree.data)}
        ref = {"__tensor__": _add(arrays, prefix, tree.data)}
        return {**ref, "requires_grad": True} if tree.requires_grad else ref
    if is_array(tree):
        return {"__array__": _add(arrays, prefix, tree)}
    if isinstance(tree, np.generic):
        return {"__scalar__": _add(arrays, prefix, np.asarray(tree))} if lossless else tree.item()
    if isinstance(tree, dict):
        if not lossless or (all(isinstance(k, str) for k in tree) and not _MARKERS & set(tree)):
            return {str(k): down(v, k) for k, v in tree.items()}
        return {"__dict__": [[_key(k, prefix), down(v, k)] for k, v in tree.items()]}
    if isinstance(tree, (list, tuple)):
        items = [down(v, i) for i, v in enumerate(tree)]
        return {"__tuple__": items} if lossless and isinstance(tree, tuple) else items
    if lossless and not isinstance(tree, _SCALARS):
        hint = ": save its state_dict()" if hasattr(tree, "state_dict") else (
            "; st.save stores tensors, arrays, numbers, strings, booleans, None and "
            "dicts, lists and tuples of them")
        raise TypeError(f"st.save: cannot store {type(tree).__name__} at "
                        f"{prefix or 'the top level'}{hint}")
    return tree


def join_arrays(tree: Any, arrays: dict[str, np.ndarray], used: set[str],
                what: str = "a tensor of the file") -> Any:
    """Undo :func:`split_arrays` on parsed (untrusted) JSON: each reference must name one of
    ``arrays``, once (``used`` collects them, so that the caller can refuse tensors nothing
    refers to).  A malformed skeleton raises :class:`LoadError` without a file name: the caller
    adds it."""
    def down(value: Any) -> Any:
        return join_arrays(value, arrays, used, what)

    if isinstance(tree, list):
        return [down(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    markers = _MARKERS & set(tree)
    if not markers:
        return {k: down(v) for k, v in tree.items()}
    kind = min(markers)
    allowed = {kind, "requires_grad"} if kind == "__tensor__" else {kind}
    if len(markers) > 1 or not set(tree) <= allowed or not isinstance(tree.get(
            "requires_grad", False), bool):
        raise LoadError(f"has a malformed {kind} entry {short_repr(tree)}")
    body = tree[kind]
    if kind == "__tuple__" and isinstance(body, list):
        return tuple(down(v) for v in body)
    if kind == "__dict__" and isinstance(body, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], _SCALARS) for p in body):
        if len({key for key, _ in body}) != len(body):
            raise LoadError(f"repeats a key in {short_repr(tree)}")
        return {key: down(value) for key, value in body}
    if kind not in _REFERENCES:
        raise LoadError(f"has a malformed {kind} entry {short_repr(tree)}")
    if not (isinstance(body, str) and body in arrays):
        raise LoadError(f"refers to {short_repr(body)}, which is not {what}")
    if body in used:
        raise LoadError(f"refers to {short_repr(body)} twice")
    used.add(body)
    array = arrays[body]
    if kind == "__scalar__":
        if array.ndim:
            raise LoadError(f"refers to {short_repr(body)} as a scalar, but it has shape "
                            f"{array.shape}")
        return array[()]
    if kind == "__array__":
        return array
    if tree.get("requires_grad") and array.dtype.kind != "f":
        raise LoadError(f"asks for a gradient of {short_repr(body)}, which holds "
                        f"{array.dtype} values")
    return Tensor(array, requires_grad=tree.get("requires_grad", False))


def _add(arrays: dict[str, np.ndarray], name: str, array: Any) -> str:
    """Put ``array`` into ``arrays`` under ``name`` (or a free variant of it); returns the name."""
    name = name or ROOT_NAME
    free = next(n for n in itertools.chain([name], (f"{name}#{i}" for i in itertools.count(1)))
                if n not in arrays)
    arrays[free] = to_numpy(array)
    return free


def _key(key: Any, prefix: str) -> Any:
    """A dict key as JSON: a string, number, boolean or None (NumPy scalars as Python's)."""
    key = key.item() if isinstance(key, np.generic) else key
    if not isinstance(key, _SCALARS):
        raise TypeError(f"st.save: cannot store the key {short_repr(key)} of "
                        f"{prefix or 'the top-level dict'}; keys must be strings, numbers, "
                        "booleans or None")
    return key


# --- readers ----------------------------------------------------------------------------------


def _widened(array: np.ndarray) -> np.ndarray:
    """float16 as float32 (exact); every other dtype as it is."""
    return array.astype(np.float32) if array.dtype == np.float16 else array


def _load_safetensors(path: Path) -> Any:
    arrays, metadata = load_file(path)
    if TREE_KEY not in metadata:
        return {name: Tensor(_widened(array)) for name, array in arrays.items()}
    tree = parse_json(metadata[TREE_KEY], f"{path}: its {TREE_KEY} metadata")
    used: set[str] = set()
    try:
        obj = join_arrays(tree, arrays, used)
    except LoadError as e:
        raise LoadError(f"{path}: its {TREE_KEY} metadata {e}; the file is corrupt") from None
    unused = [name for name in arrays if name not in used]
    if unused:
        raise LoadError(f"{path}: tensors {short_repr(unused)} are in the file but not in the "
                        f"object its {TREE_KEY} metadata describes; the file is corrupt")
    return obj


def _load_npz(path: Path) -> dict[str, Tensor]:
    import zipfile  # here: importing it takes longer than the rest of this module

    try:
        with zipfile.ZipFile(path) as archive:
            return {_npy_name(info, path): Tensor(_widened(_read_npy(archive, info, path)))
                    for info in archive.infolist()}
    except LoadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as e:
        raise LoadError(f"{path}: not a readable .npz archive ({_first_line(e)}); truncated or "
                        "corrupt, or not written by numpy.savez") from None


def _npy_name(info: zipfile.ZipInfo, path: Path) -> str:
    if not info.filename.endswith(".npy"):
        raise LoadError(f"{path}: holds {short_repr(info.filename)}, which is not an .npy "
                        "array; an .npz from numpy.savez holds only .npy files")
    return info.filename[:-len(".npy")]


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One member of the archive, after checking that its header's shape fits its size."""
    fmt = np.lib.format
    with archive.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.hasobject:
            raise LoadError(f"{path}: array {short_repr(info.filename)} holds Python objects, "
                            "which only a pickle can read; save numbers, not objects")
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise LoadError(f"{path}: array {short_repr(info.filename)} claims shape {shape} of "
                            f"{dtype}, more than its {info.file_size} bytes; corrupt")
    with archive.open(info) as f:
        return fmt.read_array(f, allow_pickle=False)


def _load_torch(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise LoadError(f"{path}: reading PyTorch files needs torch: pip install torch, or "
                        "save the file as safetensors in PyTorch") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is a page that suggests weights_only=False; keep its one line of fact
        lines = [line.strip() for line in str(e).splitlines() if "Unsupported" in line]
        detail = lines[0].split("error: ")[-1].split(" was not")[0] if lines else _first_line(e)
        if detail.startswith("Unsupported global"):
            raise LoadError(f"{path}: holds Python objects besides tensors ({detail}), which "
                            "only a full unpickle, able to run code, could read; in PyTorch, save "
                            "the model's state_dict() instead of the model, or convert the file "
                            "to safetensors") from None
        raise LoadError(f"{path}: not a PyTorch file of tensors ({detail}); truncated, corrupt "
                        "or another pickle: save it with torch.save(model.state_dict(), path)"
                        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise LoadError(f"{path}: not a readable PyTorch file ({_first_line(e)}); truncated or "
                        "corrupt") from None
    try:
        return _from_torch(obj, torch)
    except (RuntimeError, TypeError, RecursionError) as e:
        raise LoadError(f"{path}: holds a tensor striate cannot read ({_first_line(e)}); "
                        "convert it to float32 in PyTorch first") from None


def _from_torch(obj: Any, torch: Any) -> Any:
    """torch tensors as Tensors (half precision as float32), in the same containers."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return Tensor(t.numpy(), requires_grad=obj.requires_grad and t.is_floating_point())
    if isinstance(obj, dict):
        return {k: _from_torch(v, torch) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_torch(v, torch) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_from_torch(v, torch) for v in obj)
    return obj


def _first_line(error: BaseException) -> str:
    return short_repr(str(error).strip().split("\n", 1)[0] or type(error).__name__, 200)


_READERS = {".safetensors": _load_safetensors, ".npz": _load_npz, ".pt": _load_torch,
            ".pth": _load_torch}
