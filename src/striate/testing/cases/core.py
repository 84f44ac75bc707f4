"""Cases for the engine's own ops: arithmetic with broadcasting, reductions, shapes, matmul."""

import numpy as np

import striate as st

from ...ops.growing_cat import GrowingCat
from ...ops.shape import pad
from ..gradcheck import Case


def _pair(shape_a, shape_b):
    return lambda rng: (rng.standard_normal(shape_a), rng.standard_normal(shape_b))


def _growing_cat(a, b, c):
    """Every view a dense block hands out, read after the last append: the first piece alone,
    and all three."""
    maps = GrowingCat(a, a.shape[1] + b.shape[1] + c.shape[1])
    first = maps.tensor
    maps.append(b)
    return st.cat([first, maps.append(c)], 1)


def _one(shape, low=None):
    if low is None:
        return lambda rng: (rng.standard_normal(shape),)
    return lambda rng: (rng.uniform(low, low + 2, shape),)


CASES = [
    Case("add", "broadcast (3,4)+(4,)", lambda a, b: a + b, _pair((3, 4), (4,))),
    Case("sub", "broadcast (2,1,3)-(4,1)", lambda a, b: a - b, _pair((2, 1, 3), (4, 1))),
    Case("mul", "broadcast (2,3,1)*(3,5)", lambda a, b: a * b, _pair((2, 3, 1), (3, 5))),
    Case("div", "(3,4)/(3,1)", lambda a, b: a / (b * b + 1), _pair((3, 4), (3, 1))),
    Case("neg", "(5,)", lambda a: -a, _one((5,))),
    Case("pow", "x^3", lambda a: a**3, _one((2, 3))),
    Case("pow", "x^0.5", lambda a: a**0.5, _one((2, 3), low=0.5)),
    Case("exp", "(2,3)", lambda a: a.exp(), _one((2, 3))),
    Case("log", "(2,3)", lambda a: a.log(), _one((2, 3), low=0.5)),
    Case("sqrt", "(2,3)", lambda a: a.sqrt(), _one((2, 3), low=0.5)),
    Case("sum", "all", lambda a: a.sum(), _one((2, 3, 4))),
    Case("sum", "dim=(0,2) keepdim", lambda a: a.sum((0, 2), keepdim=True), _one((2, 3, 4))),
    Case("mean", "dim=1", lambda a: a.mean(1), _one((2, 3, 4))),
    Case("max", "dim=-1", lambda a: a.amax(-1), _one((3, 5))),
    Case("var", "dim=0 unbiased", lambda a: a.var(0), _one((5, 3))),
    Case("reshape", "(2,3,4)->(6,4)", lambda a: a.reshape(6, 4) * 1.0, _one((2, 3, 4))),
    Case("permute", "(0,2,1)", lambda a: a.permute(0, 2, 1), _one((2, 3, 4))),
    Case("index", "slices", lambda a: a[1:, ::2], _one((3, 5))),
    Case("index", "repeated advanced index",
         lambda a: a[np.array([0, 2, 0])], _one((3, 4))),
    Case("cat", "dim=1", lambda a, b: st.cat([a, b, a], 1), _pair((2, 3), (2, 2))),
    Case("GrowingCat", "three pieces, two views", _growing_cat,
         lambda rng: tuple(rng.standard_normal((2, c, 3, 2)) for c in (2, 3, 1))),
    Case("stack", "dim=1", lambda a, b: st.stack([a, b], 1), _pair((2, 3), (2, 3))),
    Case("pad", "(1,2,0,1)", lambda a: pad(a, (1, 2, 0, 1)), _one((2, 3, 3))),
    Case("pad", "negative crops", lambda a: pad(a, (-1, 2, 1, -1)), _one((2, 3, 3))),
    Case("matmul", "(2,3,4)@(4,5)", lambda a, b: a @ b, _pair((2, 3, 4), (4, 5))),
    Case("matmul", "vector@matrix", lambda a, b: a @ b, _pair((4,), (4, 3))),
    Case("flatten", "dims 1..2", lambda a: st.flatten(a, 1), _one((2, 3, 4))),
    Case("expand", "(3,1)->(2,3,4)", lambda a: a.expand(2, 3, 4), _one((3, 1))),
    Case("clamp", "[-0.5, 0.5]", lambda a: a.clamp(-0.5, 0.5),
         lambda rng: (rng.choice([-1, 1], (3, 4)) * rng.uniform(0.1, 0.4, (3, 4))
                      + rng.choice([-0.5, 0.5, 0.0], (3, 4)) * 1.4,)),
]
