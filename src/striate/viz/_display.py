"""Turning arbitrary arrays into displayable tiles, and tiles into one mosaic image.

Drawing many small images as one ``imshow`` of a mosaic is an order of magnitude faster than one
matplotlib axes per image, which is what keeps a 25-image grid well under half a second.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb

# Between tiles whose own pixels span black to white, only a tint is a visible separator.
SEPARATOR = (0.78, 0.85, 0.95)


def as_batch(images: np.ndarray, name: str, *, single: bool = False) -> np.ndarray:
    """``images`` as a float64 (N, C, H, W) array.

    A batch may be (N, C, H, W) or grayscale (N, H, W); with ``single=True`` the input is one image,
    (C, H, W) or (H, W). uint8 data is taken as 0..255 and divided by 255.
    """
    x = np.asarray(images)
    if single:
        x = x[None]
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or 0 in x.shape:
        want = "(C, H, W) or (H, W)" if single else "(N, C, H, W) or (N, H, W)"
        got = np.asarray(images).shape
        raise ValueError(f"{name}: expected a non-empty image array of shape {want}, got {got}")
    if x.dtype == np.uint8:
        return x / 255.0
    x = x.astype(np.float64)
    return np.where(np.isfinite(x), x, 0.0)


def to_display(x: np.ndarray, *, stretch: bool) -> np.ndarray:
    """Tiles in [0, 1]: (N, H, W) for one channel or (N, H, W, 3) for RGB, from (N, C, H, W).

    Three channels are RGB; any other channel count is averaged to gray. With ``stretch`` every
    tile is min-max scaled to its own range; without it only tiles outside [0, 1] are. A constant
    tile has no range to stretch and shows as its value clipped to [0, 1] (no division by zero).
    """
    x = np.moveaxis(x, 1, -1) if x.shape[1] == 3 else x.mean(axis=1)
    axes = tuple(range(1, x.ndim))
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    scale = span > 0
    if not stretch:
        scale &= (lo < 0) | (hi > 1)
    scaled = np.divide(x - lo, span, out=np.zeros_like(x), where=scale)
    return np.where(scale, scaled, np.clip(x, 0.0, 1.0))


def mosaic(tiles: np.ndarray, cols: int, *, pad: int = 1, top: int = 0) -> np.ndarray:
    """Tiles (N, h, w[, 3]) laid out row-major on a grid ``cols`` wide.

    Each cell has ``top`` empty rows above its tile (room for a title) and ``pad`` pixels of
    spacing after it. Empty space is NaN, which ``show`` paints in a background gray.
    """
    n, h, w = tiles.shape[:3]
    rows = -(-n // cols)
    ch, cw = top + h + pad, w + pad
    extra = tiles.shape[3:]
    grid = np.full((rows * cols, ch, cw, *extra), np.nan)
    grid[:n, top : top + h, :w] = tiles
    grid = grid.reshape(rows, cols, ch, cw, *extra).swapaxes(1, 2)
    return grid.reshape(rows * ch, cols * cw, *extra)[: rows * ch - pad, : cols * cw - pad]


def show(ax: Axes, image: np.ndarray, *, background: str | tuple = "white",
         cmap: str = "gray") -> None:
    """Draw a mosaic on ``ax`` without axis decorations; NaN pixels show ``background``."""
    if image.ndim == 3:
        rgb = np.asarray(to_rgb(background))
        ax.imshow(np.where(np.isnan(image), rgb, image), interpolation="nearest")
    else:
        ax.imshow(image, cmap=colormaps[cmap].with_extremes(bad=background), vmin=0.0, vmax=1.0,
                  interpolation="nearest")
    ax.set_axis_off()


def grid_columns(n: int, max_cols: int) -> int:
    """Columns of a near-square grid for ``n`` tiles, at most ``max_cols`` wide."""
    return max(1, min(max_cols, int(np.ceil(np.sqrt(n)))))
