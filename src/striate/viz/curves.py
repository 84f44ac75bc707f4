"""Training curves: loss and accuracy per epoch, train against validation, and the learning rate."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from ._figure import new_figure, save_png, set_margins

_TRAIN, _VAL = "C0", "C1"
_MARKERS_UP_TO = 30  # epochs; beyond this markers only clutter the lines


def plot_curves(history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str],
                lr_steps: Sequence[float] | None = None, steps_per_epoch: int | None = None
                ) -> Path:
    """Plot a training history to a PNG at ``path`` (written atomically); return the path.

    ``history`` has one dict per epoch with keys ``epoch``, ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` (accuracies in [0, 1], drawn as percentages) and optionally ``lr``.
    Every key is optional: a value that is missing or None leaves a gap, a key missing from every
    epoch leaves its line out, a missing ``epoch`` counts from 1. Panels: loss, accuracy (best
    validation accuracy marked) and, when any ``lr`` is given, the learning rate (log scale when
    it spans a factor of 10 or more).  ``lr_steps``, the rate of every optimiser step, with
    ``steps_per_epoch``, draws that panel step by step instead of as a per-epoch staircase (a
    one-cycle schedule changes the rate at every step).
    """
    if isinstance(history, Mapping) or not isinstance(history, Sequence) or not history:
        raise ValueError("plot_curves: history must be a non-empty list of per-epoch dicts")
    if not all(isinstance(row, Mapping) for row in history):
        raise TypeError("plot_curves: every history entry must be a dict")

    epochs = np.array([_number(row.get("epoch"), i + 1) for i, row in enumerate(history)])
    col = {key: _column(history, key)
           for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr")}
    marker = "o" if len(history) <= _MARKERS_UP_TO else None
    if lr_steps is not None and len(lr_steps) and steps_per_epoch:
        col["lr"] = np.asarray(lr_steps, dtype=np.float64)
        lr_x = np.arange(1, len(col["lr"]) + 1) / steps_per_epoch
        lr_style: dict[str, Any] = {"linewidth": 1.5}
    else:
        lr_x, lr_style = epochs, {"marker": marker, "markersize": 3, "drawstyle": "steps-post"}
    panels = 3 if col["lr"] is not None else 2

    fig = new_figure(4.0 * panels, 3.3)
    axes = fig.subplots(1, panels, squeeze=True)
    set_margins(fig, left=0.65, right=0.15, bottom=0.5, top=0.35, wspace=0.75, panels=panels)
    ax_loss, ax_acc = axes[0], axes[1]

    _series(ax_loss, epochs, col["train_loss"], "train", _TRAIN, marker)
    _series(ax_loss, epochs, col["val_loss"], "val", _VAL, marker)
    _finish(ax_loss, "loss", "loss", "upper right")

    pct = {k: None if col[k] is None else 100.0 * col[k] for k in ("train_acc", "val_acc")}
    _series(ax_acc, epochs, pct["train_acc"], "train", _TRAIN, marker)
    _series(ax_acc, epochs, pct["val_acc"], "val", _VAL, marker)
    _mark_best(ax_acc, epochs, pct["val_acc"])
    _finish(ax_acc, "accuracy", "accuracy (%)", "lower right")

    if col["lr"] is not None:
        ax_lr = axes[2]
        lr = col["lr"]
        ax_lr.plot(lr_x, lr, color="C2", **lr_style)
        finite = lr[np.isfinite(lr)]
        if finite.size and finite.min() > 0 and finite.max() >= 10 * finite.min():
            ax_lr.set_yscale("log")
        _finish(ax_lr, "learning rate", "lr", None)
    return save_png(fig, path)


def _number(value: Any, default: float) -> float:
    return default if value is None else float(value)


def _column(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray | None:
    """The values of ``key`` per epoch, NaN where missing; None when no epoch has it."""
    values = [row.get(key) for row in history]
    if all(v is None for v in values):
        return None
    return np.array([_number(v, np.nan) for v in values])


def _series(ax: Axes, x: np.ndarray, y: np.ndarray | None, label: str, color: str,
            marker: str | None) -> None:
    if y is not None:
        ax.plot(x, y, label=label, color=color, marker=marker, markersize=3, linewidth=1.5)


def _mark_best(ax: Axes, epochs: np.ndarray, val_pct: np.ndarray | None) -> None:
    """Star the best validation accuracy and say its value and epoch."""
    if val_pct is None or not np.isfinite(val_pct).any():
        return
    i = int(np.nanargmax(val_pct))
    ax.plot(epochs[i], val_pct[i], marker="*", markersize=11, color=_VAL, linestyle="none",
            label=f"best val {val_pct[i]:.2f}% (epoch {epochs[i]:g})")


def _finish(ax: Axes, title: str, ylabel: str, legend_loc: str | None) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if not ax.lines:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                color="0.5")
    elif legend_loc is not None:
        ax.legend(loc=legend_loc, fontsize=8, frameon=False)
