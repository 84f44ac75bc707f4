"""Local normalisations across feature maps: local response normalisation (AlexNet), brightness
normalisation (Krizhevsky et al. 2012), local contrast normalisation (Jarrett et al. 2009) and its
subtractive step on its own.

LRN and brightness normalisation are the same computation, y_c = x_c / (k + a · Σ_{j∈W(c)} x_j²)^β
over a window W(c) of neighbouring channels at the same position; they differ only in how the
parameters are named and whether the sum is averaged (PyTorch's LRN uses a = α/n).  One private
op, :class:`ChannelWindowNorm`, computes it; two public wrappers keep their own conventions.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..function import Context, Function
from ..kernels import jit, layout, local_norm
from ..kernels.gaussian import gaussian_window
from ..tensor import unwrap
from .checks import expect_float, expect_rank, pair

# --- cross-channel window --------------------------------------------------------------------


def _channel_window_sum(a: Any, before: int, after: int) -> Any:
    """out[:, c] = Σ_{j=c−before}^{c+after} a[:, j], channels outside [0, C) counting as zero.

    A loop over the window's offsets (not over channels); a window that covers every channel
    from every position is a plain sum, returned with a length-1 channel axis to broadcast.
    """
    channels = a.shape[1]
    if before >= channels - 1 and after >= channels - 1:
        return a.sum(axis=1, keepdims=True)
    out = a.copy()
    for o in range(1, min(after, channels - 1) + 1):
        out[:, :channels - o] += a[:, o:]
    for o in range(1, min(before, channels - 1) + 1):
        out[:, o:] += a[:, :channels - o]
    return out


class ChannelWindowNorm(Function):
    """y_c = x_c · d_c^(−β),  d_c = k + a · s_c,  s_c = Σ_{j=c−b}^{c+f} x_j²  (zero outside).

    Backward, with g = ∂L/∂y: y_c depends on x_j (j in the window of c) through s_c, so

        ∂L/∂x_j = g_j · d_j^(−β) − 2aβ · x_j · Σ_{c : j ∈ W(c)} g_c · y_c / d_c,

    and the channels c whose window holds j form the reflected window [j − f, j + b].
    """

    name = "local_response_norm"

    @staticmethod
    def forward(ctx: Context, x, *, before: int, after: int, scale: float, beta: float, k: float):
        d = k + scale * _channel_window_sum(x * x, before, after)
        p = d ** (-beta)  # kept: the power is the costly part, and backward needs it again
        ctx.save_for_backward(x, d, p)
        ctx.window, ctx.scale, ctx.beta = (before, after), scale, beta
        return x * p

    @staticmethod
    def backward(ctx: Context, g):
        x, d, p = ctx.saved_tensors
        before, after = ctx.window
        gp = g * p
        t = gp * x  # g_c · y_c
        t /= d
        reflected = x * _channel_window_sum(t, after, before)  # may broadcast over channels
        reflected *= 2 * ctx.scale * ctx.beta
        gp -= reflected
        return gp


class BrightnessNorm(ChannelWindowNorm):
    """:class:`ChannelWindowNorm` under the name ``brightness_norm`` (for error messages)."""

    name = "brightness_norm"


def _expect_channels_first(op: str, x: Any) -> None:
    if x.ndim < 3:
        raise ValueError(f"{op}: expected input to be 3-D or more (N, C, *), "
                         f"got shape {tuple(x.shape)}")
    expect_float(op, "input", x)


def _window_size(op: str, size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{op}: size must be an int, got {size!r}")
    if size < 1:
        raise ValueError(f"{op}: size must be >= 1, got {size}")
    return size


def local_response_norm(input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """Local response normalisation across channels (AlexNet's), as PyTorch's.

        b_c = a_c / (k + α/n · Σ_{j=c−⌊n/2⌋}^{c+⌊(n−1)/2⌋} a_j²)^β,   n = ``size``

    Each activity is divided by a power of the energy of the n neighbouring maps at the same
    position, a form of lateral inhibition: maps compete, and a large response damps its
    neighbours. Channels outside [0, C) count as zeros, so an even n looks one map further back
    than forward, and the divisor n stays fixed at the borders.

    Args:
        input: (N, C, *), at least 3 dimensions; the channels are dim 1.
        size: n, the number of neighbouring channels summed over.
        alpha: α, the scale of the sum (divided by n).
        beta: β, the exponent.
        k: the additive constant, which keeps the divisor away from zero.

    Shape:
        Input (N, C, *); output the same.

    Backward:
        Each input reaches the output twice: directly, through its own divisor, and through
        the divisors of the channels whose window holds it, ∂L/∂a_j = g_j · d_j^(−β) −
        2αβ/n · a_j · Σ_{c : j ∈ W(c)} g_c · b_c / d_c, with d_c the divisor of channel c
        (:class:`ChannelWindowNorm`).

    References:
        Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep convolutional
        neural networks", §3.3.
    """
    x = unwrap(input)
    size = _window_size("local_response_norm", size)
    _expect_channels_first("local_response_norm", x)
    return ChannelWindowNorm.apply(input, before=size // 2, after=(size - 1) // 2,
                                   scale=float(alpha) / size, beta=float(beta), k=float(k))


def brightness_norm(input: Any, kappa: float = 2.0, lam: float = 1e-4, mu: float = 0.75,
                    size: int | None = 5):
    """Brightness normalisation, meant to follow rectified linear units.

        y_i = x_i / (κ + λ · Σ_j x_j²)^μ,   the sum over maps j at the same position

    Like :func:`local_response_norm`, each activity is divided by a power of the energy of its
    neighbouring maps, so that a strong response damps its neighbours; unlike it, λ is not
    divided by the window size, and the sum may run over every map. The defaults κ = 2,
    λ = 10⁻⁴, μ = 0.75 and a window of 5 maps are those of Krizhevsky et al. (2012).

    Args:
        input: (N, C, *), at least 3 dimensions; the channels are dim 1.
        kappa: κ, the additive constant.
        lam: λ, the scale of the sum.
        mu: μ, the exponent.
        size: the window: ⌊size/2⌋ maps before i and ⌊(size−1)/2⌋ after, zeros beyond the
            ends; None sums over every map.

    Shape:
        Input (N, C, *); output the same.

    Backward:
        As for :func:`local_response_norm`: each input gets its gradient through its own
        divisor and, with the factor −2λμ·x_j, through the divisors of the maps whose window
        holds it (:class:`ChannelWindowNorm`).

    References:
        Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep convolutional
        neural networks", §3.3.
    """
    x = unwrap(input)
    _expect_channels_first("brightness_norm", x)
    if size is None:
        before = after = max(x.shape[1] - 1, 0)
    else:
        size = _window_size("brightness_norm", size)
        before, after = size // 2, (size - 1) // 2
    return BrightnessNorm.apply(input, before=before, after=after, scale=float(lam),
                                   beta=float(mu), k=float(kappa))


# --- local contrast normalisation --------------------------------------------------------------


def _filter_1d(a: Any, taps: list[float], axis: int) -> Any:
    """'Same'-size zero-padded correlation of ``a`` with centred ``taps`` along ``axis``."""
    length, centre = a.shape[axis], len(taps) // 2
    out = a * taps[centre]
    for p, tap in enumerate(taps):
        o = p - centre
        if o == 0 or abs(o) >= length:
            continue
        dst = [slice(None)] * a.ndim
        src = [slice(None)] * a.ndim
        dst[axis], src[axis] = (slice(0, length - o), slice(o, None)) if o > 0 else \
            (slice(-o, None), slice(0, length + o))
        out[tuple(dst)] += tap * a[tuple(src)]
    return out


def _gaussian_filter(a: Any, taps_h: list[float], taps_w: list[float]) -> Any:
    """Σ_{p,q} w_pq · a[..., r+p, s+q] with w = taps_h ⊗ taps_w: two 1-D passes, zeros outside.

    The taps are symmetric, so this linear map is its own adjoint (the backward reuses it).
    """
    return _filter_1d(_filter_1d(a, taps_h, -2), taps_w, -1)


def subtract_local_mean(a: Any, taps: tuple[list[float], list[float]]) -> Any:
    """a − G(Σ_j a_j): the subtractive step of Jarrett et al. (2009), G the Gaussian window of
    :func:`_gaussian_filter` with ``taps`` = (taps_h, taps_w), summed over the maps j.

    Self-adjoint (G is symmetric and the same G(Σ_j ·) is taken from every map), so the
    backward of the step is the step itself applied to the output gradient.
    """
    return a - _gaussian_filter(a.sum(axis=1, keepdims=True), *taps)


class LocalContrastNorm(Function):
    """Local contrast normalisation of Jarrett et al. (2009), on (N, C, H, W).

    With w a normalised Gaussian window spread over the C maps (w_pq / C, so Σ_{j,p,q} = 1) and
    G(a)_{rs} = Σ_{pq} (w_pq / C) · a_{r+p, s+q} (zero padding, same size):

        v = x − G(Σ_j x_j)                       subtractive step
        σ = √S,  S = G(Σ_j v_j²)                 local standard deviation over all maps
        c = mean_{rs} σ                          one number per sample
        D = max(c, σ), floored at ε;   y = v / D    divisive step

    Backward, with g = ∂L/∂y (G is self-adjoint because w is symmetric):

        ∂L/∂v ← g / D
        ∂L/∂D  = −Σ_j g_j · y_j / D          (0 where D was floored at ε)
        ∂L/∂σ  = ∂L/∂D · [σ ≥ c] + (1/HW) · Σ_{rs} ∂L/∂D · [σ < c]   (through c = mean σ)
        ∂L/∂S  = ∂L/∂σ / (2σ)                (0 where σ = 0: then every v in the window is 0)
        ∂L/∂v += 2v · G(∂L/∂S)
        ∂L/∂x  = ∂L/∂v − G(Σ_j ∂L/∂v_j)

    Ties σ = c go to σ.
    """

    name = "local_contrast_norm"

    @staticmethod
    def forward(ctx: Context, x, *, taps_h: list[float], taps_w: list[float], eps: float):
        ctx.taps, ctx.eps = (taps_h, taps_w), eps
        if jit.serves(x):  # the same, compiled: three passes each way (kernels/local_norm.py)
            planes, steps = layout.planes(x)
            y, *statistics = local_norm.forward(planes, steps, x.shape, ctx.taps, eps)
            ctx.save_for_backward(y, *statistics)
            ctx.compiled = steps
            return layout.unplaned(y, steps, x.shape)
        ctx.compiled = None
        xp = array_module(x)
        v = subtract_local_mean(x, (taps_h, taps_w))
        sigma = xp.sqrt(_gaussian_filter((v * v).sum(axis=1, keepdims=True), taps_h, taps_w))
        c = sigma.mean(axis=(2, 3), keepdims=True)
        use_sigma = sigma >= c
        d = xp.where(use_sigma, sigma, c)
        floored = d < eps
        d = xp.where(floored, x.dtype.type(eps), d)
        y = v / d
        ctx.save_for_backward(v, sigma, d, y, use_sigma, floored)
        return y

    @staticmethod
    def backward(ctx: Context, g):
        if ctx.compiled is not None:  # the forward saved what the compiled backward reads
            y, sigma, divisor, mean_sigma = ctx.saved_tensors
            planes, steps = layout.planes(g.astype(y.dtype, copy=False))
            dx = local_norm.backward(planes, steps, y, ctx.compiled, g.shape, ctx.taps, ctx.eps,
                                     sigma, divisor, mean_sigma)
            return layout.unplaned(dx, ctx.compiled, g.shape)
        v, sigma, d, y, use_sigma, floored = ctx.saved_tensors
        xp = array_module(g)
        zero = g.dtype.type(0)
        gv = g / d
        gd = xp.where(floored, zero, -(g * y).sum(axis=1, keepdims=True) / d)
        via_c = xp.where(use_sigma, zero, gd).mean(axis=(2, 3), keepdims=True)
        g_sigma = xp.where(use_sigma, gd, zero) + via_c
        positive = sigma > 0
        g_s = xp.where(positive, g_sigma / (2 * xp.where(positive, sigma, 1)), zero)
        gv += 2 * v * _gaussian_filter(g_s, *ctx.taps)
        return subtract_local_mean(gv, ctx.taps)


def local_contrast_norm(input: Any, kernel_size: int | tuple[int, int] = 9,
                        sigma: float | None = None, eps: float = 1e-8):
    """Local contrast normalisation: subtract the local mean, then divide by the local spread.

    Each position of each map loses the Gaussian-weighted mean of its neighbourhood over all
    maps, and is then divided by the Gaussian-weighted standard deviation there, unless that is
    below the image's average one:

        v = x − G(Σ_j x_j),   σ = √G(Σ_j v_j²),   c = mean over positions of σ,
        y = v / max(c, σ, ε)

    where G is the convolution with a normalised Gaussian window w spread over the C maps
    (Σ_{j,p,q} w = 1, zero padding, output as large as the input). The layer makes the features
    respond to local contrast and edges rather than to brightness and lighting, which is what
    Jarrett et al. found to matter most in their multi-stage recognition systems.

    Unlike a literal reading of Jarrett's formula, whose un-normalised window summed over all
    maps would subtract C local means, the window is normalised over maps and positions, so a
    constant image becomes zero away from the borders.

    Args:
        input: (N, C, H, W).
        kernel_size: the window, odd: an int or (kh, kw); Jarrett's 9×9 by default.
        sigma: the Gaussian's standard deviation in pixels (default: a quarter of the larger
            side of the window).
        eps: floor of the divisor, so that an all-zero sample gives 0 rather than 0/0 (there the
            layer is y = v/ε, and its gradient of order 1/ε).

    Shape:
        Input (N, C, H, W); output the same.

    Backward:
        The gradient first passes the division: g/D to v, and to the divisor D the sum over maps
        of −g·y/D, which reaches σ where σ ≥ c and otherwise the average c (so every position
        shares it); from σ it goes back through the local variance to v (2v times the window
        filtered gradient), and finally through the subtraction, which is linear and symmetric:
        ∂L/∂x = ∂L/∂v − G(Σ_j ∂L/∂v_j). The formulas: :class:`LocalContrastNorm`.

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage architecture
        for object recognition?"; Pinto, Cox & DiCarlo 2008, "Why is real-world visual object
        recognition hard?".
    """
    op = "local_contrast_norm"
    taps_h, taps_w = _map_window_taps(op, input, kernel_size, sigma)
    if eps <= 0:
        raise ValueError(f"{op}: eps must be > 0, got {eps}")
    return LocalContrastNorm.apply(input, taps_h=taps_h, taps_w=taps_w, eps=float(eps))


def _map_window_taps(op: str, input: Any, kernel_size: int | tuple[int, int],
                     sigma: float | None) -> tuple[list[float], list[float]]:
    """The separable taps of a Gaussian window normalised over the input's C maps and its
    (odd) ``kernel_size`` positions (Σ_{j,p,q} w = 1), after checking the input is (N, C, H, W)
    floats."""
    x = unwrap(input)
    expect_rank(op, "input", x, 4, "(N, C, H, W)")
    expect_float(op, "input", x)
    kh, kw = pair(op, "kernel_size", kernel_size, minimum=1)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"{op}: kernel_size must be odd (the window needs a centre pixel), "
                         f"got {(kh, kw)}")
    window = gaussian_window((kh, kw), sigma)
    channels = max(x.shape[1], 1)
    return ([float(t) / channels for t in window.sum(axis=1)],
            [float(t) for t in window.sum(axis=0)])


class SubtractiveNorm(Function):
    """Subtractive normalisation alone (Jarrett et al. 2009), on (N, C, H, W):

        v_ijk = x_ijk − Σ_{i', p, q} w_pq · x_{i', j+p, k+q},   Σ_{i', p, q} w_pq = 1,

    a Gaussian window w over positions spread evenly over the C maps (zero padding, same size).
    Backward: the map is linear and self-adjoint (see :func:`subtract_local_mean`), so
    ∂L/∂x = g − Σ_{i'} G(g_{i'}).  Why on its own: it removes the local mean so that the
    following divisive step, or a classifier, sees local contrast rather than brightness.
    """

    name = "subtractive_norm"

    @staticmethod
    def forward(ctx: Context, x, *, taps_h: list[float], taps_w: list[float]):
        ctx.taps = (taps_h, taps_w)
        return subtract_local_mean(x, ctx.taps)

    @staticmethod
    def backward(ctx: Context, g):
        return subtract_local_mean(g, ctx.taps)


def subtractive_norm(input: Any, kernel_size: int | tuple[int, int] = 9,
                     sigma: float | None = None):
    """Subtractive normalisation: each value minus the Gaussian-weighted mean of its neighbourhood.

        v[n, i, j, k] = x[n, i, j, k] − Σ_{i', p, q} w[p, q] · x[n, i', j + p, k + q]

    with w a normalised Gaussian window spread evenly over the C maps (Σ_{i', p, q} w = 1, zero
    padding, output as large as the input). It is the first step of :func:`local_contrast_norm`
    on its own: it removes the local mean, so that what follows (the divisive step, or a
    classifier) sees local contrast rather than brightness.

    Args:
        input: (N, C, H, W).
        kernel_size: the window, odd: an int or (kh, kw); 9×9 by default, as Jarrett et al.
        sigma: the Gaussian's standard deviation in pixels (default: a quarter of the larger
            side of the window).

    Shape:
        Input (N, C, H, W); output the same.

    Backward:
        The map is linear and its window symmetric, so it is its own adjoint: the gradient
        loses its own local mean in the same way, ∂L/∂x = g − Σ_{i'} G(g_{i'}).

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage architecture
        for object recognition?".
    """
    taps_h, taps_w = _map_window_taps("subtractive_norm", input, kernel_size, sigma)
    return SubtractiveNorm.apply(input, taps_h=taps_h, taps_w=taps_w)
