"""The checks a checkpoint's metadata passes before anything is built from it.

A checkpoint may come from anywhere, and the numbers in its metadata size things: the model
(``num_classes``, ``in_channels``, ``input_size`` and the builder's other arguments), the images
``predict`` resizes, the normaliser's statistics.  :func:`validate_meta` checks every field that
``evaluate``, ``predict`` and ``--resume`` read -- type, range, and agreement with the other
fields -- so that a hostile or corrupt file ends in one :class:`UserError` naming the file, not in
a traceback, a hang or gigabytes of memory.  :func:`check_model_args` is its model part, also used
for ``--model-args``: argument names are those the registry builder takes (following its
``**kwargs`` into the constructor it passes them to), values are checked against their
annotations.

The bounds are the constants below, in this one place: inclusive, looked up by the argument's or
field's name, else the defaults.  Within them a model can still be large (VGG with 100,000
classes); ``restore.model_from_checkpoint`` also refuses to build more than the file's weights.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..interop.safetensors import short_repr

INT_BOUNDS: dict[str, tuple[int, int]] = {
    "num_classes": (1, 100_000),
    "in_channels": (1, 4096),
    "input_size": (1, 4096),          # also the largest image predict resizes to
    "image_size": (1, 4096),
    "depth": (1, 1000),
    "seed": (0, 2**63 - 1),
    "epochs": (1, 1_000_000),
    "patience": (1, 1_000_000),
    "schedule_start": (0, 1_000_000),
    "batch_size": (1, 2**31 - 1),
    "limit": (1, 2**63 - 1),
}
DEFAULT_INT_BOUNDS = (0, 4096)        # any other int: widths, kernel sizes, padding, ...
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {
    "dropout": (0.0, 1.0), "input_dropout": (0.0, 1.0), "dropout_aux": (0.0, 1.0),
    "drop_rate": (0.0, 1.0), "compression": (1 / 64, 1.0), "width_mult": (1 / 64, 4.0),
}
DEFAULT_FLOAT_BOUNDS = (-4096.0, 4096.0)  # any other float (always finite)
MAX_SEQUENCE = 64       # items of a list argument (per-stage widths, block sizes)
MAX_TEXT = 4096         # characters of a string argument or field (a dataset folder's path)
MAX_CLASS_NAME = 256    # characters of a class name (evaluate pads its table to the longest)
MAX_EPOCHS = 1_000_000  # epoch counters and rows of history
NORMALIZER_DTYPES = ("float32", "float64")
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
MODEL_SIZE_ARGS = ("num_classes", "in_channels", "input_size")  # set by the data, not args


def validate_meta(meta: Any, path: str | Path) -> None:
    """Refuse metadata that ``evaluate``, ``predict`` or ``--resume`` could not use safely.

    Required: ``model`` (name, num_classes, in_channels, input_size, args), ``image_shape``,
    ``classes``, ``normalizer``; checked when present: ``dataset``, ``config``, ``epoch``,
    ``stale_epochs``, ``best_accuracy``, ``history``, ``loader_rng``, ``global_rng``,
    ``scheduler``, ``optimizer_state``.  Fields this version does not read are left alone.
    """
    try:
        _check_meta(meta)
    except UserError as e:
        raise UserError(f"{path}: bad checkpoint metadata: {e}") from None


def check_model_args(name: Any, args: Mapping[str, Any], *, where: str) -> None:
    """Refuse an unknown model, or an argument its builder does not take or of the wrong type or
    range (see the bounds above).  ``where`` starts the message (``"--model-args"``).

    ``args`` may include ``num_classes``, ``in_channels`` and ``input_size``.  The builder may
    still refuse a combination (``densenet_bc`` depth 6n + 4) with a ValueError of its own.
    """
    from .. import models

    if not isinstance(name, str) or name not in models.list_models():
        raise UserError(f"unknown model {short_repr(name)}; choose from "
                        f"{', '.join(models.list_models())}")
    if not isinstance(args, Mapping):
        raise UserError(f"{where} must be a JSON object of {name}'s arguments, got "
                        f"{short_repr(args)}")
    params = _builder_parameters(name)
    settable = sorted(key for key, p in params.items() if _from_json(p.annotation))
    for key, value in args.items():
        if key not in params:
            raise UserError(f"{where}: {name} takes no argument {short_repr(key)}; it takes "
                            f"{', '.join(settable)}")
        if key not in settable:
            raise UserError(f"{where}: {name}'s argument {key} cannot be given as JSON")
        annotation = params[key].annotation
        if not _fits(value, annotation, key):
            raise UserError(f"{where}: {key} must be {_expected(annotation, key)}, got "
                            f"{short_repr(value)}")


# --- the model's arguments -----------------------------------------------------------------------


@functools.cache
def _builder_parameters(name: str) -> dict[str, inspect.Parameter]:
    from .. import models

    return _keyword_parameters(getattr(models, name))


def _keyword_parameters(func: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword arguments ``func`` takes: its named parameters and, when it has ``**kwargs``,
    those of the function or class it passes them on to, less the ones it passes itself.
    ``**kwargs`` that cannot be followed (no source, an unusual call) add nothing."""
    signature = inspect.signature(func, eval_str=True)
    params = {n: p for n, p in signature.parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    rest = next((n for n, p in signature.parameters.items() if p.kind is p.VAR_KEYWORD), None)
    forwarded = _forwarding_call(func, rest) if rest else None
    if forwarded is not None:
        callee, positional, named = forwarded
        order = list(inspect.signature(callee).parameters)
        taken = set(order[:positional]) | named
        for key, p in _keyword_parameters(callee).items():
            if key not in taken:
                params.setdefault(key, p)
    return params


def _forwarding_call(func: Callable[..., Any], rest: str
                     ) -> tuple[Callable[..., Any], int, set[str]] | None:
    """(callee, number of positional arguments, keyword names) of the call in ``func``'s source
    that passes ``**rest`` on, or None."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(
                k.arg is None and isinstance(k.value, ast.Name) and k.value.id == rest
                for k in node.keywords):
            names = vars(inspect.getmodule(func) or ast)
            callee = names.get(node.func.id) if isinstance(node.func, ast.Name) else None
            if callee is None or any(isinstance(a, ast.Starred) for a in node.args):
                return None
            return callee, len(node.args), {k.arg for k in node.keywords if k.arg}
    return None


def _members(annotation: Any) -> tuple[Any, ...] | None:
    """The alternatives of a union annotation, else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def _from_json(annotation: Any) -> bool:
    """Whether some JSON value other than null fits ``annotation`` (not a generator or class)."""
    members = _members(annotation)
    if members is not None:
        return any(_from_json(m) for m in members if m is not type(None))
    origin = typing.get_origin(annotation) or annotation
    return annotation in (inspect.Parameter.empty, Any) or origin in (
        bool, int, float, str, list, tuple, dict, typing.Literal)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _fits(value: Any, annotation: Any, name: str) -> bool:
    """Whether the JSON ``value`` fits ``annotation``, with the bounds of the argument ``name``."""
    members = _members(annotation)
    if members is not None:
        return any(_fits(value, m, name) for m in members)
    if annotation in (inspect.Parameter.empty, Any):
        return True  # any JSON value; the nesting depth is bounded by the parser
    if annotation is type(None) or value is None:
        return annotation is type(None) and value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        low, high = INT_BOUNDS.get(name, DEFAULT_INT_BOUNDS)
        return _is_int(value) and low <= value <= high
    if annotation is float:
        low, high = FLOAT_BOUNDS.get(name, DEFAULT_FLOAT_BOUNDS)
        return _is_number(value) and math.isfinite(value) and low <= value <= high
    if annotation is str:
        return isinstance(value, str) and len(value) <= MAX_TEXT
    origin, items = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return any(type(value) is type(item) and value == item for item in items)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)) or len(value) > MAX_SEQUENCE:
            return False
        if origin is tuple and items and items[-1] is not Ellipsis:
            return len(value) == len(items) and all(map(_fits, value, items, [name] * len(items)))
        return not items or all(_fits(v, items[0], name) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return False


def _expected(annotation: Any, name: str) -> str:
    """What :func:`_fits` accepts, in words, for the message."""
    members = _members(annotation)
    if members is not None:
        return " or ".join(_expected(m, name) for m in members if _from_json(m)
                           or m is type(None))
    if annotation is type(None):
        return "null"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer from {} to {}".format(*INT_BOUNDS.get(name, DEFAULT_INT_BOUNDS))
    if annotation is float:
        return "a finite number from {:g} to {:g}".format(
            *FLOAT_BOUNDS.get(name, DEFAULT_FLOAT_BOUNDS))
    if annotation is str:
        return f"a string of at most {MAX_TEXT} characters"
    origin, items = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, items))
    if origin in (list, tuple) and items:
        return f"a list of at most {MAX_SEQUENCE} items, each {_expected(items[0], name)}"
    if origin is dict or annotation is dict:
        return "a JSON object"
    return "a JSON value"


