"""Batch normalisation (Ioffe & Szegedy 2015), per channel, with PyTorch's functional semantics.

For an input of shape (N, C, *) every channel c is normalised over its M = N·∏(*) values:

    μ_c = (1/M) Σ x,   σ²_c = (1/M) Σ (x − μ_c)²   (biased: the one used to normalise),
    x̂ = (x − μ_c) / √(σ²_c + ε),   y = γ_c · x̂ + β_c.

In training the batch statistics are used and the running buffers are updated in place,

    running_mean ← (1 − m)·running_mean + m·μ_c,
    running_var  ← (1 − m)·running_var  + m·σ²_c · M/(M − 1)   (unbiased, as PyTorch),

while in evaluation the running statistics replace μ_c and σ²_c (and are not changed).

The passes over the activations run compiled where they can (``kernels/norm.py``: float32 and
float64 arrays in NCHW or (C, N, H, W) memory, Numba installed); the NumPy expressions below are
the same formulas for every other case, and the tests compare the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..kernels import norm, pointwise
from .checks import expect_float
from .reduce import channel_sum

_NAME = "batch_norm"


def _channel_view(v: Any, ndim: int) -> Any:
    """A (C,) vector as (1, C, 1, …) so it broadcasts over an (N, C, *) input."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _infer(x: Any, view: Any, mean: Any, var: Any, eps: float, weight: Any, bias: Any) -> Any:
    """γ·(x − E)/√(Var + ε) + β as x·a + b with a = γ/√(Var + ε) and b = β − E·a: two passes over
    x, not four (one, compiled, where ``view`` is x's (P, C, L) view; that pass also computes a
    and b, sparing five small NumPy calls at batch 1)."""
    if view is not None:
        y, y_view = norm.like(x, view)
        c = x.shape[1]
        norm.by_channels(norm.infer, view, view,
                         *(norm.vector(v, x.dtype, c, fill)
                           for v, fill in ((mean, 0), (var, 1), (weight, 1), (bias, 0))),
                         eps, y_view)
        return y
    a = 1 / array_module(x).sqrt(var + eps)
    a = a if weight is None else weight * a
    b = -mean * a if bias is None else bias - mean * a
    y = x * _channel_view(a.astype(x.dtype, copy=False), x.ndim)
    y += _channel_view(b.astype(x.dtype, copy=False), x.ndim)
    return y


def _batch_statistics(xp: Any, x: Any, view: Any, count: int, eps: float, running_mean: Any,
                      running_var: Any, momentum: float) -> tuple[Any, Any, Any]:
    """The batch mean and 1/√(σ² + ε) per channel (in x's dtype), with the running statistics
    moved toward the batch's in place (:func:`_update_running`), and x − mean when NumPy
    computed it on the way (None from the compiled pass, which needs no centred copy and does
    the vector arithmetic too: a dozen NumPy calls fewer, which count at batch 1)."""
    if view is not None:
        mean, inv_std = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
        running = [mean if r is None else r for r in (running_mean, running_var)]
        norm.by_channels(norm.statistics, view, view, eps, momentum, count / (count - 1),
                         *running, running_mean is not None, running_var is not None, mean,
                         inv_std)
        return mean, inv_std, None
    mean = channel_sum(x) / count
    centred = x - _channel_view(mean, x.ndim)
    var = channel_sum(centred, centred) / count
    _update_running(running_mean, running_var, mean, var, count, momentum)
    return mean, 1 / xp.sqrt(var + eps), centred


def _update_running(running_mean: Any, running_var: Any, mean: Any, var: Any, count: int,
                    momentum: float) -> None:
    """running ← (1 − m)·running + m·batch, in place, with the variance made unbiased."""
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
    if running_var is not None:
        unbiased = var * (count / (count - 1))
        running_var[...] = (1 - momentum) * running_var + momentum * unbiased


def _normalise_compiled(x: Any, view: Any, mean: Any, inv_std: Any, weight: Any, bias: Any,
                        residual: Any, relu: bool) -> Any:
    """y = γ·(x − mean)·inv_std + β (+ residual, then max(·, 0) when ``relu``), laid out as x,
    in one compiled pass; ``mean`` and ``inv_std`` as x's dtype."""
    channels, dtype = x.shape[1], x.dtype
    y, y_view = norm.like(x, view)
    r_view = view if residual is None else _alike(residual, x, view)
    norm.by_channels(norm.normalise_kernels[residual is not None, relu], view,
                     view, mean, inv_std, norm.vector(weight, dtype, channels, 1),
                     norm.vector(bias, dtype, channels, 0), r_view, y_view)
    return y


def _alike(a: Any, x: Any, view: Any) -> Any:
    """``a`` (x's shape) as a (P, C, L) view matching x's ``view``: itself where its memory is
    laid out as x's, else a copy in x's layout (one pass, as the sum it replaces)."""
    a_view = norm.channel_view(a)
    if a_view is not None and a_view.shape == view.shape:
        return a_view
    copy, copy_view = norm.like(x, view)
    copy[...] = a
    return copy_view


