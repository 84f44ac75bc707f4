"""Whether a JSON value fits a Python annotation, within bounds: how checkpoint metadata and
``--model-args`` are checked before anything is built from them.

The bounds are the constants below, in this one place: inclusive, looked up by the argument's or
field's name, else the defaults.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from typing import Any

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
    "accumulate": (1, 1_000_000),
    "batch_size": (1, 2**31 - 1),
    "limit": (1, 2**63 - 1),
}
DEFAULT_INT_BOUNDS = (0, 4096)        # any other int: widths, kernel sizes, padding, ...
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {
    "dropout": (0.0, 1.0), "input_dropout": (0.0, 1.0), "dropout_aux": (0.0, 1.0),
    "drop_rate": (0.0, 1.0), "compression": (1 / 64, 1.0), "width_mult": (1 / 64, 4.0),
    "lam": (0.0, 1e12), "beta_schedule": (0.0, 1e12), "cg_tol": (0.0, 1.0),  # deconvnet layers
    "label_smoothing": (0.0, 1.0), "clip_grad_norm": (0.0, 1e12),  # training configuration
    "mixup_alpha": (1e-3, 1e3), "cutmix_alpha": (1e-3, 1e3),
}
DEFAULT_FLOAT_BOUNDS = (-4096.0, 4096.0)  # any other float (always finite)
MAX_SEQUENCE = 64       # items of a list argument (per-stage widths, block sizes)
MAX_TEXT = 4096         # characters of a string argument or field (a dataset folder's path)


def union_members(annotation: Any) -> tuple[Any, ...] | None:
    """The alternatives of a union annotation, else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def from_json(annotation: Any) -> bool:
    """Whether some JSON value other than null fits ``annotation`` (not a generator or class)."""
    members = union_members(annotation)
    if members is not None:
        return any(from_json(m) for m in members if m is not type(None))
    origin = typing.get_origin(annotation) or annotation
    return annotation in (inspect.Parameter.empty, Any) or origin in (
        bool, int, float, str, list, tuple, dict, typing.Literal)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return is_int(value) or isinstance(value, float)


def fits(value: Any, annotation: Any, name: str) -> bool:
    """Whether the JSON ``value`` fits ``annotation``, with the bounds of the argument ``name``."""
    members = union_members(annotation)
    if members is not None:
        return any(fits(value, m, name) for m in members)
    if annotation in (inspect.Parameter.empty, Any):
        return True  # any JSON value; the nesting depth is bounded by the parser
    if annotation is type(None) or value is None:
        return annotation is type(None) and value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        low, high = INT_BOUNDS.get(name, DEFAULT_INT_BOUNDS)
        return is_int(value) and low <= value <= high
    if annotation is float:
        low, high = FLOAT_BOUNDS.get(name, DEFAULT_FLOAT_BOUNDS)
        return is_number(value) and math.isfinite(value) and low <= value <= high
    if annotation is str:
        return isinstance(value, str) and len(value) <= MAX_TEXT
    origin, items = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return any(type(value) is type(item) and value == item for item in items)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)) or len(value) > MAX_SEQUENCE:
            return False
        if origin is tuple and items and items[-1] is not Ellipsis:
            return len(value) == len(items) and all(map(fits, value, items, [name] * len(items)))
        return not items or all(fits(v, items[0], name) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return False


def expected(annotation: Any, name: str) -> str:
    """What :func:`fits` accepts, in words, for the message."""
    members = union_members(annotation)
    if members is not None:
        return " or ".join(expected(m, name) for m in members if from_json(m)
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
        return f"a list of at most {MAX_SEQUENCE} items, each {expected(items[0], name)}"
    if origin is dict or annotation is dict:
        return "a JSON object"
    return "a JSON value"
