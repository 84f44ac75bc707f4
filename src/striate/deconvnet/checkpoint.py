"""A Deconvolutional Network in one safetensors file, in the trainer's checkpoint format.

Tensors: ``layer{l}.filters`` of shape (C_l, M_l, k_l, k_l), one per layer, l from 0.  Metadata
(one JSON string under the key ``striate``, as ``train.checkpoint`` writes it): ``format`` and
``version`` as the trainer's, ``kind: "deconvnet"``, ``net`` (``DeconvNet.config()``, one config
per layer), ``image_shape`` [C, H, W], ``dataset``, ``normalization`` (how pixels became the
network's input), ``costs`` (the cost per iteration, one list per layer), ``epochs_done`` (per
layer) and ``train`` (the options of the run).  The file is written atomically, so a run stopped
while saving keeps its last good checkpoint; loading checks every field before anything is
built, and any problem is one :class:`UserError` naming the file.
"""

from __future__ import annotations

import collections.abc
import inspect
import json
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..interop.safetensors import SafetensorsError, load_file, parse_json, save_file, short_repr
from ..train.checkpoint import FORMAT, VERSION
from ..train.checkpoint_meta import MAX_EPOCHS, _field
from ..train.json_bounds import expected, fits, is_int, is_number
from .connectivity import KINDS

KIND = "deconvnet"
FILE_NAME = "deconvnet.safetensors"
MAX_LAYERS = 16
MAX_COSTS = 10_000_000   # cost values per layer (iterations over all epochs)
NET_FIELDS: dict[str, Any] = {"pool": int}  # DeconvNet.config() besides its layers
TRAIN_FIELDS = {"epochs": int, "batch_size": int, "limit": int | None, "seed": int,
                "data_dir": str | None}
# per image: pixels / scale, minus the mean, over max(std, min_std); "local" then applies local
# contrast normalisation with a Gaussian window and standardises again
NORMALIZATIONS = ("image", "local")


class DeconvCheckpoint:
    """A loaded checkpoint: the ``net`` (a ``DeconvNet`` with the saved filters), the validated
    ``meta`` and the ``path`` it came from."""

    def __init__(self, net: Any, meta: dict[str, Any], path: Path):
        self.net = net
        self.meta = meta
        self.path = path


