"""Argument checks shared by the layers, so every bad input gets the same kind of message:
the layer's name, what it expected, and what it received."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any


def expect_rank(op: str, name: str, x: Any, ranks: int | Sequence[int], layout: str = "") -> None:
    """ValueError unless ``x.ndim`` is one of ``ranks`` (``layout`` like '(N, C, H, W)')."""
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if x.ndim not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{op}: expected {name} to be {want}{hint}, got shape {tuple(x.shape)}")


def expect_float(op: str, name: str, x: Any) -> None:
    """TypeError unless ``x`` holds floating-point numbers."""
    if x.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected {name} to be floating point, got {x.dtype}; convert with .float()")


def expect_channels(op: str, name: str, got: int, expected: int, shape: Any) -> None:
    if got != expected:
        raise ValueError(
            f"{op}: expected {name} with {expected} channels, got {got} (shape {tuple(shape)})")


def pair(op: str, name: str, value: Any, minimum: int = 0) -> tuple[int, int]:
    """An int or a 2-sequence of ints as (h, w), each at least ``minimum``."""
    if type(value) is int and value >= minimum:  # the usual cases first, without ABC checks
        return value, value
    if (type(value) is tuple and len(value) == 2 and type(value[0]) is int
            and type(value[1]) is int and min(value) >= minimum):
        return value

    def is_int(v: Any) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(map(is_int, value)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    value = (int(value[0]), int(value[1]))
    if min(value) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return value


def expect_class_labels(op: str, target: Any, num_classes: int,
                        ignore_index: int | None = None) -> None:
    """TypeError for non-integer labels, ValueError for labels outside [0, num_classes)."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: expected integer class labels, got {target.dtype}; convert with .long()")
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        raise ValueError(
            f"{op}: class labels must lie in [0, {num_classes}), got values from "
            f"{int(valid.min())} to {int(valid.max())}")
