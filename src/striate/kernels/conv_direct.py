"""Correlation, its adjoint in X and its weight gradient by the direct loops of ``direct.py``
(stride 1, one group, few channels): each chunk of whole images pads its own images and runs
the compiled kernel on them; no im2col matrix.  Why: im2col's GEMMs with 6 or 16 rows are thin,
and the loops did the same work in about half the time (docs/convolution-plan.md)."""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from . import direct
from .conv_epilogue import Epilogue
from .conv_geometry import Chunk, Pads, Pair, spread
from .conv_plan import Pass
from .parallel import map_chunks, sum_chunks

# Every map_chunks below passes tiny=True (the plan's): no BLAS inside, no thread setting to switch


def correlate(x: Any, weight: Any, pads: Pads, out_hw: Pair, work: Pass,
              finish: Epilogue | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` padded by ``pads``.  The kernel applies the
    epilogue's scale, shift and rectifier as it writes each output row (a residual takes a pass
    of its own over the chunk)."""
    xp = array_module(x)
    o = weight.shape[0]
    y = xp.empty((o, x.shape[0], *out_hw), dtype=x.dtype)
    forward = direct.forward_kernel(weight.shape[3])
    weight = xp.ascontiguousarray(weight)
    in_kernel = finish if finish is not None and finish.residual is None else None
    scale = xp.ones(o, x.dtype) if in_kernel is None or in_kernel.scale is None \
        else in_kernel.scale
    shift = xp.zeros(o, x.dtype) if in_kernel is None or in_kernel.shift is None \
        else in_kernel.shift
    relu = in_kernel is not None and in_kernel.relu

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        buf = spread(x[images], (1, 1), pads)
        forward(buf.reshape(*buf.shape[:2], -1), weight, buf.shape[3], scale, shift, relu,
                y[:, images])
        if finish is not None and in_kernel is None:
            finish(y[:, images], images)

    map_chunks(run, work.chunks, work.tiny)
    return y


def transpose(g: Any, weight: Any, pads: Pads, out_hw: Pair, work: Pass) -> Any:
    """The adjoint in X (NCHW, spatial size ``out_hw``) by the direct loops' adjoint
    (``direct.transpose_kernel``), each chunk of images adding into its own padded planes: no
    column matrix, where col2im wrote and re-read C·kh·kw values per input pixel."""
    xp = array_module(g)
    _, c, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    (top, _), (left, _) = pads
    buf = xp.zeros((c, n, max(top + out_hw[0], ho + kh - 1), max(left + out_hw[1], wo + kw - 1)),
                   dtype=g.dtype)
    kernel = direct.transpose_kernel(kw)
    weight, g_onhw = xp.ascontiguousarray(weight[:, :, :, ::-1]), g.transpose(1, 0, 2, 3)

    def run(chunk: Chunk) -> None:
        images, _ = chunk
        planes = buf[:, images]
        kernel(g_onhw[:, images], weight, buf.shape[3], planes.reshape(*planes.shape[:2], -1))

    map_chunks(run, work.chunks, work.tiny)
    return buf[:, :, top:top + out_hw[0], left:left + out_hw[1]].transpose(1, 0, 2, 3)


def weight_gradient(x: Any, g: Any, kernel: Pair, pads: Pads, work: Pass) -> Any:
    """∂L/∂K (O, C, kh, kw): each chunk of images adds its share."""
    xp = array_module(x)
    shape = (g.shape[1], x.shape[1], *kernel)
    g_onhw = g.transpose(1, 0, 2, 3)
    zero = x.dtype.type(0)

    def run(chunk: Chunk) -> Any:
        images, _ = chunk
        buf = spread(x[images], (1, 1), pads)
        grad_w = xp.zeros(shape, dtype=x.dtype)
        direct.weight_kernel(buf.reshape(*buf.shape[:2], -1), g_onhw[:, images], buf.shape[3],
                             zero, grad_w)
        return grad_w

    return sum_chunks(run, work.chunks, work.tiny)