# --- the metadata ---------------------------------------------------------------------------------


def _check_meta(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise UserError("it is not a JSON object")
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
        if not (_is_number(value) and math.isfinite(value)):
            raise UserError(f"best_accuracy must be a finite number, got {short_repr(value)}")
    if "history" in meta:
        _check_history(_field(meta, "history", list))
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
    if not (_is_int(value) and low <= value <= high):
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
        if not (_is_number(value) and math.isfinite(value) and value > 0):
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
    if not all(_is_number(x) for r in rows for x in r):
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
    from .config import TrainConfig

    fields = typing.get_type_hints(TrainConfig)
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise UserError(f"config has unknown fields {short_repr(unknown)}")
    for key, value in config.items():
        if not _fits(value, fields[key], key):
            raise UserError(f"config.{key} must be {_expected(fields[key], key)}, got "
                            f"{short_repr(value)}")
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


def _check_scheduler(state: dict[str, Any]) -> None:
    """A schedule's attributes (``load_state_dict`` updates ``__dict__`` with them): none may
    hide a method of a schedule class."""
    from ..optim import lr_scheduler

    classes = [c for c in vars(lr_scheduler).values()
               if isinstance(c, type) and issubclass(c, lr_scheduler.LRScheduler)]
    clash = sorted(k for k in state if any(callable(getattr(c, k, None)) for c in classes))
    if clash:
        raise UserError(f"scheduler state would replace the methods {short_repr(clash)}")


def _is_array_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"__array__"}


def _check_optimizer_state(state: dict[str, Any]) -> None:
    """``{"state": {index: {name: number or array}}, "param_groups": [{..., "params": [...]}]}``
    with arrays as ``{"__array__": tensor name}`` (``load_checkpoint`` checks the names)."""
    groups = _field(state, "param_groups", list, "optimizer_state.")
    for group in groups:
        params = group.get("params") if isinstance(group, dict) else None
        if not (isinstance(params, list) and all(_is_int(i) and i >= 0 for i in params)):
            raise UserError("optimizer_state.param_groups must be JSON objects with a list of "
                            "parameter indices under params")
        for key, value in group.items():
            items = value if isinstance(value, list) else [value]
            if key != "params" and any(isinstance(v, (dict, list)) for v in items):
                raise UserError(f"optimizer_state.param_groups' {short_repr(key)} must be a "
                                "number, string, boolean or list of them")
    for index, entries in _field(state, "state", dict, "optimizer_state.").items():
        if not index.isdigit() or not isinstance(entries, dict) or not all(
                v is None or _is_number(v) or _is_array_ref(v) for v in entries.values()):
            raise UserError(f"optimizer_state.state[{short_repr(index)}] must map names to "
                            "numbers or arrays, under a parameter index")
