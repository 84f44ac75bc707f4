"""A restricted unpickler for dataset files that come as Python pickles (CIFAR).

An ordinary ``pickle.load`` runs whatever callable the file names, so a tampered download could
execute code. The CIFAR batches only hold dicts, lists, bytes, ints and NumPy arrays pickled by
Python 2, which name exactly three globals: ``numpy.core.multiarray._reconstruct`` (spelled
``numpy._core.multiarray`` by NumPy 2), ``numpy.ndarray`` and ``numpy.dtype``. Those are mapped
to the real objects here (so no module is imported by name) and everything else is refused.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from .errors import DatasetError

# The array reconstructor, taken from ndarray's own pickle recipe instead of a private import.
_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS` and refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"global '{module}.{name}' is not allowed in a dataset pickle"
            ) from None


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a dataset pickle through :class:`RestrictedUnpickler`.

    Python 2 ``str`` objects come back as ``bytes`` (``encoding="bytes"``), as the CIFAR page
    prescribes. Any refusal or corruption raises :class:`DatasetError` naming the file.
    """
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding="bytes").load()
    except FileNotFoundError as exc:
        raise DatasetError(f"dataset file {os.fspath(path)!r} does not exist") from exc
    except RefusedGlobal as exc:
        raise DatasetError(
            f"dataset file {os.fspath(path)!r} was refused: {exc} (it could run code); it is "
            "not a genuine dataset pickle: delete it and download it again"
        ) from exc
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise DatasetError(
            f"dataset file {os.fspath(path)!r} is truncated or corrupt ({type(exc).__name__}: "
            f"{exc}); delete it and download it again"
        ) from exc
