"""Reader for IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.

Layout (all integers big-endian)::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension (uint32)
    payload     prod(sizes) elements, C order

Files may be gzip-compressed (detected from the gzip magic bytes, not the file name). The
reader checks every field and that the payload has exactly the announced size; anything else
raises :class:`DatasetError` naming the file and the problem. The payload is read straight into
the result array (no intermediate ``bytes`` copy), and the SHA-256 of the decompressed content can
be checked on the way for the cost of hashing it (about 0.03 s for the 47 MB Fashion-MNIST
training images on the development machine).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from typing import BinaryIO

import numpy as np

from .errors import DatasetError

_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_DIMS = 8  # real files have 1 (labels) or 3 (images); more means this is not an IDX file
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this
_ADVICE = "delete it and download it again (or reinstall the package that provides it)"


def read_idx(path: str | os.PathLike, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a NumPy array in native byte order.

    With ``expected_sha256`` the SHA-256 of the decompressed content must match, else a
    :class:`DatasetError` is raised.
    """
    digest = hashlib.sha256() if expected_sha256 else None
    with _open(path) as f:
        try:
            header = _read_exact(f, 4)
            if len(header) < 4:
                raise _error(path, f"is too short to be an IDX file ({len(header)} bytes)")
            zero, code, ndim = header[:2], header[2], header[3]
            if zero != b"\x00\x00" or code not in _DTYPES or not 1 <= ndim <= _MAX_DIMS:
                raise _error(
                    path,
                    f"is not an IDX file: magic number {header.hex()} (expected 0000 followed by "
                    f"a type code in {sorted(hex(c) for c in _DTYPES)} and 1..{_MAX_DIMS} dims)",
                )
            dims_raw = _read_exact(f, 4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise _error(path, f"is truncated inside its header ({ndim} dimensions announced)")
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
            dtype = _DTYPES[code]
            nbytes = math.prod(shape) * dtype.itemsize
            announced = f"header announces shape {shape} of {dtype.name} ({nbytes} payload bytes)"
            # Refuse impossible sizes before allocating: exact for raw files, a bound for gzip.
            gz = isinstance(f, gzip.GzipFile)
            room = os.path.getsize(path) * (_DEFLATE_MAX_RATIO if gz else 1) - (4 + 4 * ndim)
            if nbytes > room:
                problem = (f"is corrupt: {announced}, more than the file can hold" if gz
                           else f"is truncated: {announced} but only {room} bytes follow")
                raise _error(path, problem)
            try:
                out = np.empty(shape, dtype=dtype)
            except ValueError as exc:  # a zero dim beside sizes NumPy cannot index
                raise _error(path, f"is corrupt: {announced}, not an array shape") from exc
            got = _fill(f, out)
            if got < nbytes:
                raise _error(path, f"is truncated: {announced} but only {got} bytes follow")
            if f.read(1):
                raise _error(path, f"has data after the {nbytes} payload bytes of {shape}")
        except (OSError, EOFError, zlib.error) as exc:
            raise _error(path, f"cannot be read or decompressed ({exc})") from exc
    if digest is not None:
        for part in (header, dims_raw, out.reshape(-1).view(np.uint8)):
            digest.update(part)
        if digest.hexdigest() != expected_sha256:
            raise _error(
                path,
                f"has the wrong content: SHA-256 of its decompressed data is "
                f"{digest.hexdigest()}, expected {expected_sha256}",
            )
    return out.astype(dtype.newbyteorder("="), copy=False)


def _open(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading, through gzip when it starts with the gzip magic."""
    try:
        raw = open(path, "rb")  # closed by the caller's `with` (through _GzipOwning for gzip)
    except FileNotFoundError as exc:
        raise DatasetError(f"IDX file {os.fspath(path)!r} does not exist") from exc
    except OSError as exc:
        raise DatasetError(f"cannot open IDX file {os.fspath(path)!r}: {exc}") from exc
    if raw.read(2) == _GZIP_MAGIC:
        raw.seek(0)
        return _GzipOwning(raw)
    raw.seek(0)
    return raw


class _GzipOwning(gzip.GzipFile):
    """A GzipFile that also closes the underlying raw file."""

    def __init__(self, raw: BinaryIO):
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def _read_exact(f: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads (gzip returns at most one block)."""
    parts, left = [], n
    while left > 0 and (chunk := f.read(left)):
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _fill(f: BinaryIO, out: np.ndarray) -> int:
    """Read the payload into ``out``'s memory, looping over short reads; returns bytes read."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    got = 0
    while got < out.nbytes:
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _error(path: str | os.PathLike, problem: str) -> DatasetError:
    return DatasetError(f"IDX file {os.fspath(path)!r} {problem}; {_ADVICE}")
