"""The checks a checkpoint's metadata passes before anything is built from it.

A checkpoint may come from anywhere, and the numbers in its metadata size things: the model
(``num_classes``, ``in_channels``, ``input_size`` and the builder's other arguments), the images
``predict`` resizes, the normaliser's statistics.  :func:`validate_meta` checks every field that
``evaluate``, ``predict`` and ``--resume`` read -- type, range, and agreement with the other
fields -- so that a hostile or corrupt file ends in one :class:`UserError` naming the file, not in
a traceback, a hang or gigabytes of memory.  The model's arguments are checked by
``model_args.check_model_args``, every value within the bounds of ``json_bounds``.  Within them a
model can still be large (VGG with 100,000 classes); ``restore.model_from_checkpoint`` also
refuses to build more than the file's weights.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..interop.safetensors import short_repr
from .json_bounds import (
    DEFAULT_INT_BOUNDS,
    INT_BOUNDS,
    MAX_SEQUENCE,
    MAX_TEXT,
    expected,
    fits,
    is_int,
    is_number,
)
from .model_args import MODEL_SIZE_ARGS, check_model_args

MAX_CLASS_NAME = 256    # characters of a class name (evaluate pads its table to the longest)
MAX_EPOCHS = 1_000_000  # epoch counters and rows of history
NORMALIZER_DTYPES = ("float32", "float64")
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def validate_meta(meta: Any, path: str | Path) -> None:
    """Refuse metadata that ``evaluate``, ``predict`` or ``--resume`` could not use safely.

    Required: ``model`` (name, num_classes, in_channels, input_size, args), ``image_shape``,
    ``classes``, ``normalizer``; checked when present: ``dataset``, ``config``, ``epoch``,
    ``stale_epochs``, ``best_accuracy``, ``history``, ``lr_steps``, ``loader_rng``, ``global_rng``,
    ``scheduler``, ``optimizer_state``.  Fields this version does not read are left alone.
    """
    try:
        _check_meta(meta)
    except UserError as e:
        raise UserError(f"{path}: bad checkpoint metadata: {e}") from None


# --- the metadata ---------------------------------------------------------------------------------


def _check_meta(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise UserError("it is not a JSON object")
    if meta.get("kind") == "deconvnet":
        raise UserError("it holds a Deconvolutional Network, not a classifier; use "
                        "`striate deconvnet infer` or `striate deconvnet show`")
    model = _field(meta, "model", dict)
    sizes = {key: _int_field(model, key, "model.") for key in MODEL_SIZE_ARGS}
    args = model.get("args", {})
    if not isinstance(args, dict):
        raise UserError(f"model.args must be a JSON object, got {short_repr(args)}")
    repeated = sorted(set(args) & set(MODEL_SIZE_ARGS))
    if repeated:
        raise UserError(f"model.args repeats {', '.join(repeated)}")
    check_model_args(model.get("name"), {**args, **sizes}, where="model.args")
    channels, size = sizes["in_channels"], sizes["input_size"]
    image_shape = [channels, size, size]
    if _field(meta, "image_shape", list) != image_shape:
        raise UserError(f"image_shape {short_repr(meta['image_shape'])} does not match the "
                        f"model's in_channels and input_size {image_shape}")
    _check_classes(_field(meta, "classes", list), sizes["num_classes"])
    _check_normalizer(_field(meta, "normalizer", dict), tuple(image_shape))
    if "dataset" in meta:
        _field(meta, "dataset", str)
    if "config" in meta:
        _check_config(_field(meta, "config", dict), model["name"], args, sizes)
    for key in ("epoch", "stale_epochs"):
        if key in meta:
            _int_field(meta, key, "", (0, MAX_EPOCHS))
    if "best_accuracy" in meta:
        value = meta["best_accuracy"]
        if not (is_number(value) and math.isfinite(value)):
            raise UserError(f"best_accuracy must be a finite number, got {short_repr(value)}")
    if "history" in meta:
        _check_history(_field(meta, "history", list))
    if "lr_steps" in meta and not all(
            is_number(v) and math.isfinite(v) for v in _field(meta, "lr_steps", list)):
        raise UserError("lr_steps must be a list of finite numbers, one per optimiser step")
    if "loader_rng" in meta:
        rng = _field(meta, "loader_rng", dict)
        _check_bit_generator(_field(rng, "generator", dict, "loader_rng."), "loader_rng.generator")
        _int_field(rng, "batches_done", "loader_rng.", (0, 2**63 - 1))
    if "global_rng" in meta:
        _check_bit_generator(_field(meta, "global_rng", dict), "global_rng")
    if meta.get("scheduler") is not None:
        _check_scheduler(_field(meta, "scheduler", dict))
    if meta.get("optimizer_state") is not None:
        _check_optimizer_state(_field(meta, "optimizer_state", dict))


_KINDS = {dict: "a JSON object", list: "a list", str: "a string"}


def _field(container: dict[str, Any], key: str, kind: type, prefix: str = "") -> Any:
    """``container[key]``, which must exist and be of ``kind``."""
    if key not in container:
        raise UserError(f"{prefix}{key} is missing")
    value = container[key]
    if not isinstance(value, kind) or (kind is str and len(value) > MAX_TEXT):
        raise UserError(f"{prefix}{key} must be {_KINDS[kind]}, got {short_repr(value)}")
    return value


def _int_field(container: dict[str, Any], key: str, prefix: str,
               bounds: tuple[int, int] | None = None) -> int:
    if key not in container:
        raise UserError(f"{prefix}{key} is missing")
    low, high = bounds or INT_BOUNDS.get(key, DEFAULT_INT_BOUNDS)
    value = container[key]
    if not (is_int(value) and low <= value <= high):
        raise UserError(f"{prefix}{key} must be an integer from {low} to {high}, got "
                        f"{short_repr(value)}")
    return value


def _check_classes(classes: list[Any], num_classes: int) -> None:
    if len(classes) != num_classes:
        raise UserError(f"classes lists {len(classes)} names for {num_classes} classes")
    for name in classes:
        if not (isinstance(name, str) and len(name) <= MAX_CLASS_NAME and name.isprintable()):
            raise UserError(f"class name {short_repr(name)} is not a printable string of at "
                            f"most {MAX_CLASS_NAME} characters")


def _check_normalizer(state: dict[str, Any], image_shape: tuple[int, int, int]) -> None:
    """What ``Normalizer.from_state_dict`` reads: statistics of the image's shape (per channel,
    or per pixel), finite, σ >= 0 and a positive finite ``min_std`` (it divides by max(σ,
    min_std), so a σ of 0 -- a pixel constant over the training set -- is legitimate)."""
    from ..data.normalize import MODES

    mode = state.get("mode")
    if mode not in MODES:
        raise UserError(f"normalizer.mode must be one of {', '.join(MODES)}, got "
                        f"{short_repr(mode)}")
    if not isinstance(state.get("standardize"), bool):
        raise UserError("normalizer.standardize must be true or false")
    for key in ("scale", "min_std"):
        value = state.get(key, 1e-3) if key == "min_std" else state.get(key)
        if not (is_number(value) and math.isfinite(value) and value > 0):
            raise UserError(f"normalizer.{key} must be a positive finite number, got "
                            f"{short_repr(value)}")
    if state.get("dtype", "float32") not in NORMALIZER_DTYPES:
        raise UserError(f"normalizer.dtype must be one of {', '.join(NORMALIZER_DTYPES)}, got "
                        f"{short_repr(state['dtype'])}")
    if "count" in state:
        _int_field(state, "count", "normalizer.", (0, 2**63 - 1))
    shape = image_shape if mode == "pixel" else image_shape[:1]
    _numbers(_field(state, "mean", list, "normalizer."), shape, "normalizer.mean")
    if (_numbers(_field(state, "std", list, "normalizer."), shape, "normalizer.std") < 0).any():
        raise UserError("normalizer.std has a negative value")


def _numbers(value: list[Any], shape: tuple[int, ...], where: str) -> np.ndarray:
    """Nested lists of finite numbers of exactly ``shape``, as float64 (checked level by level,
    so that no ragged or mistyped list reaches NumPy, which would take strings for numbers)."""
    rows = [value]
    for depth, n in enumerate(shape):
        if not all(isinstance(r, list) and len(r) == n for r in rows):
            raise UserError(f"{where} must be nested lists of shape {list(shape)} (per "
                            f"{'pixel' if len(shape) > 1 else 'channel'})")
        if depth + 1 < len(shape):
            rows = [item for r in rows for item in r]
    if not all(is_number(x) for r in rows for x in r):
        raise UserError(f"{where} must hold numbers only")
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:
        array = np.array([np.inf])
    if not np.isfinite(array).all():
        raise UserError(f"{where} holds a number that is not finite")
    return array


def _check_config(config: dict[str, Any], model: str, args: dict[str, Any],
                  sizes: dict[str, int]) -> None:
    """The run configuration (``TrainConfig`` fields, typed as annotated) of this same model."""
    from .config import TrainConfig, augment_names

    fields = typing.get_type_hints(TrainConfig)
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise UserError(f"config has unknown fields {short_repr(unknown)}")
    for key, value in config.items():
        if not fits(value, fields[key], key):
            raise UserError(f"config.{key} must be {expected(fields[key], key)}, got "
                            f"{short_repr(value)}")
    if "augment" in config:
        augment_names(config["augment"], where="config.augment")
    if config.get("model", model) != model or config.get("model_args", args) != args:
        raise UserError("config.model and config.model_args differ from model.name and "
                        "model.args")
    for key, size in (("image_size", "input_size"), ("channels", "in_channels")):
        if config.get(key) not in (None, sizes[size]):
            raise UserError(f"config.{key} {config[key]} differs from model.{size} "
                            f"{sizes[size]}")


def _check_history(history: list[Any]) -> None:
    if len(history) > MAX_EPOCHS:
        raise UserError(f"history has more than {MAX_EPOCHS} rows")
    for row in history:
        if not isinstance(row, dict) or any(isinstance(v, (dict, list)) for v in row.values()):
            raise UserError("history must be a list of JSON objects of numbers, one per epoch")


def _check_bit_generator(state: dict[str, Any], where: str) -> None:
    """A NumPy bit generator's state, checked by giving it to a fresh one of its kind."""
    kind = state.get("bit_generator")
    if kind not in BIT_GENERATORS:
        raise UserError(f"{where} is for bit generator {short_repr(kind)}; known: "
                        f"{', '.join(BIT_GENERATORS)}")
    try:
        getattr(np.random, kind)(0).state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise UserError(f"{where} is not a valid {kind} state ({short_repr(str(e), 80)})"
                        ) from None


