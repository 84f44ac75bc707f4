"""2-D convolution and transposed convolution, each the adjoint of the other.

Both are built on one primitive, the cross-correlation Y = X ⋆ K of ``kernels/conv.py``, and its two
adjoints (in X and in K).  conv2d's input gradient is a transposed convolution and
conv_transpose2d's input gradient is a convolution, so the two ops share every line of arithmetic.
The forward looks up the convolution's plan (``kernels/conv_plan.py``: which algorithm each pass
takes) and stores it on the context as ``ctx.plan``; the backward runs what it names.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from ..function import Context, Function
from ..kernels.conv import (
    correlate,
    correlate_gradients,
    correlate_transpose,
    correlate_weight,
)
from ..kernels.conv_geometry import Pads, output_size
from ..kernels.conv_plan import plan_for
from ..kernels.pointwise import relu_backward
from ..tensor import Tensor, is_grad_enabled
from .checks import expect_float, expect_rank, pair
from .reduce import channel_sum


class Conv2d(Function):
    """Y[n, o, i, j] = b[o] + Σ_{c, p, q} K[o, c, p, q] · Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d]

    (PyTorch's conv2d is a cross-correlation; g is the group of output channel o).  Backward, with
    G = ∂L/∂Y (Goodfellow et al. 2016, §9.5; Dumoulin & Visin 2016, §4):

    * ∂L/∂X = the "full" convolution of G, zero-dilated by the stride (s − 1 zeros between
      neighbours), with the kernel rotated by 180°: exactly conv_transpose2d(G, K) with the same
      stride, padding, dilation and groups, and an output padding covering any input rows the
      strided windows never reached;
    * ∂L/∂K[o, c, p, q] = Σ_{n, i, j} G[n, o, i, j] · Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d],
      the correlation of the padded input with G;
    * ∂L/∂b[o] = Σ_{n, i, j} G[n, o, i, j].

    The bias is added to each piece of Y as the kernels compute it, while the piece is in cache.
    At inference (:func:`conv2d_inference`) the same epilogue can scale Y per channel, add a
    residual and rectify: max(Y·scale + b + R, 0), a batch norm, a residual sum and a ReLU
    folded in.  The rectifier alone also trains (:func:`conv2d_relu`): Z = max(Y, 0) is kept,
    and the backward starts from G · [Z > 0], the ReLU's own backward.
    """

    name = "conv2d"

    @staticmethod
    def forward(ctx: Context, x, weight, bias, stride: tuple[int, int], pads: Pads,
                dilation: tuple[int, int], groups: int, scale: Any = None, relu: bool = False,
                residual: Any = None):
        if (scale is not None or residual is not None) and ctx.requires_grad:
            raise RuntimeError("conv2d_inference has no backward: where a gradient is wanted, "
                               "call the layers one after another")
        ctx.unbatched = x.ndim == 3
        if ctx.unbatched:
            x = x[None]
            residual = None if residual is None else residual[None]
        ctx.conf = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, weight)
        ctx.plan = plan = plan_for(x.shape, weight.shape, stride, pads, dilation, groups,
                                   x.dtype, type(x))
        kept: list | None = [] if ctx.needs_input_grad[1] else None  # as the plan keeps
        y = correlate(x, weight, stride, pads, dilation, groups, bias=bias, scale=scale,
                      relu=relu, residual=residual, kept=kept, plan=plan)
        ctx.kept = kept[0] if kept else None
        ctx.rectified = y if relu and ctx.requires_grad else None
        return y[0] if ctx.unbatched else y

    @staticmethod
    def backward(ctx: Context, g):
        x, weight = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.conf
        g = g[None] if ctx.unbatched else g
        if ctx.rectified is not None:
            g = relu_backward(g, ctx.rectified, overwrite=ctx.grad_writable)
        gx = gw = gb = None
        plan = ctx.plan
        if ctx.needs_input_grad[0] and ctx.needs_input_grad[1] and plan.together:
            gx, gw = correlate_gradients(x, g, weight, stride, pads, dilation, groups, ctx.kept,
                                         plan=plan)
        if ctx.needs_input_grad[0] and gx is None:
            gx = correlate_transpose(g, weight, stride, pads, dilation, groups, x.shape[2:],
                                     plan=plan)
        if ctx.needs_input_grad[1] and gw is None:
            gw = correlate_weight(x, g, weight.shape[2:], stride, pads, dilation, groups,
                                  kept=ctx.kept, plan=plan)
        if ctx.needs_input_grad[2]:
            gb = channel_sum(g)
        return gx if gx is None or not ctx.unbatched else gx[0], gw, gb


class ConvTranspose2d(Function):
    """Z = the adjoint of X ↦ X ⋆ K applied to the input, with K (C_in, C_out/G, kh, kw) read as
    the weight of a conv2d from C_out to C_in channels:

        Z[n, c, y, x] = b[c] + Σ_{o, i, j, p, q : i·s + p·d − pad = y, j·s + q·d − pad = x}
                        X[n, o, i, j] · K[o, c', p, q]

    computed as the full correlation of the stride-dilated input with the rotated kernel.  Output
    size (H − 1)·s − 2·pad + d·(k − 1) + output_padding + 1.  Backward, with G = ∂L/∂Z:

    * ∂L/∂X = conv2d(G, K) with the same stride, padding, dilation and groups;
    * ∂L/∂K = the weight gradient of that conv2d with the roles swapped: Σ_{n,i,j} X[n, o, i, j] ·
      Gpad[n, g·C/G + c, i·s + p·d, j·s + q·d];
    * ∂L/∂b[c] = Σ_{n, y, x} G[n, c, y, x].
    """

    name = "conv_transpose2d"

    @staticmethod
    def forward(ctx: Context, x, weight, bias, stride: tuple[int, int], pads: Pads,
                dilation: tuple[int, int], groups: int, out_hw: tuple[int, int]):
        ctx.unbatched = x.ndim == 3
        if ctx.unbatched:
            x = x[None]
        ctx.conf = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, weight)
        # the plan of the conv2d (input out_hw, output x's size) whose adjoint this is
        ctx.plan = plan = plan_for((x.shape[0], weight.shape[1] * groups, *out_hw), weight.shape,
                                   stride, pads, dilation, groups, x.dtype, type(x),
                                   tuple(x.shape[2:]))
        z = correlate_transpose(x, weight, stride, pads, dilation, groups, out_hw, plan=plan)
        if bias is not None:
            z += bias[:, None, None]
        return z[0] if ctx.unbatched else z

    @staticmethod
    def backward(ctx: Context, g):
        x, weight = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.conf
        g = g[None] if ctx.unbatched else g
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = correlate(g, weight, stride, pads, dilation, groups, plan=ctx.plan)
            gx = gx[0] if ctx.unbatched else gx
        if ctx.needs_input_grad[1]:
            gw = correlate_weight(g, x, weight.shape[2:], stride, pads, dilation, groups,
                                  plan=ctx.plan)
        if ctx.needs_input_grad[2]:
            gb = channel_sum(g)
        return gx, gw, gb


# --- functional wrappers: PyTorch's signatures, argument checks --------------------------------


def _positive_int(op: str, name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value}")
    return value


def _check_common(op: str, x: Any, weight: Any, bias: Any, groups: int, in_axis: int,
                  out_channels: int) -> None:
    """Ranks, dtypes, channel counts against the weight and groups, and the bias shape."""
    expect_rank(op, "input", x, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
    expect_rank(op, "weight", weight, 4, "(out, in/groups, kh, kw)" if in_axis == 1
                else "(in, out/groups, kh, kw)")
    expect_float(op, "input", x)
    expect_float(op, "weight", weight)
    in_channels = weight.shape[1] * groups if in_axis == 1 else weight.shape[0]
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
            f"divisible by groups ({groups}); got weight of shape {tuple(weight.shape)}")
    if x.shape[-3] != in_channels:
        raise ValueError(
            f"{op}: expected input with {in_channels} channels (weight shape "
            f"{tuple(weight.shape)}, groups={groups}), got {x.shape[-3]} channels "
            f"(input shape {tuple(x.shape)})")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"{op}: expected bias of shape ({out_channels},), "
                         f"got shape {tuple(bias.shape)}")


def _same_pads(op: str, kernel: tuple[int, int], stride: tuple[int, int],
               dilation: tuple[int, int]) -> Pads:
    """PyTorch's 'same': total d·(k − 1) per axis, the odd extra zero at the bottom/right."""
    if stride != (1, 1):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride})")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    (th, tw) = totals
    return (th // 2, th - th // 2), (tw // 2, tw - tw // 2)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1):
    """2-D convolution (a cross-correlation, as in PyTorch) of an image batch with a filter bank.

    Each output map is a bias plus the sum, over the input maps of its group, of that map
    correlated with one learned kernel:

        out[n, o, i, j] = b[o] + Σ_{c, p, q} w[o, c, p, q] · x̃[n, g·C/G + c, i·s + p·d, j·s + q·d]

    with x̃ the input zero-padded by ``padding``, s the stride, d the dilation, G = ``groups``
    and g the group of output map o.  Sharing one kernel over every position is what makes the
    layer translation-equivariant and cheap in parameters.

    Args:
        input: (N, C_in, H, W), or unbatched (C_in, H, W).
        weight: (C_out, C_in/G, kh, kw).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or an (h, w) pair; ``padding`` may also be 'valid'
            (none) or 'same' (output as large as the input; stride 1 only).
        groups: G; input and output channels are split into G independent groups.

    Shape:
        Output (N, C_out, H_out, W_out) with
        H_out = ⌊(H + 2·padding − dilation·(kh − 1) − 1) / stride⌋ + 1, and W_out likewise.

    Backward:
        The input gradient is the "full" convolution of the output gradient (zero-dilated by the
        stride) with the kernel rotated by 180°, i.e. ``conv_transpose2d`` of the gradient with the
        same weight; the weight gradient correlates the padded input with the output gradient;
        the bias gradient sums the output gradient over N, H_out, W_out.

    References:
        LeCun et al. 1998, "Gradient-based learning applied to document recognition";
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 9 (§9.5 for the gradients);
        Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning".
    """
    return Conv2d.apply(input, weight, bias,
                        **_conv2d_arguments(input, weight, bias, stride, padding, dilation, groups))


def conv2d_relu(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1):
    """relu(conv2d(...)) as one op: the kernels rectify each piece of the output as they write
    it, where a separate ReLU made one more pass over the whole output (and one more array);
    differentiable (see :class:`Conv2d`)."""
    return Conv2d.apply(input, weight, bias, relu=True,
                        **_conv2d_arguments(input, weight, bias, stride, padding, dilation, groups))


def conv2d_inference(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, dilation: Any = 1, groups: int = 1, *, scale: Any = None,
                     residual: Any = None, relu: bool = False):
    """conv2d(...)·scale + bias per output channel (``scale`` None: 1), plus ``residual`` (a
    tensor of the output's shape), then max(·, 0) when ``relu``: a convolution with an
    evaluation-mode batch norm, a residual sum and a ReLU after it (``nn.utils.fuse`` calls
    it so), as one op whose kernels apply the epilogue to each piece of the output while it is
    in cache, where the separate layers made a pass over the whole output each.  It records no
    gradient (RuntimeError where one would be)."""
    op = "conv2d_inference"
    if is_grad_enabled() and any(getattr(a, "requires_grad", False)
                                 for a in (input, weight, bias, scale, residual)):
        raise RuntimeError("conv2d_inference has no backward: where a gradient is wanted, "
                           "call the layers one after another")
    scale = scale.data if isinstance(scale, Tensor) else scale
    if scale is not None and tuple(scale.shape) != (weight.shape[0],):
        raise ValueError(f"{op}: expected scale of shape ({weight.shape[0]},), "
                         f"got shape {tuple(scale.shape)}")
    arguments = _conv2d_arguments(input, weight, bias, stride, padding, dilation, groups)
    if residual is not None:
        residual = residual.data if isinstance(residual, Tensor) else residual
        expect_float(op, "residual", residual)
        if residual.dtype != input.dtype:
            raise TypeError(f"{op}: residual has dtype {residual.dtype}, the input {input.dtype}")
        out_hw = tuple(output_size(n, k, s, sum(p), d) for n, k, s, p, d in zip(
            input.shape[-2:], weight.shape[2:], arguments["stride"], arguments["pads"],
            arguments["dilation"], strict=True))
        if tuple(residual.shape) != (*input.shape[:-3], weight.shape[0], *out_hw):
            raise ValueError(f"{op}: expected residual of the output's shape "
                             f"{(*input.shape[:-3], weight.shape[0], *out_hw)}, got "
                             f"{tuple(residual.shape)}")
    return Conv2d.apply(input, weight, bias, scale=scale, relu=relu, residual=residual,
                        **arguments)


class _Spec(NamedTuple):
    """What the argument checks read of an array (shape, dtype, rank), hashable."""

    shape: tuple[int, ...]
    dtype: Any

    @property
    def ndim(self) -> int:
        return len(self.shape)


def _spec(a: Any) -> _Spec | None:
    return None if a is None else _Spec(a.shape, a.dtype)


def _conv2d_arguments(input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                      dilation: Any, groups: int) -> dict:
    """conv2d's arguments checked as PyTorch checks them, in the form :class:`Conv2d` takes
    (a dict the caller must not change).  The checks read only shapes, dtypes and settings, so
    each combination is checked once and its answer kept: a layer asks again on every call, and
    at batch 1 the checks cost a noticeable part of a small layer.  Settings that cannot be hashed
    (lists) are checked every time."""
    key = (_spec(input), _spec(weight), _spec(bias), stride, padding, dilation, groups)
    try:
        hash(key)
    except TypeError:
        return _check_conv2d_arguments(*key)
    return _check_conv2d_arguments_once(*key)


def _check_conv2d_arguments(input: _Spec, weight: _Spec, bias: _Spec | None, stride: Any,
                            padding: Any, dilation: Any, groups: int) -> dict:
    op = "conv2d"
    groups = _positive_int(op, "groups", groups)
    _check_common(op, input, weight, bias, groups, 1, weight.shape[0] if weight.ndim else 0)
    stride = pair(op, "stride", stride, minimum=1)
    dilation = pair(op, "dilation", dilation, minimum=1)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: padding must be 'same', 'valid', an int or a pair, "
                             f"got {padding!r}")
        pads = (_same_pads(op, kernel, stride, dilation) if padding == "same"
                else ((0, 0), (0, 0)))
    else:
        ph, pw = pair(op, "padding", padding, minimum=0)
        pads = ((ph, ph), (pw, pw))
    padded = tuple(n + a + b for n, (a, b) in zip(input.shape[-2:], pads, strict=True))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if reach[0] > padded[0] or reach[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel size {reach} (dilated; weight shape {tuple(weight.shape)}) is larger "
            f"than the padded input size {padded} (input shape {tuple(input.shape)})")
    return {"stride": stride, "pads": pads, "dilation": dilation, "groups": groups}


