"""Normalisation layers: BatchNorm1d/2d (PyTorch's buffers and train/eval behaviour),
LocalResponseNorm, LocalContrastNorm and BrightnessNorm."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import DEFAULT_DTYPE
from ..ops.batch_norm import batch_norm
from ..ops.checks import expect_channels
from ..ops.local_norm import brightness_norm, local_contrast_norm, local_response_norm
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    """Shared body of BatchNorm1d/2d; subclasses only say which input ranks they take.

    Buffers, as PyTorch: ``running_mean`` (zeros), ``running_var`` (ones, unbiased estimate) and
    ``num_batches_tracked`` (0-d int64), all None when ``track_running_stats=False``.  In
    training each call adds 1 to ``num_batches_tracked`` and moves the running statistics by
    ``momentum`` (or by 1/num_batches_tracked when ``momentum=None``: a cumulative average).
    Evaluation uses the running statistics, or the batch's when none are tracked.
    ``bias=False`` (keyword-only, PyTorch 2.13) keeps γ but drops β.
    """

    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None,
                 *, bias: bool = True):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) \
                or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, "
                             f"got {num_features!r}")
        dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.empty(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(np.empty(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, x: Any) -> None:
        name = type(self).__name__
        if x.ndim not in self._ranks:
            want = " or ".join(f"{r}-D" for r in self._ranks)
            raise ValueError(f"{name}: expected {want} input {self._layout}, "
                             f"got shape {tuple(x.shape)}")
        expect_channels(name, "input", x.shape[1], self.num_features, x.shape)

    def forward(self, input: Any) -> Any:
        return self.forward_fused(input)

    def forward_fused(self, input: Any, residual: Any = None, relu: bool = False) -> Any:
        """max(self(input) + residual, 0) as one op (see ``F.batch_norm``), leaving out the
        sum when ``residual`` is None and the rectifier unless ``relu``: what
        ``nn.utils.fuse`` calls in training.  No hooks run (the caller checks there are
        none)."""
        self._check_input(input)
        factor = self._count_batch()
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if keep else None,
                          self.running_var if keep else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps, residual=residual, relu=relu)

    def _count_batch(self) -> float:
        """In training, count one more batch in ``num_batches_tracked``; return the factor
        the running statistics move by (``momentum``, or 1/num_batches_tracked without one)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            # In place, so a state_dict taken earlier sees the count (as PyTorch's add_(1)).
            tracked = self.num_batches_tracked
            tracked += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        return factor

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C (``F.batch_norm``).

        y = γ · (x − μ) / √(σ² + ε) + β

    In training μ and σ² are the channel's mean and biased variance over the batch (and L), and
    the running statistics move towards them; in evaluation the running statistics are used.

    Args:
        num_features: C, the number of channels (or features).
        eps: ε in the denominator.
        momentum: the step of the running statistics (None: their cumulative average).
        affine: whether γ and β are learned (as in :class:`BatchNorm2d`).
        track_running_stats: whether running statistics are kept at all.
        dtype: of the parameters and the buffers.
        bias: keyword-only; False drops β.

    Shape:
        Input (N, C) or (N, C, L); output the same.

    Backward:
        In training the statistics depend on every input of the channel, so the input gradient
        is the output gradient scaled by γ/σ̂ minus its mean and minus its projection on x̂;
        γ gets Σ g·x̂ and β gets Σ g (see ``F.batch_norm``).

    References:
        Ioffe & Szegedy 2015, "Batch normalization: accelerating deep network training by
        reducing internal covariate shift".
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C over N, H and W (``F.batch_norm``).

        y = γ · (x − μ) / √(σ² + ε) + β

    In training μ and σ² are the channel's mean and biased variance over the batch and the
    positions, and the running statistics move towards them; in evaluation the running
    statistics are used, so the layer becomes a fixed affine map per channel (which
    ``nn.utils.fuse_conv_bn`` folds into the preceding convolution).

    Args:
        num_features: C.
        eps: ε, added to the variance.
        momentum: how far the running statistics move per batch; None for a cumulative
            average (1/number of batches).
        affine: learn γ (``weight``, ones) and β (``bias``, zeros).
        track_running_stats: keep ``running_mean``, ``running_var`` and
            ``num_batches_tracked`` (else evaluation uses the batch's statistics too).
        dtype: the parameters' and buffers' dtype.
        bias: keyword-only; False keeps γ but drops β (PyTorch 2.13).

    Shape:
        Input (N, C, H, W); output the same.

    Backward:
        In training the input gradient is the output gradient scaled by γ/σ̂ minus its mean and
        minus its projection on x̂, per channel; γ gets Σ g·x̂ and β gets Σ g (see
        ``F.batch_norm``).

    References:
        Ioffe & Szegedy 2015, "Batch normalization: accelerating deep network training by
        reducing internal covariate shift".
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class LocalResponseNorm(Module):
    """Local response normalisation across channels, AlexNet's (``F.local_response_norm``).

        b_c = a_c / (k + α/n · Σ_{j near c} a_j²)^β,   n = ``size`` neighbouring channels

    Args:
        size: n, the number of neighbouring channels summed over.
        alpha: α, the scale of the sum (divided by n).
        beta: β, the exponent.
        k: the additive constant.

    Shape:
        Input (N, C, *); output the same.

    Backward:
        Each input gets its gradient through its own divisor and through the divisors of the
        channels whose window holds it (see ``F.local_response_norm``).

    References:
        Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep
        convolutional neural networks", §3.3.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Any) -> Any:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LocalContrastNorm(Module):
    """Local contrast normalisation (``F.local_contrast_norm``): subtractive, then divisive.

        v = x − G(Σ_j x_j),   σ = √G(Σ_j v_j²),   y = v / max(mean σ, σ, ε)

    G a normalised Gaussian window over neighbouring positions and all maps: the features then
    answer local contrast, not brightness.

    Args:
        kernel_size: the window, odd: an int or (kh, kw).
        sigma: the Gaussian's standard deviation in pixels (default: a quarter of the larger
            side).
        eps: floor of the divisor.

    Shape:
        Input (N, C, H, W); output the same.

    Backward:
        Through the division (to v and to the divisor, which reaches the local spread σ or its
        mean), the local variance, and the subtraction, which is its own adjoint (see
        ``F.local_contrast_norm``).

    References:
        Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, "What is the best multi-stage
        architecture for object recognition?".
    """

    def __init__(self, kernel_size: int | tuple[int, int] = 9, sigma: float | None = None,
                 eps: float = 1e-8):
        super().__init__()
        self.kernel_size, self.sigma, self.eps = kernel_size, sigma, eps

    def forward(self, input: Any) -> Any:
        return local_contrast_norm(input, self.kernel_size, self.sigma, self.eps)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}, eps={self.eps}"


class BrightnessNorm(Module):
    """Brightness normalisation (``F.brightness_norm``), meant to follow rectified linear units.

        y_i = x_i / (κ + λ · Σ_j x_j²)^μ,   the sum over neighbouring maps j

    Args:
        kappa: κ, the additive constant.
        lam: λ, the scale of the sum (not divided by the window size).
        mu: μ, the exponent.
        size: the number of neighbouring maps summed over; None for all of them.

    Shape:
        Input (N, C, *); output the same.

    Backward:
        As local response normalisation: through each input's own divisor and the divisors of
        the maps whose window holds it (see ``F.brightness_norm``).

    References:
        Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep
        convolutional neural networks", §3.3.
    """

    def __init__(self, kappa: float = 2.0, lam: float = 1e-4, mu: float = 0.75,
                 size: int | None = 5):
        super().__init__()
        self.kappa, self.lam, self.mu, self.size = kappa, lam, mu, size

    def forward(self, input: Any) -> Any:
        return brightness_norm(input, self.kappa, self.lam, self.mu, self.size)

    def extra_repr(self) -> str:
        return f"kappa={self.kappa}, lam={self.lam}, mu={self.mu}, size={self.size}"