def _number(value: Any) -> bool:
    """A JSON number, ±Infinity allowed (ReduceLROnPlateau's best before its first epoch)."""
    return is_number(value) and not math.isnan(value)


def _number_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= MAX_SEQUENCE and all(map(_number, value))


#: What the scheduler attributes that decide a rate must hold, whichever schedule holds them.
_SCHEDULER_FIELDS: dict[str, tuple[Any, str]] = {
    "last_epoch": (lambda v: is_int(v) and -1 <= v <= 2**63 - 1, "an integer >= -1"),
    "_step_count": (lambda v: is_int(v) and 0 <= v <= 2**63 - 1, "an integer >= 0"),
    "patience": (lambda v: is_int(v) and 0 <= v <= MAX_EPOCHS, "an integer >= 0"),
    "cooldown": (lambda v: is_int(v) and 0 <= v <= MAX_EPOCHS, "an integer >= 0"),
    "cooldown_counter": (lambda v: is_int(v) and 0 <= v <= MAX_EPOCHS, "an integer >= 0"),
    "num_bad_epochs": (lambda v: is_int(v) and 0 <= v <= MAX_EPOCHS, "an integer >= 0"),
    "factor": (lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "threshold": (lambda v: is_number(v) and math.isfinite(v), "a finite number"),
    "eps": (lambda v: is_number(v) and math.isfinite(v), "a finite number"),
    "best": (_number, "a number"),
    "mode_worse": (_number, "a number"),
    "mode": (lambda v: v in ("min", "max"), "'min' or 'max'"),
    "threshold_mode": (lambda v: v in ("rel", "abs"), "'rel' or 'abs'"),
    "default_min_lr": (lambda v: v is None or _number(v), "a number or null"),
    "min_lrs": (_number_list, "a list of numbers"),
    "base_lrs": (_number_list, "a list of numbers"),
    "_last_lr": (_number_list, "a list of numbers"),
}


def _check_scheduler(state: dict[str, Any]) -> None:
    """A schedule's attributes (``load_state_dict`` updates ``__dict__`` with them): none may
    hide a method of a schedule class, and those of ``_SCHEDULER_FIELDS`` must hold what they
    say (a string for ReduceLROnPlateau's best would fail its first comparison)."""
    from ..optim import lr_scheduler

    classes = [c for c in vars(lr_scheduler).values()
               if isinstance(c, type) and issubclass(c, lr_scheduler.LRScheduler)]
    clash = sorted(k for k in state if any(callable(getattr(c, k, None)) for c in classes))
    if clash:
        raise UserError(f"scheduler state would replace the methods {short_repr(clash)}")
    for key, (valid, what) in _SCHEDULER_FIELDS.items():
        if key in state and not valid(state[key]):
            raise UserError(f"scheduler.{key} must be {what}, got {short_repr(state[key])}")


def _is_array_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"__array__"}


def _check_optimizer_state(state: dict[str, Any]) -> None:
    """``{"state": {index: {name: number or array}}, "param_groups": [{..., "params": [...]}]}``
    with arrays as ``{"__array__": tensor name}`` (``load_checkpoint`` checks the names)."""
    groups = _field(state, "param_groups", list, "optimizer_state.")
    for group in groups:
        params = group.get("params") if isinstance(group, dict) else None
        if not (isinstance(params, list) and all(is_int(i) and i >= 0 for i in params)):
            raise UserError("optimizer_state.param_groups must be JSON objects with a list of "
                            "parameter indices under params")
        for key, value in group.items():
            items = value if isinstance(value, list) else [value]
            if key != "params" and any(isinstance(v, (dict, list)) for v in items):
                raise UserError(f"optimizer_state.param_groups' {short_repr(key)} must be a "
                                "number, string, boolean or list of them")
    for index, entries in _field(state, "state", dict, "optimizer_state.").items():
        if not index.isdigit() or not isinstance(entries, dict) or not all(
                v is None or is_number(v) or _is_array_ref(v) for v in entries.values()):
            raise UserError(f"optimizer_state.state[{short_repr(index)}] must map names to "
                            "numbers or arrays, under a parameter index")
