"""The readable twins of the convolution kernels: each sum written as a loop over groups and
kernel offsets (p, q), one small tensordot per offset, instead of an im2col matrix, tiles or
compiled loops.  The tests check every fast path against these."""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from .conv_geometry import Pads, Pair, spread


def correlate(buf: Any, weight: Any, stride: Pair, dilation: Pair, groups: int,
              out_hw: Pair) -> Any:
    """(O, N, Ho, Wo) correlation of a padded (C, N, Hb, Wb) buffer: for each group and offset
    (p, q), the strided slice of the buffer that offset sees, contracted with K[:, :, p, q] over
    channels."""
    xp = array_module(buf)
    o, cg, kh, kw = weight.shape
    og = o // groups
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    y = xp.zeros((o, buf.shape[1], ho, wo), dtype=buf.dtype)
    for g in range(groups):
        chans = buf[g * cg:(g + 1) * cg]
        for p in range(kh):
            for q in range(kw):
                patch = chans[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                              q * dw:q * dw + (wo - 1) * sw + 1:sw]
                y[g * og:(g + 1) * og] += xp.tensordot(weight[g * og:(g + 1) * og, :, p, q],
                                                       patch, axes=1)
    return y


def weight_gradient(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                    groups: int) -> Any:
    """∂L/∂K[o, c, p, q] = Σ_{n,i,j} G[n, o, i, j] · Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d],
    one tensordot per group and offset."""
    xp = array_module(x)
    o, (ho, wo), (kh, kw) = g.shape[1], g.shape[2:], kernel
    og, cg = o // groups, x.shape[1] // groups
    buf = spread(x, (1, 1), pads)
    g_onhw = g.transpose(1, 0, 2, 3)
    gw = xp.zeros((o, cg, kh, kw), dtype=g.dtype)
    (sh, sw), (dh, dw) = stride, dilation
    for grp in range(groups):
        chans, gg = buf[grp * cg:(grp + 1) * cg], g_onhw[grp * og:(grp + 1) * og]
        for p in range(kh):
            for q in range(kw):
                patch = chans[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                              q * dw:q * dw + (wo - 1) * sw + 1:sw]
                gw[grp * og:(grp + 1) * og, :, p, q] = xp.tensordot(
                    gg, patch, axes=([1, 2, 3], [1, 2, 3]))
    return gw
