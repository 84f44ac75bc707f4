"""Direct correlation for stride-1 layers with few channels (LeNet's): the sum over channels and
kernel offsets computed in place, without an im2col matrix; and a compiled col2im.

The trick that makes it vectorise is to index a padded plane of width Wp by one flat position
f = i·Wp + j.  Output (i, j) reads input (i + p, j + q), at flat position f + (p·Wp + q), so for
one kernel offset every output of the plane reads one *contiguous* run of the input, shifted by
p·Wp + q:

    Y_wide[o, f] = Σ_{c, p, q} K[o, c, p, q] · X[c, f + p·Wp + q],   f = 0 … (Ho − 1)·Wp + Wo − 1

The positions with j ≥ Wo (the right overhang of each row) are computed and thrown away, a
(Wp − Wo)/Wo overhead (14% on LeNet's conv1).  In return the inner loop is a long unit-stride run.
The weight gradient is the same sum read the other way, a dot product per (o, c, p, q) between
the output gradient laid out "wide" (zeros in the overhang) and the shifted input:

    ∂L/∂K[o, c, p, q] = Σ_f G_wide[o, f] · X[c, f + p·Wp + q]

Why: on LeNet's layers (1→6 and 6→16 channels, 5×5) the im2col GEMMs have 6 or 16 rows, where
OpenBLAS reached only 22–52 GFLOP/s here.  The loops below (two output channels at a time,
the kernel row unrolled) do the forward in about half that time on one core.  The readable twin is
``conv._correlate_reference``, the same sum as one tensordot per kernel offset.

col2im (the adjoint of im2col, used for the input gradient of strided and widening layers) adds
each kernel offset's slice of the column matrix back into the padded planes.  NumPy does that as
kh·kw strided passes over the whole buffer; the compiled loop below adds one channel's offsets
while that channel's planes sit in the L2 cache.  The whole input gradient, float32, batch 128,
2 cores: LeNet's conv2 4.0 → 2.2–2.8 ms, ResNet-20's 16→32 stride-2 layer 9.8 → 6.7–7.4 ms
(a 1×1 stride-2 layer, one pass either way, about the same).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import jit
from .jit import compiled

_forward_kernels: dict[int, Any] = {}


def available() -> bool:
    """True when the compiled kernels can run (Numba installed) and ``STRIATE_DIRECT`` is not set
    to 0 (which sends these layers to im2col, e.g. to compare the two)."""
    return jit.available() and os.environ.get("STRIATE_DIRECT", "1") != "0"


def forward_kernel(kernel_width: int):
    """The compiled forward for kernels ``kernel_width`` wide (a compile-time constant, so the
    loop over a kernel row unrolls and the loop over positions vectorises)."""
    if kernel_width not in _forward_kernels:
        _forward_kernels[kernel_width] = compiled(_make_forward(kernel_width))
    return _forward_kernels[kernel_width]


def _make_forward(kw: int):
    def forward(flat, weight, padded_width, y):  # pragma: no cover - compiled
        """y (O, N, Ho, Wo) = the correlation of the padded planes flat (C, N, Hp·Wp) with weight
        (O, C, kh, kw); two output channels per pass, so each input value loaded serves both."""
        o_count, c_count, kh = weight.shape[:3]
        n_count, ho, wo = y.shape[1:]
        wp = padded_width
        span = (ho - 1) * wp + wo
        acc = np.empty((2, span), y.dtype)
        for n in range(n_count):
            for o in range(0, o_count, 2):
                o1 = min(o + 1, o_count - 1)  # an odd count repeats the last channel
                acc[:] = 0
                a0, a1 = acc[0], acc[1]
                for c in range(c_count):
                    for p in range(kh):
                        x = flat[c, n, p * wp:p * wp + span + kw - 1]
                        k0, k1 = weight[o, c, p], weight[o1, c, p]
                        for f in range(span):
                            t0, t1 = a0[f], a1[f]
                            for q in range(kw):
                                t0 += k0[q] * x[f + q]
                                t1 += k1[q] * x[f + q]
                            a0[f], a1[f] = t0, t1
                for i in range(ho):
                    y[o, n, i] = a0[i * wp:i * wp + wo]
                    y[o1, n, i] = a1[i * wp:i * wp + wo]

    return forward


def _weight(flat, g, padded_width, zero, grad_w):  # pragma: no cover - compiled
    """Add ∂L/∂K (O, C, kh, kw) for the planes flat (C, N, Hp·Wp) and the output gradient
    g (O, N, Ho, Wo) into grad_w; ``zero`` is 0 in the arrays' dtype (the accumulators' type)."""
    o_count, c_count, kh, kw = grad_w.shape
    n_count, ho, wo = g.shape[1:]
    wp = padded_width
    span = (ho - 1) * wp + wo
    wide = np.zeros((2, span), g.dtype)  # g's rows Wp apart, zeros in between
    for n in range(n_count):
        for o in range(0, o_count, 2):
            o1 = min(o + 1, o_count - 1)
            for i in range(ho):
                wide[0, i * wp:i * wp + wo] = g[o, n, i]
                wide[1, i * wp:i * wp + wo] = g[o1, n, i]
            g0, g1 = wide[0], wide[1]
            for c in range(c_count):
                for p in range(kh):
                    for q in range(kw):
                        x = flat[c, n, p * wp + q:p * wp + q + span]
                        t0, t1 = zero, zero
                        for f in range(span):
                            t0 += g0[f] * x[f]
                            t1 += g1[f] * x[f]
                        grad_w[o, c, p, q] += t0
                        if o1 != o:
                            grad_w[o1, c, p, q] += t1


weight_kernel = compiled(_weight)


def _col2im(cols, buf, stride, dilation):  # pragma: no cover - compiled
    """buf[c, n, i·s + p·d, j·s + q·d] += cols[c, p, q, n, i, j] (buf (C, N, Hb, Wb), cols
    (C, kh, kw, N, Ho, Wo)), reading cols in memory order.  Indexed directly: views made in the
    inner loops (numba counts their references) cost more than the additions."""
    c_count, kh, kw, n_count, ho, wo = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    for c in range(c_count):
        for p in range(kh):
            for q in range(kw):
                for n in range(n_count):
                    for i in range(ho):
                        for j in range(wo):
                            buf[c, n, i * sh + p * dh, j * sw + q * dw] += cols[c, p, q, n, i, j]


col2im_kernel = compiled(_col2im)