_check_conv2d_arguments_once = functools.lru_cache(maxsize=1024)(_check_conv2d_arguments)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1):
    """2-D transposed convolution: the adjoint (transpose) of ``conv2d``, often used to upsample.

    Every input pixel scatters a copy of its kernel, scaled by its value, into the output:

        out[n, c, y, x] = b[c] + Σ_{o, i, j, p, q : i·s + p·d − pad = y, j·s + q·d − pad = x}
                          x[n, o, i, j] · w[o, c, p, q]

    which equals the full correlation of the stride-dilated input with the rotated kernel.  It
    maps conv2d's output shape back to its input shape (not its values), which is why Zeiler et
    al.'s deconvolutional networks and decoders use it.

    Args:
        input: (N, C_in, H, W), or unbatched (C_in, H, W).
        weight: (C_in, C_out/G, kh, kw), read as the weight of a conv2d from C_out to C_in maps.
        bias: (C_out,) or None.
        stride, padding, dilation: an int or an (h, w) pair.
        output_padding: extra rows/columns on one side, smaller than the stride or the
            dilation, to pick among the sizes a strided conv2d maps to the same output size.
        groups: G, as in conv2d.

    Shape:
        Output (N, C_out, H_out, W_out) with
        H_out = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1.

    Backward:
        The input gradient is ``conv2d`` of the output gradient with the same weight and
        arguments; the weight gradient correlates the output gradient with the input (conv2d's
        weight gradient with the roles swapped); the bias gradient sums over N, H_out, W_out.

    References:
        Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning", §4;
        Zeiler et al., CVPR 2010, "Deconvolutional Networks".
    """
    op = "conv_transpose2d"
    groups = _positive_int(op, "groups", groups)
    out_channels = weight.shape[1] * groups if weight.ndim == 4 else 0
    _check_common(op, input, weight, bias, groups, 0, out_channels)
    stride = pair(op, "stride", stride, minimum=1)
    dilation = pair(op, "dilation", dilation, minimum=1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair, got {padding!r}")
    padding = pair(op, "padding", padding, minimum=0)
    output_padding = pair(op, "output_padding", output_padding, minimum=0)
    for o, s, d in zip(output_padding, stride, dilation, strict=True):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either "
                             f"stride {stride} or dilation {dilation}")
    out_hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in zip(
        input.shape[-2:], stride, padding, dilation, weight.shape[2:], output_padding,
        strict=True))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: output size {out_hw} is too small for input shape "
                         f"{tuple(input.shape)}, weight shape {tuple(weight.shape)} and padding "
                         f"{padding}")
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    return ConvTranspose2d.apply(input, weight, bias, stride=stride, pads=pads,
                                 dilation=dilation, groups=groups, out_hw=out_hw)
