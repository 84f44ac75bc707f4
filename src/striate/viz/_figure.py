"""Figures without pyplot: an Agg-backed ``Figure`` and an atomic PNG save.

Using ``matplotlib.figure.Figure`` with its own ``FigureCanvasAgg`` touches no global state (no
pyplot figure manager, no backend switch), so plotting works headless and from several threads.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("striate.viz needs matplotlib: pip install matplotlib") from exc

from ..fileio import atomic_write

DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """A white figure of ``width`` × ``height`` inches with an Agg canvas attached."""
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def set_margins(fig: Figure, left: float, right: float, bottom: float, top: float,
                wspace: float = 0.0, panels: int = 1) -> None:
    """Place a row of ``panels`` subplots with margins and gaps given in inches.

    Fixed margins instead of constrained layout: that engine measures every text artist in an
    extra draw pass, which doubles the render time of text-heavy plots.
    """
    width, height = fig.get_size_inches()
    panel = (width - left - right - wspace * (panels - 1)) / panels
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wspace / panel)


def save_png(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (making parent directories); return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI, facecolor="white")
    return path
