"""One image file, decoded safely: the header checked before any pixel, one colour mode, one size.

Used by :class:`~striate.data.ImageFolder` for every image of a folder and by ``striate predict``
for the files it is given, so both read an image the same way. Pillow is imported only here and
only when an image is read. A file that cannot be used raises :class:`UnreadableImage`, whose
message says why in words that follow the file's name ("is empty (0 bytes)").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")  # Pillow plugins tried, nothing else
# Largest image decoded, in pixels (8192 x 8192; 192 MiB as RGB): checked from the header before
# any pixel is read. Pillow's own limit (Image.MAX_IMAGE_PIXELS) is left as the host set it.
MAX_IMAGE_PIXELS = 64 * 2**20
BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto white, as viewers show them
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
COLOUR_MODES = frozenset({"P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"})
CHANNELS = {"L": 1, "RGB": 3}
_WIDE_GREY = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})


class UnreadableImage(Exception):
    """One image file cannot be used; the message says why (without the path)."""


def pillow() -> Any:
    """Pillow's ``Image`` module with all its plugins registered, or a DatasetError saying how
    to install it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise DatasetError(
            "reading images needs Pillow to decode PNG/JPEG files: pip install pillow "
            "(or apt-get install python3-pil)"
        ) from exc
    Image.init()  # registers the WebP and TIFF plugins
    return Image


def formats() -> list[str]:
    """The :data:`FORMATS` this Pillow can open."""
    return [f for f in FORMATS if f in pillow().OPEN]


@contextmanager
def open_image(path: Path) -> Iterator[Any]:
    """``path`` opened lazily by Pillow with its header checked; any failure: UnreadableImage."""
    Image = pillow()
    try:
        with _BoundedFile(path) as f, Image.open(f, formats=formats()) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UnreadableImage(
                    f"is {width}x{height} pixels, more than the limit of {MAX_IMAGE_PIXELS} "
                    "(image_file.MAX_IMAGE_PIXELS): a decompression bomb or not meant for a CNN"
                )
            if img.mode not in GREY_MODES | COLOUR_MODES:
                raise UnreadableImage(f"has colour mode {img.mode!r}, which is not supported")
            yield img
    except UnreadableImage:
        raise
    except Exception as exc:  # Pillow's decoders raise many types on damaged data
        raise UnreadableImage(_reason(Image, path, exc)) from exc


def decode_image(path: Path, mode: str, size: tuple[int, int] | None = None,
                 expected: tuple[int, int] | None = None) -> np.ndarray:
    """``path`` as a ``uint8 (C, H, W)`` array in ``mode`` ("L" or "RGB").

    ``size`` = ``(height, width)`` resizes (bilinear); without it the image must be
    ``expected`` in size when that is given (a folder whose file changed since its scan).
    """
    with open_image(path) as img:
        img = _convert(pillow(), img, mode)
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), pillow().BILINEAR)
        elif size is None and expected is not None and img.size != (expected[1], expected[0]):
            raise UnreadableImage(f"is now {img.height}x{img.width}, not "
                                  f"{expected[0]}x{expected[1]}")
        array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def read_image(path: str | os.PathLike, mode: str, size: tuple[int, int] | None = None
               ) -> np.ndarray:
    """:func:`decode_image` with a one-line :class:`DatasetError` naming the file on failure."""
    try:
        return decode_image(Path(path), mode, size)
    except UnreadableImage as exc:
        raise DatasetError(f"image {os.fspath(path)!r} {exc}") from exc.__cause__


def _reason(Image: Any, path: Path, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "does not exist (a dangling symbolic link?)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an image file"
    if isinstance(exc, Image.UnidentifiedImageError):
        if path.stat().st_size == 0:
            return "is empty (0 bytes)"
        return f"is not a {'/'.join(formats())} image (its content is not recognised)"
    if isinstance(exc, Image.DecompressionBombWarning | Image.DecompressionBombError):
        return f"is too large to decode safely ({exc})"
    return f"cannot be decoded ({type(exc).__name__}: {' '.join(str(exc).split())})"


class _BoundedFile:
    """A binary file whose ``read(n)`` asks for no more than the bytes left.

    ``BufferedReader.read(n)`` allocates ``n`` bytes before reading, and Pillow passes lengths
    from the file (a damaged PNG chunk length made it allocate 16 MiB for a 268-byte file).
    """

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # closed by __exit__
        self._size = os.fstat(self._file.fileno()).st_size

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._file.read()
        return self._file.read(min(n, max(self._size - self._file.tell(), 0)))

    def __getattr__(self, name: str) -> Any:  # seek, tell, close, name, ...
        return getattr(self._file, name)

    def __enter__(self) -> _BoundedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


@functools.cache
def _sixteen_to_eight() -> list[int]:
    """The lookup table rounding 0..65535 to 0..255 (Pillow clips values outside to its ends)."""
    return ((np.arange(65536) * 255 + 32767) // 65535).tolist()


def _convert(Image: Any, img: Any, mode: str) -> Any:
    """``img`` in ``mode``: transparency composited onto BACKGROUND, 16-bit grey scaled to 8."""
    if img.mode in _WIDE_GREY:  # Pillow's convert would clip 0..65535 at 255 (mostly white)
        img = img.convert("I").point(_sixteen_to_eight(), "L")
    if img.mode in _ALPHA or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba)
    return img.convert(mode)
