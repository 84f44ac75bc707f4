"""Pictures of a Deconvolutional Network: its filters, what its maps rebuild, its cost curves.

* ``filters_layer{l}.png``: layer 1's filters as they are; a deeper layer's filters projected
  to pixels (one map element set to 1, the rest 0, rebuilt through every layer below), because
  its own filters live in the space of the maps below and mean little drawn plane by plane.
* ``reconstructions.png``: images and, per layer, ŷ = the image rebuilt from that layer's maps
  alone, with the relative error ‖ŷ − y‖ / ‖y‖.
* ``cost.png``: the cost per iteration of each layer's learning (log scale).

Everything is drawn through ``striate.viz``'s helpers (Agg canvas, atomic PNG writes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..viz import plot_filters
from ..viz._display import SEPARATOR, as_batch, mosaic, show, to_display
from ..viz._figure import new_figure, save_png, set_margins
from ..viz.images import _mosaic_figure

MAX_IMAGES = 8  # rows of reconstructions.png


def relative_error(y: np.ndarray, y_hat: np.ndarray) -> float:
    """‖ŷ − y‖ / ‖y‖ over the whole batch (0 for an all-zero y rebuilt exactly)."""
    norm = float(np.linalg.norm(y))
    error = float(np.linalg.norm(y_hat - y))
    return error / norm if norm > 0 else error


def reconstructions(net: Any, images: np.ndarray,
                    maps: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Per layer l, ``images`` rebuilt in pixels from layer l's maps alone (inferred unless
    ``maps`` gives them, which must then come from the net's last ``infer``: its switches)."""
    maps = net.infer(images) if maps is None else maps
    return [np.asarray(net.reconstruct(i, z)) for i, z in enumerate(maps)]


def pixel_filters(net: Any, layer: int, maps: Sequence[np.ndarray]) -> np.ndarray:
    """Layer ``layer``'s filters seen in pixels, (M, C, h, w): in a batch of M, map m is 1 at
    its centre and 0 elsewhere, rebuilt through the layers below with every pooling switch at
    its block's first position (a filter has no switches of its own), and cropped to where any
    of the M pictures is non-zero.  ``maps`` (from ``net.infer``) give the sizes.  Replaces
    ``net.switches``."""
    m, height, width = np.shape(maps[layer])[1:]
    z = np.zeros((m, m, height, width))
    z[np.arange(m), np.arange(m), height // 2, width // 2] = 1.0
    net.switches = [(np.zeros((m, below.shape[1], -(-below.shape[2] // net.pool),
                               -(-below.shape[3] // net.pool)), np.intp), below.shape[2:])
                    for below in maps[:layer]]
    pictures = np.asarray(net.reconstruct(layer, z))
    support = np.abs(pictures).max(axis=(0, 1))
    rows, cols = np.nonzero(support > 1e-9 * max(float(support.max()), 1e-300))
    if rows.size == 0:
        return pictures
    return pictures[:, :, rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def plot_reconstructions(images: np.ndarray, rebuilt: Sequence[np.ndarray],
                         path: str | os.PathLike[str]) -> Path:
    """One row per image (at most :data:`MAX_IMAGES`): the image, then its reconstruction from
    each layer's maps, each tile min-max scaled; the title gives each layer's relative error."""
    n = min(len(images), MAX_IMAGES)
    columns = [images[:n], *(r[:n] for r in rebuilt)]
    tiles = np.stack([to_display(as_batch(c, "plot_reconstructions"), stretch=True)
                      for c in columns], axis=1)
    tiles = tiles.reshape(n * len(columns), *tiles.shape[2:])
    errors = ", ".join(f"layer {i + 1} {relative_error(images, r):.3f}"
                       for i, r in enumerate(rebuilt))
    grid = mosaic(tiles, len(columns), pad=1)
    width = images.shape[-1]
    fig, ax = _mosaic_figure(grid, 0.9 / width, f"input | layers 1..{len(rebuilt)}\n"
                             f"relative error: {errors}", min_width=3.6)
    show(ax, grid, background=SEPARATOR)
    return save_png(fig, path)


def plot_costs(costs: Sequence[Sequence[float]], path: str | os.PathLike[str]) -> Path:
    """The cost per iteration of each layer's learning, one line per layer, log scale when
    every value is positive."""
    fig = new_figure(5.0, 3.3)
    ax = fig.subplots()
    set_margins(fig, left=0.9, right=0.15, bottom=0.5, top=0.35)
    positive = True
    for i, cost in enumerate(costs):
        values = np.asarray(cost, dtype=np.float64)
        if values.size:
            ax.plot(np.arange(1, values.size + 1), values, label=f"layer {i + 1}")
            positive &= bool((values > 0).all())
    if positive and ax.lines:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost per image")
    ax.set_title("cost after each filter update", fontsize=10)
    if ax.lines:
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def write_pictures(net: Any, images: np.ndarray, costs: Sequence[Sequence[float]],
                   out: str | os.PathLike[str]) -> list[Path]:
    """All of this module's PNGs for ``net`` into the folder ``out``; their paths."""
    out = Path(out)
    images = images[:MAX_IMAGES]
    maps = net.infer(images)
    paths = [plot_reconstructions(images, reconstructions(net, images, maps),
                                  out / "reconstructions.png"),
             plot_filters(np.swapaxes(np.asarray(net.layers[0].filters), 0, 1),
                          out / "filters_layer1.png")]
    for layer in range(1, len(net.layers)):  # after the reconstructions: replaces the switches
        paths.append(plot_filters(pixel_filters(net, layer, maps),
                                  out / f"filters_layer{layer + 1}.png"))
    paths.append(plot_costs(costs, out / "cost.png"))
    return paths
