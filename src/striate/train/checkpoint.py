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

from ..backend import is_array, to_numpy
from ..errors import UserError
from ..interop.safetensors import SafetensorsError, load_file, save_file

FORMAT = "striate-checkpoint"
VERSION = 1


def _split_arrays(tree: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every array in a nested dict/list by a reference ``{"__array__": key}``."""
    if is_array(tree):
        arrays[prefix] = to_numpy(tree)
        return {"__array__": prefix}
    if isinstance(tree, dict):
        return {str(k): _split_arrays(v, f"{prefix}.{k}", arrays) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_split_arrays(v, f"{prefix}.{i}", arrays) for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def _join_arrays(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            return arrays[tree["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_join_arrays(v, arrays) for v in tree]
    return tree


def save_checkpoint(path: str | Path, model_state: dict[str, Any], meta: dict[str, Any],
                    optimizer_state: dict[str, Any] | None = None) -> Path:
    """Write model weights, optional optimiser state and JSON-able ``meta`` to ``path``."""
    tensors = {f"model.{k}": to_numpy(v) for k, v in model_state.items()}
    meta = dict(meta, format=FORMAT, version=VERSION)
    if optimizer_state is not None:
        optim_arrays: dict[str, np.ndarray] = {}
        meta["optimizer_state"] = _split_arrays(optimizer_state, "optimizer", optim_arrays)
        tensors.update(optim_arrays)
    return save_file(tensors, path, {"striate": json.dumps(meta)})


class Checkpoint:
    """A loaded checkpoint: ``model_state``, ``meta`` and ``optimizer_state`` (or None)."""

    def __init__(self, model_state: dict[str, np.ndarray], meta: dict[str, Any],
                 optimizer_state: dict[str, Any] | None):
        self.model_state = model_state
        self.meta = meta
        self.optimizer_state = optimizer_state


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (or a run folder's ``last``)."""
    path = resolve_checkpoint(path)
    try:
        arrays, metadata = load_file(path)
    except SafetensorsError as e:
        raise UserError(f"cannot read checkpoint: {e}") from None
    try:
        meta = json.loads(metadata["striate"])
    except (KeyError, json.JSONDecodeError):
        raise UserError(f"{path}: not a striate checkpoint (no striate metadata); "
                        "plain weight files load with model.load_state_dict") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optimizer_state = meta.pop("optimizer_state", None)
    if optimizer_state is not None:
        optimizer_state = _join_arrays(optimizer_state, arrays)
    return Checkpoint(model_state, meta, optimizer_state)


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
