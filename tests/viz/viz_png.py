"""Shared check for the viz tests: a file is a real, plausibly sized, non-blank PNG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, returned: Path | None = None, min_px: int = 60,
               max_px: int = 2500) -> tuple[int, int]:
    """Assert ``path`` holds a PNG Pillow can decode, of plausible size, that is not blank.

    Also checks that the plotting function returned ``path`` and left no temporary file behind.
    """
    if returned is not None:
        assert Path(returned) == Path(path)
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        width, height = img.size
        pixels = np.asarray(img.convert("RGB"))
    assert min_px <= width <= max_px and min_px <= height <= max_px, (width, height)
    assert pixels.std() > 0, "blank image"
    assert [f for f in os.listdir(Path(path).parent) if f.endswith(".tmp")] == []
    return width, height
