"""How the compiled Winograd input transforms read a plane: the m + 2 columns of every tile are
copied into a scratch, one row per column offset q, so that the value each tile needs at offset q
sits at the same position k of row q, and both passes of the transform run unit-stride over k.

Two layouts: :func:`copy_columns` holds padded rows whole, k = n·wt + j over one tile row's
tiles (F(2×2, 3×3), whose passes are too cheap to pay for more copying), and
:func:`copy_tile_rows` holds each tile's m + 2 rows apart, k running over the tiles of several
tile rows (F(4×4, 3×3): at batch 1 one tile row is only wt = 8 tiles, too short a loop).
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


@inlined
def copy_tile_rows(x, ci, top, out, runs, wt, first, count, d):  # pragma: no cover - compiled
    """d[q, r', (i − first)·N·wt + n·wt + j] = channel ``ci`` of image n, padded row m·i + r',
    column m·j + q − left, for the ``count`` tile rows i from ``first``: each tile's m + 2 rows
    side by side (a row two tile rows share is copied to both), so that one pass runs over all
    their tiles.  Rows outside the plane are zeroed; columns outside it keep the zeros d was
    made with (they are the same for every row)."""
    offsets, firsts, counts = runs
    n, h = x.shape[0], x.shape[2]
    run = n * wt
    zero = d.dtype.type(0)
    for r in range(out * first, out * (first + count) + 2):
        inside = top <= r < top + h
        for ti in range(max(first, (r - 2) // out), min(first + count, r // out + 1)):
            rr, t = r - out * ti, (ti - first) * run  # the row's place r' in tile row ti
            if not inside:
                for q in range(len(offsets)):
                    for k in range(run):
                        d[q, rr, t + k] = zero
                continue
            for ni in range(n):
                src = x[ni, ci, r - top]
                for q in range(len(offsets)):
                    dst = d[q, rr, t + ni * wt + firsts[q]:]
                    part = src[out * firsts[q] + offsets[q]:]
                    for j in range(counts[q]):
                        dst[j] = part[out * j]
