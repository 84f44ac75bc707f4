"""Confusion matrix heatmap: rows are the true class, columns the predicted one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._figure import new_figure, save_png

_TWO_LINES_UP_TO = 12  # classes; cells show value and its complement (count or percentage)
_TEXT_UP_TO = 20  # classes; beyond this cell text would be unreadable


def plot_confusion(
    matrix: np.ndarray,
    classes: Sequence[object] | None,
    path: str | os.PathLike[str],
    normalize: bool = True,
) -> Path:
    """Draw a K×K confusion matrix as a PNG at ``path`` (written atomically); return the path.

    ``matrix[i, j]`` counts samples of true class i predicted as j; ``classes`` names the K
    classes (None: their indices). With ``normalize`` the colours are row fractions (recall per
    class; a class without samples shows 0) and the cells say the percentage over the count,
    otherwise the colours and cell text are counts. Up to 12 classes the cells carry both
    numbers, up to 20 only the coloured one, beyond that none. The title gives the accuracy
    (trace over total).
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"plot_confusion: expected a square (K, K) matrix, got {counts.shape}")
    counts = counts.astype(np.float64)
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("plot_confusion: the matrix must hold finite, non-negative counts")
    k = counts.shape[0]
    names = [str(i) for i in range(k)] if classes is None else [str(c) for c in classes]
    if len(names) != k:
        raise ValueError(f"plot_confusion: {len(names)} class names for a {k}×{k} matrix")

    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    shown = fractions if normalize else counts
    vmax = 1.0 if normalize else max(counts.max(), 1.0)

    fontsize = 9 if k <= 10 else 7 if k <= 20 else 6
    long_names = max(len(n) for n in names) > 3
    # Room for the tick labels, estimated from the longest name (0.55 em per character).
    label_in = 0.55 * fontsize / 72 * max(len(n) for n in names)
    left, bottom = 0.4 + label_in, 0.45 + (0.72 * label_in if long_names else fontsize / 72)
    side = float(np.clip((0.42 if k <= _TEXT_UP_TO else 0.28) * k, 2.5, 10.0))
    width, height = left + side + 1.3, bottom + side + 0.4
    fig = new_figure(width, height)
    ax = fig.add_axes((left / width, bottom / height, side / width, side / height))
    cax = fig.add_axes(((left + side + 0.2) / width, bottom / height, 0.16 / width,
                        side / height))
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("fraction of true class" if normalize else "count")

    ax.set_xticks(range(k), names, fontsize=fontsize, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center", rotation_mode="anchor")
    ax.set_yticks(range(k), names, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = counts.sum()
    accuracy = f"accuracy {100 * np.trace(counts) / total:.2f}%" if total > 0 else "no samples"
    ax.set_title(f"confusion matrix: {accuracy} ({total:g} samples)", fontsize=11)

    if k <= _TEXT_UP_TO:
        _cell_text(ax, counts, fractions, normalize, shown > 0.55 * vmax, k <= _TWO_LINES_UP_TO,
                   fontsize - 1)
    return save_png(fig, path)


def _cell_text(ax, counts: np.ndarray, fractions: np.ndarray, normalize: bool,
               dark: np.ndarray, both: bool, fontsize: int) -> None:
    """Write each cell's number (and its complement when ``both``), white on dark cells.

    Empty cells just say a light "0", which keeps the few interesting cells easy to find.
    """
    k = counts.shape[0]
    for i in range(k):
        for j in range(k):
            if counts[i, j] == 0:
                ax.text(j, i, "0", ha="center", va="center", fontsize=fontsize, color="0.6")
                continue
            pct, cnt = _percent(fractions[i, j]), _count(counts[i, j])
            main, extra = (pct, cnt) if normalize else (cnt, pct)
            text = f"{main}\n({extra})" if both else main
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, linespacing=1.1,
                    color="white" if dark[i, j] else "black")


def _percent(fraction: float) -> str:
    pct = 100.0 * fraction
    return f"{pct:.1f}%" if 0 < pct < 0.95 else f"{pct:.0f}%"


def _count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"
