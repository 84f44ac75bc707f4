"""Synchronised batch normalisation: the batch statistics of the global batch, over all ranks.

Plain batch norm in data-parallel training normalises each rank's share with that share's own
mean and variance, which is a different model from one process with the whole batch (and a
noisy one when the shares are small).  :class:`SyncBatchNorm` all-reduces, per channel, the
count, Σx and Σx² of every rank's share in the forward pass (one collective per layer), and
Σg and Σg·x̂ in the backward pass (one more), so that with M values per channel over all ranks

    μ = Σx / M,   σ² = Σx² / M − μ²,   x̂ = (x − μ)/√(σ² + ε),   y = γ·x̂ + β,
    ∂L/∂x = (γ/√(σ² + ε)) · (g − Σg/M − x̂ · Σ(g·x̂)/M)   (sums over all ranks),
    ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g   (this rank's share; the gradient all-reduce sums them),

the formulas of ``ops/batch_norm.py`` with the sums taken over the global batch.  The sums are
accumulated in float64.  Outside training, or alone, the layer is the plain batch norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..nn import functional as F
from ..nn.fusion import FusedBatchNorm2d
from ..nn.module import Module
from ..nn.norm import _BatchNorm
from ..ops.batch_norm import _channel_view, _update_running
from .process_group import get_backend


class SyncBatchNormFunction(Function):
    """Batch norm with statistics over all ranks (formulas in the module docstring)."""

    name = "sync_batch_norm"

    @staticmethod
    def forward(ctx: Context, x, weight, bias, *, running_mean: Any, running_var: Any,
                momentum: float, eps: float):
        xp = array_module(x)
        channels, axes = x.shape[1], (0, *range(2, x.ndim))
        sums = xp.empty(2 * channels + 1, dtype=np.float64)
        sums[:channels] = x.sum(axis=axes, dtype=np.float64)
        sums[channels:-1] = xp.square(x, dtype=np.float64).sum(axis=axes)
        sums[-1] = x.size // channels
        get_backend().all_reduce(sums)
        count = float(sums[-1])
        mean = sums[:channels] / count
        var = xp.maximum(sums[channels:-1] / count - mean * mean, 0.0)
        _update_running(running_mean, running_var, mean.astype(x.dtype), var.astype(x.dtype),
                        count, momentum)
        inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype)
        x_hat = (x - _channel_view(mean.astype(x.dtype), x.ndim)) * _channel_view(inv_std,
                                                                                  x.ndim)
        y = x_hat * _channel_view(weight, x.ndim) if weight is not None else x_hat.copy()
        if bias is not None:
            y += _channel_view(bias, x.ndim)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.count = count
        return y

    @staticmethod
    def backward(ctx: Context, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        xp = array_module(g)
        channels, axes = g.shape[1], (0, *range(2, g.ndim))
        local = xp.empty(2 * channels, dtype=np.float64)
        local[:channels] = g.sum(axis=axes, dtype=np.float64)
        local[channels:] = (g * x_hat).sum(axis=axes, dtype=np.float64)
        sums = local.copy()
        get_backend().all_reduce(sums)  # every rank, whatever it needs: the calls must match
        needs = ctx.needs_input_grad
        gx = None
        if needs[0]:
            scale = inv_std if weight is None else weight * inv_std
            mean_g = (sums[:channels] / ctx.count).astype(g.dtype)
            mean_gx = (sums[channels:] / ctx.count).astype(g.dtype)
            gx = g - _channel_view(mean_g, g.ndim)
            gx -= x_hat * _channel_view(mean_gx, g.ndim)
            gx *= _channel_view(scale, g.ndim)
        return (gx, local[channels:].astype(g.dtype) if needs[1] else None,
                local[:channels].astype(g.dtype) if needs[2] else None)


class SyncBatchNorm(_BatchNorm):
    """``BatchNorm1d``/``2d``/``3d`` with the statistics of the global batch over all ranks in
    training (see the module docstring); PyTorch's ``nn.SyncBatchNorm``.  Parameters, buffers
    and ``state_dict`` keys are batch norm's, so checkpoints do not know the difference."""

    _ranks = (2, 3, 4, 5)
    _layout = "(N, C, *)"

    def _synchronised(self) -> bool:
        return self.training and get_backend().world_size > 1

    def forward(self, input: Any) -> Any:
        if self._synchronised():  # computed here, never deferred to a fused chain
            return self.forward_fused(input)
        return super().forward(input)

    def forward_fused(self, input: Any, residual: Any = None, relu: bool = False) -> Any:
        """max(self(input) + residual, 0) as ``_BatchNorm.forward_fused``, synchronised in
        training (where the sum and the rectifier are separate ops)."""
        if not self._synchronised():
            return super().forward_fused(input, residual, relu)
        self._check_input(input)
        factor = self._count_batch()
        keep = self.track_running_stats
        y = SyncBatchNormFunction.apply(
            input, self.weight, self.bias, running_mean=self.running_mean if keep else None,
            running_var=self.running_var if keep else None, momentum=factor, eps=self.eps)
        if residual is not None:
            y = y + residual
        return F.relu(y) if relu else y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every batch norm layer made synchronised, in place (same
        parameters and buffers); a fused one (``nn.utils.fuse``) keeps its fusion at
        inference.  Returns ``module``."""
        for layer in module.modules():
            if isinstance(layer, _BatchNorm) and not isinstance(layer, cls):
                layer.__class__ = (_SyncFusedBatchNorm2d if isinstance(layer, FusedBatchNorm2d)
                                   else cls)
        return module


class _SyncFusedBatchNorm2d(SyncBatchNorm, FusedBatchNorm2d):
    """A fused ``BatchNorm2d`` made synchronised: the fused chain at inference, the
    synchronised statistics in training."""

    _ranks = (4,)
    _layout = "(N, C, H, W)"
