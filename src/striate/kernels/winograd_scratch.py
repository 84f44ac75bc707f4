"""How the compiled Winograd input transforms read a plane: the m + 2 columns of every tile are
copied into a scratch, one row per column offset q, so that for one tile row the value each tile
needs at offset q sits at the same position k = n·wt + j (image n, tile column j) of row q, and
both passes of the transform run unit-stride over k.
"""

from __future__ import annotations

from .jit import inlined


def column_runs(out: int, wt: int, left: int, width: int) -> tuple[tuple[int, ...], ...]:
    """For m = ``out`` outputs per tile side, wt tile columns, a plane ``width`` wide padded by
    ``left`` columns: per offset q = 0 … m + 1, the input column of tile 0 (m·j + q − left for
    tile j), the first tile whose column lies inside the plane, and how many do."""
    offsets = tuple(q - left for q in range(out + 2))
    firsts = tuple(max(0, -(offset // out)) for offset in offsets)
    counts = tuple(max(0, min(wt - 1, (width - 1 - offset) // out) - first + 1)
                   for offset, first in zip(offsets, firsts, strict=True))
    return offsets, firsts, counts


@inlined
def copy_columns(x, ci, top, out, runs, wt, s):  # pragma: no cover - compiled
    """s[q, r, n·wt + j] = channel ``ci`` of image n, padded row r, column m·j + q − left, for
    the rows and tiles inside the plane (the rest of s keeps its zeros); ``runs`` as
    :func:`column_runs` gives them."""
    offsets, firsts, counts = runs
    n, h = x.shape[0], x.shape[2]
    for r in range(max(0, top), min(s.shape[1], top + h)):
        for ni in range(n):
            src = x[ni, ci, r - top]
            for q in range(len(offsets)):
                dst = s[q, r, ni * wt + firsts[q]:]
                part = src[out * firsts[q] + offsets[q]:]
                for j in range(counts[q]):
                    dst[j] = part[out * j]
