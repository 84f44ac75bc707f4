"""Checkpoints: one safetensors file that is enough to evaluate, predict or resume.

Tensors: the model's ``state_dict`` under ``model.<key>`` and the optimiser's per-parameter arrays
under ``optimizer.<index>.<name>``.  Metadata (one JSON string under the key ``striate``): model
name and arguments, normalisation statistics, class names, optimiser and schedule state without
their arrays, RNG states, epoch, history.  Files are written atomically, so an interrupted save
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..errors import UserError
from ..interop.safetensors import SafetensorsError, load_file, parse_json, save_file, short_repr
from ..serialization import LoadError, join_arrays, split_arrays
from .checkpoint_meta import validate_meta

FORMAT = "striate-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, model_state: dict[str, Any], meta: dict[str, Any],
                    optimizer_state: dict[str, Any] | None = None) -> Path:
    """Write model weights, optional optimiser state and JSON-able ``meta`` to ``path``."""
    tensors = {f"model.{k}": to_numpy(v) for k, v in model_state.items()}
    meta = dict(meta, format=FORMAT, version=VERSION)
    if optimizer_state is not None:
        optim_arrays: dict[str, np.ndarray] = {}
        meta["optimizer_state"] = split_arrays(optimizer_state, optim_arrays, "optimizer",
                                               lossless=False)
        tensors.update(optim_arrays)
    return save_file(tensors, path, {"striate": json.dumps(meta)})


class Checkpoint:
    """A loaded checkpoint: ``model_state``, ``meta``, ``optimizer_state`` (or None) and the
    ``path`` it was read from (None for one made in memory), for messages."""

    def __init__(self, model_state: dict[str, np.ndarray], meta: dict[str, Any],
                 optimizer_state: dict[str, Any] | None, path: Path | None = None):
        self.model_state = model_state
        self.meta = meta
        self.optimizer_state = optimizer_state
        self.path = path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (or a run folder's ``last``).

    Everything is checked before it is returned: the file (see ``interop.safetensors``), the
    metadata (:func:`~striate.train.checkpoint_meta.validate_meta`) and the tensors, each of
    which must be a ``model.`` weight or an optimiser array the metadata refers to.  Any problem
    is one :class:`UserError` naming the file.
    """
    path = resolve_checkpoint(path)
    try:
        arrays, metadata = load_file(path)
        if "striate" not in metadata:
            raise UserError(f"{path}: not a striate checkpoint (no striate metadata); "
                            "plain weight files load with model.load_state_dict")
        meta = parse_json(metadata["striate"], f"{path}: striate metadata")
    except SafetensorsError as e:
        raise UserError(f"cannot read checkpoint: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise UserError(f"{path}: unknown checkpoint format {short_repr(found)}")
    version = meta.get("version")
    if type(version) is not int or version != VERSION:
        raise UserError(f"{path}: checkpoint version {short_repr(version)}; this striate reads "
                        f"version {VERSION}")
    validate_meta(meta, path)
    model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optimizer_state = meta.pop("optimizer_state", None)
    used: set[str] = set()
    if optimizer_state is not None:
        optimizer_arrays = {k: v for k, v in arrays.items() if k.startswith("optimizer.")}
        try:
            optimizer_state = join_arrays(optimizer_state, optimizer_arrays, used,
                                          "an optimizer tensor of the file")
        except LoadError as e:
            raise UserError(f"{path}: optimizer state {e}") from None
    unused = [k for k in arrays if not k.startswith("model.") and k not in used]
    if unused:
        raise UserError(f"{path}: unexpected tensors {short_repr(unused)} (neither model weights "
                        "nor optimizer state)")
    return Checkpoint(model_state, meta, optimizer_state, path)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its ``best.safetensors``, else ``last.safetensors``)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.safetensors", "last.safetensors"):
            if (path / name).is_file():
                return path / name
        raise UserError(f"{path}: run folder has no best.safetensors or last.safetensors")
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint file or run folder")
    return path
