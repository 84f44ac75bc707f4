"""The connection table g of a deconvolutional layer: g[i, j] = 1 when map j explains input i.

A layer's reconstruction of input i is ŷ_i = Σ_j g_ij (z_j ∗ f_ij); zero entries remove filter
planes, so a table with few ones gives each map a small, specific job (Zeiler et al. 2010 connect
each layer-2 map to one or two layer-1 maps).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

__all__ = ["KINDS", "connection_table"]

KINDS = ("full", "singles_and_doubles", "random_doubles")


def connection_table(spec: Any, in_channels: int, num_maps: int, seed: int = 0) -> np.ndarray:
    """The (C, M) binary table for ``spec``: ``"full"`` (all ones), ``"singles_and_doubles"``
    (map j takes entry j mod len of [each input alone, then each pair of inputs], as the paper's
    second layer), ``"random_doubles"`` (each map a pair of distinct inputs drawn with ``seed``),
    or an array-like of 0s and 1s.  Every map must see an input and every input some map."""
    c, m = int(in_channels), int(num_maps)
    if isinstance(spec, str):
        if spec == "full":
            table = np.ones((c, m), np.float64)
        elif spec == "singles_and_doubles":
            groups = [(i,) for i in range(c)] + list(combinations(range(c), 2))
            table = np.zeros((c, m), np.float64)
            for j in range(m):
                table[list(groups[j % len(groups)]), j] = 1.0
        elif spec == "random_doubles":
            rng = np.random.default_rng(seed)
            table = np.zeros((c, m), np.float64)
            for j in range(m):
                table[rng.choice(c, size=min(2, c), replace=False), j] = 1.0
        else:
            raise ValueError(f"connectivity must be one of {', '.join(KINDS)} or a (C, M) array, "
                             f"not {spec!r}")
    else:
        table = np.asarray(spec, dtype=np.float64)
        if table.shape != (c, m):
            raise ValueError(f"connectivity array must have shape ({c}, {m}), not {table.shape}")
        if not np.all((table == 0) | (table == 1)):
            raise ValueError("connectivity array must contain only 0 and 1")
    unused = np.flatnonzero(table.sum(axis=0) == 0)
    if unused.size:
        raise ValueError(f"connectivity leaves map {int(unused[0])} connected to no input")
    unseen = np.flatnonzero(table.sum(axis=1) == 0)
    if unseen.size:
        raise ValueError(f"connectivity leaves input {int(unseen[0])} explained by no map")
    return table
