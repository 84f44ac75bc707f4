"""How the compiled Winograd input transforms read a plane: the m + 2 columns of every tile are
copied into a scratch, one row per column offset q, so that the value each tile needs at offset q
sits at the same position k of row q, and both passes of the transform run unit-stride over k.

Two layouts: ``winograd_f2.copy_columns`` holds padded rows whole, k = n·wt + j over one tile
row's tiles (F(2×2, 3×3), whose passes are too cheap to pay for more copying), and
``winograd_f4.copy_tile_rows`` holds each tile's m + 2 rows apart, k running over the tiles of
several tile rows (F(4×4, 3×3): at batch 1 one tile row is only wt = 8 tiles, too short a loop).
Each copy lives in the file of the transform that inlines it: Numba's cache on disk checks only
the kernel's own file for changes, so a helper inlined from another file could go on running,
cached, after it was edited (seen here while measuring a variant).
"""

from __future__ import annotations


def column_runs(out: int, wt: int, left: int, width: int,
                size: int = 0) -> tuple[tuple[int, ...], ...]:
    """For m = ``out`` outputs per tile side, tiles ``size`` wide (0: m + 2, a 3×3 kernel's), wt
    tile columns, a plane ``width`` wide padded by ``left`` columns: per offset q = 0 … size − 1,
    the input column of tile 0 (m·j + q − left for tile j), the first tile whose column lies
    inside the plane, and how many do."""
    offsets = tuple(q - left for q in range(size or out + 2))
    firsts = tuple(max(0, -(offset // out)) for offset in offsets)
    counts = tuple(max(0, min(wt - 1, (width - 1 - offset) // out) - first + 1)
                   for offset, first in zip(offsets, firsts, strict=True))
    return offsets, firsts, counts
