"""Image grids: first-layer filters, feature maps per layer, and misclassified examples.

Each grid is drawn as a single mosaic image (see ``_display``) in a figure sized so that one
mosaic pixel is square and every tile gets a fixed physical size, whatever the image resolution.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ._display import SEPARATOR, as_batch, grid_columns, mosaic, show, to_display
from ._figure import new_figure, save_png

_MARGIN = 0.08  # inches around a mosaic
_TITLE = 0.35  # inches of figure title strip
_COLORBAR = 1.0  # inches right of a mosaic for its colour bar and labels


def plot_filters(weight: np.ndarray, path: str | os.PathLike[str], max_filters: int = 256) -> Path:
    """Draw first-layer conv filters (out, in, kh, kw) as a grid of tiles; return the PNG path.

    All tiles share one scale, shown by a colour bar: weight −m is black, 0 mid-grey and +m white,
    with m the largest |weight| drawn, so filters can be compared with each other and the sign of
    each weight read off.  With 3 input channels a filter is an RGB tile (each channel on that
    scale); otherwise it is the mean over its input channels (for in=1, the filter itself).
    Non-finite weights show as 0.  At most ``max_filters`` are drawn.
    """
    w = np.asarray(weight)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"plot_filters: expected weight of shape (out, in, kh, kw), got {w.shape}")
    _check_positive("plot_filters", "max_filters", max_filters)
    out, cin, kh, kw = w.shape
    n = min(out, max_filters)
    x = as_batch(w[:n], "plot_filters")
    x = np.moveaxis(x, 1, -1) if cin == 3 else x.mean(axis=1)
    m = float(np.abs(x).max()) or 1.0
    tiles = 0.5 + x / (2 * m)
    cols = grid_columns(n, 16)
    tile_in = float(np.clip(10.0 / cols, 0.6, 1.6))
    pad = max(1, round(0.1 * kw))
    how = "RGB" if cin == 3 else "gray" if cin == 1 else f"mean over {cin} input channels"
    shown = f", first {n}" if n < out else ""
    title = f"filters {out}×{cin}×{kh}×{kw} ({how}{shown})"
    grid = mosaic(tiles, cols, pad=pad)
    fig, ax = _mosaic_figure(grid, tile_in / kw, title, min_width=3.2, right=_COLORBAR)
    show(ax, grid, background=SEPARATOR)
    _colorbar(fig, ax, m, "weight" if cin != 3 else "weight (each of R, G, B)")
    return save_png(fig, path)


def _colorbar(fig: Figure, ax: Axes, m: float, label: str) -> None:
    """A grey colour bar from −m to +m beside ``ax``, in the room ``_COLORBAR`` left for it."""
    x0, y0, width, height = ax.get_position().bounds
    fig_w = fig.get_size_inches()[0]
    bar = fig.add_axes((x0 + width + 0.15 / fig_w, y0, 0.14 / fig_w, height))
    fig.colorbar(ScalarMappable(Normalize(-m, m), cmap="gray"), cax=bar)
    bar.tick_params(labelsize=7)
    bar.set_ylabel(label, fontsize=8)


def plot_feature_maps(
    image: np.ndarray,
    maps: Mapping[str, np.ndarray] | Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike[str],
    max_maps: int = 16,
) -> Path:
    """Draw an input image (C, H, W) and, one row per layer, its first ``max_maps`` feature maps.

    ``maps`` is a dict or a list of ``(layer_name, array)`` with arrays of shape (C, H, W) (a
    leading batch dimension of 1 is dropped). Every feature map is min-max scaled to its own
    range and drawn in gray; the input image is shown as is when within [0, 1], otherwise scaled.
    """
    _check_positive("plot_feature_maps", "max_maps", max_maps)
    layers = list(maps.items()) if isinstance(maps, Mapping) else list(maps)
    picture = to_display(as_batch(image, "plot_feature_maps image", single=True), stretch=False)
    stacks = [(name, *_layer_tiles(name, array, max_maps)) for name, array in layers]
    widest = max([len(tiles) for _, tiles, _ in stacks], default=1)
    tile_in = float(np.clip(9.0 / widest, 0.4, 0.9))
    input_in = float(np.clip(2 * tile_in, 1.0, 1.6))

    # (label, mosaic, width and height in inches) per row; tiles of one row share a width.
    rows = [("input", mosaic(picture, 1, pad=0), input_in / picture.shape[2])]
    for name, tiles, channels in stacks:
        h, w = tiles.shape[1:3]
        label = f"{name}\n{channels}×{h}×{w}"
        if len(tiles) < channels:
            label += f"\nfirst {len(tiles)} of {channels}"
        rows.append((label, mosaic(tiles, len(tiles), pad=max(1, round(0.05 * w / tile_in))),
                     tile_in / w))
    label_in, gap_in = 1.6, 0.12
    width = label_in + max(grid.shape[1] * inch for _, grid, inch in rows) + _MARGIN
    height = _TITLE + sum(grid.shape[0] * inch + gap_in for _, grid, inch in rows) + _MARGIN
    fig = new_figure(width, height)
    fig.text(0.5, 1 - 0.5 * _TITLE / height, "feature maps", ha="center", va="center",
             fontsize=11)
    top = height - _TITLE
    for label, grid, inch in rows:
        row_w, row_h = grid.shape[1] * inch, grid.shape[0] * inch
        top -= row_h + gap_in
        ax = fig.add_axes((label_in / width, top / height, row_w / width, row_h / height))
        show(ax, grid, background=SEPARATOR)
        fig.text((label_in - 0.1) / width, (top + row_h / 2) / height, label, ha="right",
                 va="center", fontsize=8)
    return save_png(fig, path)


def plot_misclassified(
    images: np.ndarray,
    true: Sequence[int] | np.ndarray,
    pred: Sequence[int] | np.ndarray,
    classes: Sequence[object] | None,
    path: str | os.PathLike[str],
    probs: np.ndarray | None = None,
    max_images: int = 25,
) -> Path:
    """Draw up to ``max_images`` images (N, C, H, W) titled "true → predicted (p)"; return the path.

    ``classes`` maps label indices to names (None: the indices). ``probs`` is optional: the
    predicted class's probability per image (N,), or a probability matrix (N, K) from which it
    is picked. Images within [0, 1] are shown as is, others min-max scaled per image; one
    channel is gray, three are RGB. With no images the figure says so.
    """
    _check_positive("plot_misclassified", "max_images", max_images)
    true_a, pred_a = np.asarray(true).reshape(-1), np.asarray(pred).reshape(-1)
    count = len(true_a)
    if len(pred_a) != count or len(images) != count:
        raise ValueError(f"plot_misclassified: {len(images)} images, {count} true labels and "
                         f"{len(pred_a)} predictions; they must match")
    if count == 0:
        fig = new_figure(3.0, 1.0)
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center", fontsize=10)
        return save_png(fig, path)
    n = min(count, max_images)
    p = _picked_probs(probs, pred_a, count)
    tiles = to_display(as_batch(np.asarray(images)[:n], "plot_misclassified"), stretch=False)
    h, w = tiles.shape[1:3]

    tile_in, title_in = 1.25, 0.34
    px_per_in = w / tile_in
    top, pad = math.ceil(title_in * px_per_in), max(1, round(0.08 * px_per_in))
    cols = grid_columns(n, 8)
    grid = mosaic(tiles, cols, pad=pad, top=top)
    fig, ax = _mosaic_figure(grid, 1 / px_per_in, None)
    show(ax, grid)
    for i in range(n):  # one title per tile; n is small
        r, c = divmod(i, cols)
        text = _title(_name(classes, true_a[i]), _name(classes, pred_a[i]),
                      None if p is None else p[i])
        ax.text(c * (w + pad) + w / 2, r * (top + h + pad) + top - 0.5, text, ha="center",
                va="bottom", fontsize=7, linespacing=1.1)
    return save_png(fig, path)


def _mosaic_figure(grid: np.ndarray, inch_per_px: float, title: str | None,
                   min_width: float = 0.0, right: float = 0.0) -> tuple[Figure, Axes]:
    """A figure holding ``grid`` at ``inch_per_px``, centred, under an optional title strip,
    with ``right`` inches free on its right (for a colour bar)."""
    grid_w, grid_h = grid.shape[1] * inch_per_px, grid.shape[0] * inch_per_px
    title_h = _TITLE if title else 0.0
    width = max(grid_w + 2 * _MARGIN, min_width) + right
    height = max(grid_h, 1.2 if right else 0.0) + 2 * _MARGIN + title_h
    fig = new_figure(width, height)
    ax = fig.add_axes(((width - right - grid_w) / 2 / width, (height - title_h - grid_h) / 2
                       / height, grid_w / width, grid_h / height))
    if title:
        fig.text(0.5, 1 - 0.5 * title_h / height, title, ha="center", va="center", fontsize=9)
    return fig, ax


def _layer_tiles(name: object, array: np.ndarray, max_maps: int) -> tuple[np.ndarray, int]:
    """The first ``max_maps`` channels of a (C, H, W) map as gray tiles, and C."""
    a = np.asarray(array)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"plot_feature_maps: layer {name!r}: expected (C, H, W), got {a.shape}")
    return to_display(as_batch(a[:max_maps], f"plot_feature_maps {name}"), stretch=True), len(a)


def _picked_probs(probs: np.ndarray | None, pred: np.ndarray, count: int) -> np.ndarray | None:
    """The predicted class's probability per image, from (N,) or (N, K) ``probs``."""
    if probs is None:
        return None
    p = np.asarray(probs, dtype=np.float64)
    if p.shape == (count,):
        return p
    if p.ndim == 2 and p.shape[0] == count:
        return p[np.arange(count), pred.astype(np.intp)]
    raise ValueError(f"plot_misclassified: probs must be (N,) or (N, K) with N={count}, "
                     f"got {p.shape}")


def _name(classes: Sequence[object] | None, label: object) -> str:
    index = int(label)
    if classes is None:
        return str(index)
    if not 0 <= index < len(classes):
        raise ValueError(f"plot_misclassified: label {index} outside the {len(classes)} classes")
    return str(classes[index])


def _title(true: str, pred: str, prob: float | None) -> str:
    """"true → pred (p)", broken after the arrow when too long for a 1.25-inch tile."""
    true, pred = (name if len(name) <= 16 else name[:15] + "…" for name in (true, pred))
    tail = pred if prob is None else f"{pred} ({prob:.2f})"
    one_line = f"{true} → {tail}"
    return one_line if len(one_line) <= 22 else f"{true} →\n{tail}"


def _check_positive(func: str, arg: str, value: int) -> None:
    if not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{func}: {arg} must be a positive integer, got {value!r}")
