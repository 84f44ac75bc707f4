"""Random numbers: one global generator, reseeded by :func:`manual_seed`.

Any module may take its own generator instead.

Initialisers, dropout, ``st.randn`` and the data loaders draw from the generator they are given,
or from this global one.  Draws are made on the host with NumPy and moved, so a seed gives the
same numbers on the CPU and on the GPU.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator that initialisers, dropout and loaders use by default."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator (reseeded by :func:`manual_seed`)."""
    return _generator


def resolve_generator(generator: np.random.Generator | None) -> np.random.Generator:
    """``generator`` if given, else the global one."""
    return _generator if generator is None else generator
