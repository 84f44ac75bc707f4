"""Cases for the pooling family: max, average, Lᵖ, adaptive and Gaussian pooling.

Max-like ops get ``distinct`` inputs (no ties inside a window); Lᵖ pooling with a non-integer or
odd p gets positive inputs, where xᵖ is smooth and the window sums are positive.
"""

import numpy as np

import striate.nn.functional as F

from ..gradcheck import Case, distinct


def _normal(shape):
    return lambda rng: (rng.standard_normal(shape),)


def _distinct(shape):
    return lambda rng: (distinct(rng, shape),)


def _positive(shape):
    return lambda rng: (rng.uniform(0.5, 2.0, shape),)


def _positive_distinct(shape):
    """Distinct values ≥ 0.1, so |x| has no ties and no kink (for p = ±∞)."""
    n = int(np.prod(shape))
    return lambda rng: (distinct(rng, shape) + 0.01 * n / 2 + 0.1,)


def _max(shape, *args, **kw):
    return Case("max_pool2d", f"{shape} {args} {kw}",
                lambda a: F.max_pool2d(a, *args, **kw), _distinct(shape))


def _avg(shape, *args, **kw):
    return Case("avg_pool2d", f"{shape} {args} {kw}",
                lambda a: F.avg_pool2d(a, *args, **kw), _normal(shape))


def _lp(shape, p, *args, inputs=_positive, **kw):
    return Case("lp_pool2d", f"{shape} p={p} {args} {kw}",
                lambda a: F.lp_pool2d(a, p, *args, **kw), inputs(shape))


def _gauss(shape, *args, **kw):
    return Case("gaussian_pool2d", f"{shape} {args} {kw}",
                lambda a: F.gaussian_pool2d(a, *args, **kw), _normal(shape))


CASES = [
    # max: tiled, overlapping, skipping, non-square, padding, ceil mode, dilation, unbatched
    _max((1, 1, 4, 4), 2),
    _max((2, 2, 7, 5), 3, 2, 1),
    _max((1, 2, 5, 7), (2, 3), (1, 2)),
    _max((1, 2, 6, 7), 3, 2, ceil_mode=True),
    _max((1, 1, 7, 8), 2, 3),
    _max((1, 2, 7, 7), 3, 1, 1, 2),
    _max((2, 1, 6, 7), (3, 2), 2, (1, 1), (1, 2), ceil_mode=True),
    _max((2, 5, 5), 2, 1),
    Case("max_pool2d", "(1,2,5,5) k3 s2 p1 return_indices",
         lambda a: F.max_pool2d(a, 3, 2, 1, return_indices=True)[0], _distinct((1, 2, 5, 5))),
    # average: count_include_pad, ceil mode clipping, divisor_override
    _avg((2, 2, 4, 6), 2),
    _avg((1, 2, 7, 5), 3, 2, 1),
    _avg((1, 2, 6, 7), 3, 2, 1, ceil_mode=True, count_include_pad=False),
    _avg((1, 2, 6, 7), 3, 2, 1, ceil_mode=True),
    _avg((1, 1, 5, 7), 2, ceil_mode=True),
    _avg((1, 1, 5, 5), (2, 3), (2, 1), divisor_override=5),
    _avg((1, 2, 5, 5), 3, 1, 1),
    _avg((2, 4, 5), (1, 2), (1, 3), (0, 1)),
    # power-average: L2 pooling, other p, ceil-mode rescaling, p = ±∞
    _lp((1, 2, 4, 6), 2, 2, inputs=_normal),
    _lp((1, 2, 5, 7), 2, (2, 3), (1, 2), inputs=_normal),
    _lp((1, 1, 6, 6), 3, 3, 2, ceil_mode=True),
    _lp((1, 2, 4, 6), 1.5, (2, 3), 1),
    _lp((1, 1, 5, 5), 1, 2, 1),
    _lp((1, 2, 6, 6), float("inf"), 2, inputs=_positive_distinct),
    _lp((1, 1, 7, 6), float("-inf"), 3, 2, inputs=_positive_distinct),
    # adaptive: divisible, overlapping windows, global, None entries, unbatched
    Case("adaptive_avg_pool2d", "(1,2,7,5)->(3,2)",
         lambda a: F.adaptive_avg_pool2d(a, (3, 2)), _normal((1, 2, 7, 5))),
    Case("adaptive_avg_pool2d", "(2,1,6,6)->4 overlapping",
         lambda a: F.adaptive_avg_pool2d(a, 4), _normal((2, 1, 6, 6))),
    Case("adaptive_avg_pool2d", "(1,3,4,5)->1 global",
         lambda a: F.adaptive_avg_pool2d(a, 1), _normal((1, 3, 4, 5))),
    Case("adaptive_avg_pool2d", "(2,2,6,4)->(3,2) tiles",
         lambda a: F.adaptive_avg_pool2d(a, (3, 2)), _normal((2, 2, 6, 4))),
    Case("adaptive_avg_pool2d", "(2,6,5)->(None,3)",
         lambda a: F.adaptive_avg_pool2d(a, (None, 3)), _normal((2, 6, 5))),
    Case("adaptive_max_pool2d", "(1,2,7,5)->(3,2)",
         lambda a: F.adaptive_max_pool2d(a, (3, 2)), _distinct((1, 2, 7, 5))),
    Case("adaptive_max_pool2d", "(2,1,6,6)->4 overlapping",
         lambda a: F.adaptive_max_pool2d(a, 4), _distinct((2, 1, 6, 6))),
    Case("adaptive_max_pool2d", "(1,2,5,4)->1 return_indices",
         lambda a: F.adaptive_max_pool2d(a, 1, return_indices=True)[0],
         _distinct((1, 2, 5, 4))),
    # Gaussian: overlapping, non-square with sigma, tiled, unbatched
    _gauss((1, 2, 7, 7), 3, 2, 1),
    _gauss((1, 1, 6, 8), (3, 5), 1, sigma=1.5),
    _gauss((2, 1, 4, 4), 2),
    _gauss((2, 5, 6), (2, 3), (1, 2), (1, 1)),
]
