"""Cross-correlation, the one primitive behind conv2d and conv_transpose2d, and its adjoints.

For an input X (N, C, H, W), a weight K (O, C/G, kh, kw) in G groups, stride s, dilation d and
zero padding (top, bottom, left, right), the correlation is

    Y[n, o, i, j] = Σ_{c, p, q} K[o, c, p, q] · Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d]

(g the group of o).  Everything else is this correlation with its arguments moved around:

* the adjoint in X (conv2d's input gradient, and conv_transpose2d's forward) is the *full*
  correlation of the output gradient, upsampled by the stride and padded by d·(k − 1) − pad,
  with the kernel rotated by 180° and its two channel axes swapped (Goodfellow et al.
  2016, §9.5; Dumoulin & Visin 2016, "A guide to convolution arithmetic", §4: the "full"
  convolution with the flipped kernel, the gradient first dilated by the stride);
* the adjoint in K (the weight gradient) correlates the padded input with the output gradient
  (Goodfellow et al. 2016, §9.5).

Each function takes the convolution's :class:`~.conv_plan.ConvPlan` (looked up when not given)
and runs the algorithm it names, from ``conv_im2col.py``, ``conv_winograd.py``,
``conv_direct.py``, ``conv_depthwise.py``, ``conv_depthwise_nhwc.py``,
``conv_depthwise_masked.py`` or ``conv_pointwise.py``;
``reference=True``
runs the readable loops of ``conv_reference.py`` instead.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from . import (
    conv_depthwise,
    conv_depthwise_masked,
    conv_depthwise_nhwc,
    conv_direct,
    conv_im2col,
    conv_pointwise,
    conv_reference,
    conv_winograd,
)
from .conv_epilogue import Epilogue, epilogue
from .conv_geometry import Pads, Pair, full_pads, output_size, spread
from .conv_plan import (
    COL2IM,
    DEPTHWISE,
    DEPTHWISE_MASKED,
    DEPTHWISE_NHWC,
    DIRECT,
    DIRECT_ADJOINT,
    POINTWISE,
    WINOGRAD,
    ConvPlan,
    Pass,
    plan_for,
)

DEPTHWISE_LAYOUTS = {DEPTHWISE: conv_depthwise, DEPTHWISE_NHWC: conv_depthwise_nhwc}

__all__ = ["Pads", "correlate", "correlate_gradients", "correlate_transpose",
           "correlate_weight", "output_size", "plan_for"]


def correlate(x: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair | None = None, reference: bool = False, bias: Any = None,
              scale: Any = None, relu: bool = False, residual: Any = None,
              kept: list | None = None, plan: ConvPlan | None = None) -> Any:
    """Y = X ⋆ K (the conv2d forward) as an NCHW view of (O, N, Ho, Wo) memory, times ``scale``
    and plus ``bias`` per output channel, plus ``residual`` (NCHW, Y's shape), then max(Y, 0)
    when ``relu`` (each applied to a chunk of Y as soon as it is computed).

    ``out_hw`` may ask for fewer window positions than fit (the adjoint of a transposed
    convolution whose output padding exceeded the stride).  ``kept``: a list the kept buffer is
    appended to, where the plan keeps one (for :func:`correlate_weight`)."""
    if plan is None:
        plan = plan_for(x.shape, weight.shape, stride, pads, dilation, groups, x.dtype, type(x),
                        None if out_hw is None else tuple(out_hw))
    finish = epilogue(scale, bias, relu, None if residual is None
                      else residual.transpose(1, 0, 2, 3))
    return _correlate(x, weight, (1, 1), pads, stride, dilation, groups, plan.out_hw,
                      None if reference else plan.forward, finish,
                      kept if plan.keep is not None else None)


def _correlate(x: Any, weight: Any, upsample: Pair, pads: Pads, stride: Pair, dilation: Pair,
               groups: int, out_hw: Pair, work: Pass | None, finish: Epilogue | None = None,
               kept: list | None = None) -> Any:
    """The correlation of x upsampled and padded, as an NCHW view, by ``work``'s algorithm
    (None: the reference), each chunk given ``finish``."""
    if work is None:
        y = conv_reference.correlate(spread(x, upsample, pads), weight, stride, dilation, groups,
                                     out_hw)
        if finish is not None:
            finish(y)
    elif work.algorithm == WINOGRAD:
        y = conv_winograd.correlate(x, weight, pads, out_hw, work, finish, kept)
    elif work.algorithm == DIRECT:
        y = conv_direct.correlate(x, weight, pads, out_hw, work, finish)
    elif work.algorithm == POINTWISE:
        y = conv_pointwise.correlate(x, weight, out_hw, work, finish)
    elif work.algorithm == DEPTHWISE_MASKED:
        y = conv_depthwise_masked.correlate(x, weight, pads, stride, dilation, out_hw, work,
                                            finish)
    elif work.algorithm in DEPTHWISE_LAYOUTS:
        y = DEPTHWISE_LAYOUTS[work.algorithm].correlate(x, weight, pads, stride, dilation,
                                                         out_hw, work, finish)
    else:
        y = conv_im2col.correlate(x, weight, upsample, pads, stride, dilation, groups, out_hw,
                                  work, finish, kept)
    return y.transpose(1, 0, 2, 3)


def correlate_transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair,
                        groups: int, out_hw: Pair, reference: bool = False,
                        plan: ConvPlan | None = None) -> Any:
    """Z = the adjoint of X ↦ X ⋆ K applied to G, an NCHW array of spatial size ``out_hw``.

    As the seeds derive it, Z is the full correlation (stride 1, dilation d) of G upsampled by
    the stride and padded by d·(k − 1) − top before and out − (Ho − 1)·s − 1 + top after
    (negative pads crop), with the kernel rotated by 180° and its channel axes swapped within each
    group: K'[g·C/G + c, o', p, q] = K[g·O/G + o', c, kh − 1 − p, kw − 1 − q].  The plan may
    compute the same operator as GEMM then col2im, or by the direct loops' adjoint, where that
    correlation would mostly multiply zeros (``conv_plan._input_grad_pass``)."""
    o, cg, kh, kw = weight.shape
    out_hw = tuple(out_hw)
    if plan is None:
        plan = plan_for((g.shape[0], cg * groups, *out_hw), weight.shape, stride, pads,
                        dilation, groups, g.dtype, type(g), tuple(g.shape[2:]))
    work = None if reference else plan.input_grad
    if work is not None and work.algorithm in DEPTHWISE_LAYOUTS:
        return DEPTHWISE_LAYOUTS[work.algorithm].transpose(g, weight, stride, pads, dilation,
                                                           groups, out_hw, work)
    if work is not None and work.algorithm == DIRECT_ADJOINT:
        return conv_direct.transpose(g, weight, pads, out_hw, work)
    if work is not None and work.algorithm == COL2IM:
        return conv_im2col.transpose(g, weight, stride, pads, dilation, groups, out_hw, work)
    full = full_pads((kh, kw), stride, pads, dilation, g.shape[2:], out_hw)
    rotated = weight.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    rotated = rotated.reshape(groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]
    return _correlate(g, rotated, stride, full, (1, 1), dilation, groups, out_hw, work)


def correlate_weight(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                     groups: int, reference: bool = False, kept: Any = None,
                     plan: ConvPlan | None = None) -> Any:
    """∂L/∂K for Y = X ⋆ K and G = ∂L/∂Y:  ∂L/∂K[o, c, p, q] = Σ_{n,i,j} G[n, o, i, j] ·
    Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d], shape (O, C/G, kh, kw).  ``kept``: the buffer the
    forward kept (``correlate(..., kept=)``), used instead of copying x's windows again."""
    o = g.shape[1]
    cg = x.shape[1] // groups
    if x.shape[0] == 0:  # an empty batch: nothing to sum (and no chunks to sum over)
        return array_module(x).zeros((o, cg, *kernel), dtype=g.dtype)
    if reference:
        return conv_reference.weight_gradient(x, g, kernel, stride, pads, dilation, groups)
    if plan is None:
        plan = plan_for(x.shape, (o, cg, *kernel), stride, pads, dilation, groups, x.dtype,
                        type(x), tuple(g.shape[2:]))
    work = plan.weight_grad
    if work.algorithm == WINOGRAD:
        return conv_winograd.weight_gradient(x, g, pads, work, kept)
    if work.algorithm == DIRECT:
        return conv_direct.weight_gradient(x, g, kernel, pads, work)
    if work.algorithm == POINTWISE:
        return conv_pointwise.weight_gradient(x, g, work)
    if work.algorithm == DEPTHWISE_MASKED:
        return conv_depthwise_masked.weight_gradient(x, g, kernel, pads, stride, dilation, work)
    if work.algorithm in DEPTHWISE_LAYOUTS:
        return DEPTHWISE_LAYOUTS[work.algorithm].weight_gradient(x, g, kernel, stride, pads,
                                                                 dilation, work)
    return conv_im2col.weight_gradient(x, g, kernel, stride, pads, dilation, groups, work, kept)


def correlate_gradients(x: Any, g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair,
                        groups: int, kept: Any = None,
                        plan: ConvPlan | None = None) -> tuple[Any, Any] | None:
    """(∂L/∂X, ∂L/∂K) of Y = X ⋆ K together, in one pass over the chunks of the work, where the
    plan says so (``together``: Winograd's F(4×4, 3×3) on chunks of whole images;
    ``conv_winograd.gradients``); None elsewhere (then ask :func:`correlate_transpose` and
    :func:`correlate_weight` for each)."""
    if plan is None:
        plan = plan_for(x.shape, weight.shape, stride, pads, dilation, groups, x.dtype, type(x),
                        tuple(g.shape[2:]))
    if not plan.together:
        return None
    return conv_winograd.gradients(x, g, weight, pads, plan.weight_grad, kept)