def save_deconvnet(path: str | Path, net: Any, meta: dict[str, Any]) -> Path:
    """Write ``net``'s filters and config with ``meta`` (``image_shape``, ``dataset``,
    ``normalization``, ``costs``, ``epochs_done``, ``train``) to ``path`` atomically."""
    tensors = {f"layer{i}.filters": np.asarray(layer.filters)
               for i, layer in enumerate(net.layers)}
    meta = dict(meta, format=FORMAT, version=VERSION, kind=KIND, net=net.config())
    return save_file(tensors, path, {"striate": json.dumps(meta)})


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or a run folder holding :data:`FILE_NAME`."""
    path = Path(path)
    if path.is_dir():
        if not (path / FILE_NAME).is_file():
            raise UserError(f"{path}: run folder has no {FILE_NAME}")
        return path / FILE_NAME
    if not path.exists():
        raise UserError(f"{path}: no such deconvnet checkpoint or run folder")
    return path


def load_deconvnet(path: str | Path) -> DeconvCheckpoint:
    """Read, validate and rebuild what :func:`save_deconvnet` wrote (a file or its run folder)."""
    path = resolve(path)
    try:
        arrays, metadata = load_file(path)
        if "striate" not in metadata:
            raise UserError(f"{path}: not a striate checkpoint (no striate metadata)")
        meta = parse_json(metadata["striate"], f"{path}: striate metadata")
    except SafetensorsError as e:
        raise UserError(f"cannot read checkpoint: {e}") from None
    try:
        net = _check(meta, arrays)
    except UserError as e:
        raise UserError(f"{path}: bad deconvnet checkpoint: {e}") from None
    return DeconvCheckpoint(net, meta, path)


# --- the checks -----------------------------------------------------------------------------------


def _check(meta: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Every field of ``meta`` and every tensor; the rebuilt net."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise UserError(f"unknown checkpoint format {short_repr(found)}")
    if type(meta.get("version")) is not int or meta["version"] != VERSION:
        raise UserError(f"version {short_repr(meta.get('version'))}; this striate reads "
                        f"version {VERSION}")
    if meta.get("kind") != KIND:
        raise UserError(f"kind is {short_repr(meta.get('kind'))}, not {KIND!r} (a trained "
                        "classifier's checkpoint is read by evaluate and predict)")
    configs = _check_net(_field(meta, "net", dict))
    layers = len(configs)
    shape = _field(meta, "image_shape", list)
    if not (len(shape) == 3 and all(fits(n, int, "image_size") for n in shape)
            and shape[0] == configs[0]["in_channels"] and shape[1] == shape[2]):
        raise UserError(f"image_shape must be [C, H, H] with C = the first layer's in_channels "
                        f"{configs[0]['in_channels']} and H from 1 to 4096, got "
                        f"{short_repr(shape)}")
    _field(meta, "dataset", str)
    _check_normalization(_field(meta, "normalization", dict))
    costs = _field(meta, "costs", list)
    if len(costs) != layers or not all(
            isinstance(c, list) and len(c) <= MAX_COSTS
            and all(is_number(v) and math.isfinite(v) for v in c) for c in costs):
        raise UserError(f"costs must be {layers} lists (one per layer) of at most {MAX_COSTS} "
                        "finite numbers")
    done = _field(meta, "epochs_done", list)
    if len(done) != layers or not all(is_int(n) and 0 <= n <= MAX_EPOCHS for n in done):
        raise UserError(f"epochs_done must be {layers} integers from 0 to {MAX_EPOCHS}")
    _check_fields(_field(meta, "train", dict), TRAIN_FIELDS, "train")
    expected_keys = {f"layer{i}.filters" for i in range(layers)}
    if set(arrays) != expected_keys:
        raise UserError(f"tensors {short_repr(sorted(arrays))} are not the filters of "
                        f"{layers} layers ({', '.join(sorted(expected_keys))})")
    filters = [_check_filters(arrays[f"layer{i}.filters"], config, i)
               for i, config in enumerate(configs)]
    from . import DeconvNet

    try:
        return DeconvNet.from_config(meta["net"], filters)
    except (ValueError, TypeError) as e:
        raise UserError(f"net: {' '.join(str(e).split())[:300]}") from None


def _check_net(net: dict[str, Any]) -> list[dict[str, Any]]:
    """``DeconvNet.config()``: its own fields (:data:`NET_FIELDS`) and ``layers``, each layer's
    fields typed as ``DeconvLayer``'s parameters are annotated, within the bounds of
    ``json_bounds``; the layer configs."""
    configs = _field(net, "layers", list, "net.")
    if not 1 <= len(configs) <= MAX_LAYERS:
        raise UserError(f"net.layers must list 1 to {MAX_LAYERS} layers, got {len(configs)}")
    _check_fields({k: v for k, v in net.items() if k != "layers"}, NET_FIELDS, "net")
    for i, config in enumerate(configs):
        where = f"net.layers[{i}]"
        if not isinstance(config, dict):
            raise UserError(f"{where} must be a JSON object, got {short_repr(config)}")
        _check_fields(config, _layer_fields(), where)
        for key in ("in_channels", "num_maps", "kernel_size"):
            if key not in config or config[key] < 1:
                raise UserError(f"{where}.{key} must be a positive integer, got "
                                f"{short_repr(config.get(key))}")
        if i and config["in_channels"] != configs[i - 1]["num_maps"]:
            raise UserError(f"{where}.in_channels {config['in_channels']} is not the "
                            f"previous layer's num_maps {configs[i - 1]['num_maps']}")
        _check_connectivity(config.get("connectivity", "full"), config, where)
    return configs


def _layer_fields() -> dict[str, Any]:
    """``DeconvLayer``'s parameters and their annotations, a ``Sequence[X]`` read as the JSON
    list ``list[X]`` that ``config()`` writes."""
    from . import DeconvLayer

    fields = {}
    for name, param in inspect.signature(DeconvLayer, eval_str=True).parameters.items():
        annotation = param.annotation
        if typing.get_origin(annotation) is collections.abc.Sequence:
            annotation = list[typing.get_args(annotation)[0]]
        fields[name] = annotation
    return fields


def _check_fields(config: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    """Each key one of ``fields``, each value fitting its annotation (``json_bounds``)."""
    for key, value in config.items():
        if key not in fields:
            raise UserError(f"{where} has unknown field {short_repr(key)}")
        if not fits(value, fields[key], key):
            raise UserError(f"{where}.{key} must be {expected(fields[key], key)}, got "
                            f"{short_repr(value)}")


def _check_connectivity(table: Any, config: dict[str, Any], where: str) -> None:
    """A kind's name, or a (C, M) table of 0s and 1s as nested lists of integers."""
    if isinstance(table, str):
        if table not in KINDS:
            raise UserError(f"{where}.connectivity must be one of {', '.join(KINDS)} or a "
                            f"table, got {short_repr(table)}")
        return
    rows, cols = config["in_channels"], config["num_maps"]
    if not (isinstance(table, list) and len(table) == rows and all(
            isinstance(r, list) and len(r) == cols
            and all(type(v) is int and v in (0, 1) for v in r) for r in table)):
        raise UserError(f"{where}.connectivity must be a name or {rows} lists of {cols} "
                        "0s and 1s")


def _check_normalization(state: dict[str, Any]) -> None:
    if state.get("mode") not in NORMALIZATIONS:
        raise UserError(f"normalization.mode must be one of {', '.join(NORMALIZATIONS)}, got "
                        f"{short_repr(state.get('mode'))}")
    for key in ("scale", "min_std"):
        value = state.get(key)
        if not (is_number(value) and math.isfinite(value) and value > 0):
            raise UserError(f"normalization.{key} must be a positive finite number, got "
                            f"{short_repr(value)}")
    if state["mode"] == "local":
        window = state.get("window")
        if not (type(window) is int and window > 0 and window % 2 == 1):
            raise UserError("normalization.window must be a positive odd integer, got "
                            f"{short_repr(window)}")


def _check_filters(array: np.ndarray, config: dict[str, Any], index: int) -> np.ndarray:
    k = config["kernel_size"]
    shape = (config["in_channels"], config["num_maps"], k, k)
    if array.shape != shape:
        raise UserError(f"layer{index}.filters has shape {array.shape}, its config says {shape}")
    if array.dtype.kind != "f":
        raise UserError(f"layer{index}.filters holds {array.dtype}, not floats")
    if not np.isfinite(array).all():
        raise UserError(f"layer{index}.filters holds a value that is not finite")
    return array.astype(np.float64)