def _epilogue(y: Any, residual: Any, relu: bool) -> Any:
    """y + residual, then max(·, 0) when ``relu``: the NumPy path's end of the fused op."""
    if residual is not None:
        y = y + residual
    return pointwise.relu(y) if relu else y


class BatchNorm(Function):
    """Per-channel batch normalisation with a hand-written backward.

    Forward (training):  y = γ·(x − μ_B)/√(σ²_B + ε) + β with the batch statistics μ_B, σ²_B.
    Forward (eval):      y = γ·(x − E[x])/√(Var[x] + ε) + β with the running statistics.

    Backward, with g = ∂L/∂y, s = √(σ² + ε) and means taken per channel over the M values:

        training:  ∂L/∂x = (γ/s) · (g − mean(g) − x̂ · mean(g·x̂)),
        eval:      ∂L/∂x = (γ/s) · g   (the statistics are constants),
        both:      ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g.

    The training formula is the compact form of the Jacobian derived in Epelbaum, "Deep learning:
    Technical introduction" (2017), appendix "Backprop through BatchNorm":
    ∂y_{t'l'm'}/∂h_{tlm} = (γ/s)·[δ − (1 + x̂_{t'l'm'} x̂_{tlm})/M], contracted with g;
    Ioffe & Szegedy's (2015) chain through ∂L/∂σ²_B and ∂L/∂μ_B gives the same.

    Fused (``residual`` and/or ``relu``; ``nn.utils.fuse`` in training): z = max(y + r, 0),
    in the same pass over the activations as y.  Backward then first takes g through the
    rectifier, g·[z > 0], which is also ∂L/∂r, and goes on as above: a residual block's
    "BN → (+ shortcut) → ReLU" as one op, where the three ops made a pass and a full-size array
    each.
    """

    name = _NAME

    @staticmethod
    def forward(ctx: Context, x, weight, bias, running_mean, running_var, residual=None, *,
                training: bool, momentum: float, eps: float, relu: bool = False):
        xp = array_module(x)
        ndim, count = x.ndim, x.size // x.shape[1]
        view = norm.channel_view(x)  # the compiled passes' view of x, or None
        if training:
            mean, inv_std, centred = _batch_statistics(xp, x, view, count, eps, running_mean,
                                                       running_var, momentum)
        else:
            mean, var = running_mean, running_var
            plain = residual is None and not relu
            if not ctx.requires_grad and (plain or view is None):
                # inference: one affine map, y = x·a + (β − E·a); with a sum or a rectifier
                # after it, the compiled pass below does all of it at once
                return _epilogue(_infer(x, view, mean, var, eps, weight, bias), residual, relu)
            centred = None if view is not None else x - _channel_view(running_mean, ndim)
            inv_std = 1 / xp.sqrt(var + eps)
        if view is not None:  # x itself is kept: the backward recomputes x̂ from it
            mean = norm.vector(mean, x.dtype, x.shape[1], 0)
            inv_std = norm.vector(inv_std, x.dtype, x.shape[1], 1)
            y = _normalise_compiled(x, view, mean, inv_std, weight, bias, residual, relu)
            ctx.save_for_backward(x, mean, inv_std, weight, y if relu else None)
        else:
            x_hat = centred
            x_hat *= _channel_view(inv_std, ndim)  # in place: one full-size array fewer
            y = x_hat * _channel_view(weight, ndim) if weight is not None else x_hat.copy()
            if bias is not None:
                y += _channel_view(bias, ndim)
            y = _epilogue(y, residual, relu)
            ctx.save_for_backward(x_hat, None, inv_std, weight, y if relu else None)
        ctx.training, ctx.count = training, count
        return y

    @staticmethod
    def backward(ctx: Context, g):
        saved, mean, inv_std, weight, z = ctx.saved_tensors  # saved: x (mean given), or x̂
        needs = ctx.needs_input_grad
        ndim = g.ndim
        full = needs[0] and ctx.training
        views = norm.channel_view(g), norm.channel_view(saved)
        compiled = all(v is not None for v in views)
        z_view = None if z is None else norm.channel_view(z)
        if z is not None and (needs[5] or not (compiled and ctx.training) or z_view is None
                              or z_view.shape != views[1].shape):
            # through the rectifier first, g·[z > 0], written out (also the residual's
            # gradient); otherwise the compiled passes mask g as they read it
            g, z, z_view = pointwise.relu_backward(g, z), None, None
            views = norm.channel_view(g), views[1]
            compiled = views[0] is not None
        if compiled and views[0].shape != views[1].shape:
            # g laid out unlike x (a residual sum's gradient): one copy into x's layout costs
            # less than the NumPy passes
            g_copy, g_view = norm.like(saved, views[1])
            g_copy[...] = g
            g, views = g_copy, (g_view, views[1])
        if compiled:  # what the compiled passes make x̂ of: (x − mean)·inv_std, or x̂ itself
            x_stats = (views[1], *((mean, inv_std) if mean is not None else
                                   (np.zeros(g.shape[1], g.dtype), np.ones(g.shape[1], g.dtype))))
        else:
            x_hat = saved if mean is None else \
                (saved - _channel_view(mean, ndim)) * _channel_view(inv_std, ndim)
        gradient_sums, input_gradient = norm.backward_kernels[z is not None]
        g_z = (views[0], views[0] if z is None else z_view)  # g and its mask's z (if any)
        if compiled and (needs[1] or needs[2] or full):
            sums = np.empty(g.shape[1]), np.empty(g.shape[1])
            norm.by_channels(gradient_sums, views[1], *g_z, *x_stats, *sums)
            sum_g, sum_gx = (v.astype(g.dtype) for v in sums)
        else:
            sum_g = channel_sum(g) if (needs[2] or full) else None
            sum_gx = channel_sum(g, x_hat) if (needs[1] or full) else None
        gx = None
        if needs[0]:
            scale = inv_std if weight is None else weight * inv_std
            m = ctx.count
            if compiled and ctx.training:  # the formula below, in one compiled pass
                gx, gx_view = norm.like(g, views[0])
                norm.by_channels(input_gradient, views[1], *g_z, *x_stats, scale, sum_g / m,
                                 sum_gx / m, gx_view)
            else:
                gx = g * _channel_view(scale, ndim)
                if ctx.training:  # (γ/s)·(g − mean g − x̂·mean(g x̂)), without a mean-sized temp
                    gx -= x_hat * _channel_view(scale * (sum_gx / m), ndim)
                    gx -= _channel_view(scale * (sum_g / m), ndim)
        return (gx, sum_gx if needs[1] else None, sum_g if needs[2] else None, None, None,
                g if needs[5] else None)


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5, *, residual: Any = None, relu: bool = False):
    """Batch normalisation: standardise each channel, then scale and shift it.

        y = γ · (x − μ) / √(σ² + ε) + β

    In training μ and σ² are the mean and (biased) variance of the channel over the batch and
    the spatial positions, and the running statistics move towards them by ``momentum``
    (running ← (1 − m)·running + m·batch, the variance unbiased); in evaluation the running
    statistics are used.  It keeps each layer's inputs at a steady scale, which allows higher
    learning rates.

    Args:
        input: (N, C) or (N, C, *).
        running_mean: (C,), updated in place in training; may be None there.
        running_var: (C,), likewise (the unbiased variance).
        weight: γ, (C,) or None (1).
        bias: β, (C,) or None (0).
        training: normalise with the batch's statistics (and update the running ones).
        momentum: how far the running statistics move towards the batch's.
        eps: ε, added to the variance.
        residual: beyond PyTorch: a tensor added after the normalisation, so that
            max(batch_norm(x) + residual, 0) is one op, which ``nn.utils.fuse`` uses for a
            residual block.
        relu: rectify the result, max(·, 0), in the same op.

    Shape:
        output as the input.

    Backward:
        In training the statistics depend on every input of the channel, so
        ∂L/∂x = (γ/σ̂) · (g − mean(g) − x̂ · mean(g · x̂)), x̂ the standardised input and the
        means over the channel's M values; in evaluation ∂L/∂x = (γ/σ̂) · g.  ∂L/∂γ = Σ g · x̂,
        ∂L/∂β = Σ g.

    References:
        Ioffe & Szegedy 2015, "Batch normalization: accelerating deep network training by
        reducing internal covariate shift".
    """
    from ..tensor import Tensor

    x = input.data if isinstance(input, Tensor) else input
    if x.ndim < 2:
        raise ValueError(f"{_NAME}: expected input to be 2-D or more (N, C, *), "
                         f"got shape {tuple(x.shape)}")
    expect_float(_NAME, "input", x)
    channels = x.shape[1]
    stats = [s.data if isinstance(s, Tensor) else s for s in (running_mean, running_var)]
    for label, v in (("running_mean", stats[0]), ("running_var", stats[1]),
                     ("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != (channels,):
            raise ValueError(f"{_NAME}: expected {label} of shape ({channels},) for input of "
                             f"shape {tuple(x.shape)}, got {tuple(v.shape)}")
    if not training and (stats[0] is None or stats[1] is None):
        raise ValueError(f"{_NAME}: running_mean and running_var must be given in evaluation "
                         "mode (training=False)")
    if momentum is None or isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"{_NAME}: momentum must be a float, got {momentum!r}")
    if training and x.size // max(channels, 1) <= 1:
        raise ValueError(f"{_NAME}: Expected more than 1 value per channel when training, "
                         f"got input size {tuple(x.shape)}")
    if residual is not None:
        expect_float(_NAME, "residual", residual)
        if tuple(residual.shape) != tuple(x.shape):
            raise ValueError(f"{_NAME}: expected residual of the input's shape {tuple(x.shape)}, "
                             f"got {tuple(residual.shape)}")
    return BatchNorm.apply(input, weight, bias, stats[0], stats[1], residual,
                           training=bool(training), momentum=float(momentum), eps=float(eps),
                           relu=bool(relu))
