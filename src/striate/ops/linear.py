"""The fully connected layer, y = x Wᵀ + b, as one op with a hand-written backward."""

from __future__ import annotations

from typing import Any

from ..function import Context, Function
from ..kernels.parallel import matmul


class Linear(Function):
    """Fully connected layer (Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 6):

        Y = X Wᵀ + b                   X (..., in), W (out, in), b (out,), Y (..., out)
        ∂L/∂X = G W,   ∂L/∂W = Gᵀ X,   ∂L/∂b = Σ G

    where the leading dims of X and G are flattened into one batch axis, so ∂L/∂W and ∂L/∂b
    sum over every leading dim, and each product is a single matrix multiply (split over the
    worker threads when large; see ``kernels.parallel.matmul``).
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias=None):
        x2 = x.reshape(-1, x.shape[-1])
        y = matmul(x2, weight.T)
        if bias is not None:
            y += bias
        ctx.save_for_backward(x2 if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        ctx.x_shape = x.shape
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx: Context, g):
        x2, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        gx = matmul(g2, weight).reshape(ctx.x_shape) if needs[0] else None
        gw = matmul(g2.T, x2) if needs[1] else None
        gb = g2.sum(axis=0) if len(needs) > 2 and needs[2] else None
        return gx, gw, gb


def linear(input: Any, weight: Any, bias: Any = None):
    """Fully connected (affine) layer: y = x Wᵀ + b.

    Every output unit is a weighted sum of all inputs plus a bias, yₖ = bₖ + Σⱼ Wₖⱼ xⱼ; it is the
    classifier head of a CNN after its feature maps are flattened.

    Shape:
        input (*, in_features), weight (out_features, in_features), bias (out_features,) or
        None; output (*, out_features).

    Backward:
        ∂L/∂x = g W, ∂L/∂W = gᵀ x (summed over the leading dims), ∂L/∂b = Σ g over them.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), ch. 6.
    """
    if weight.ndim != 2:
        raise ValueError(f"linear: expected weight to be 2-D (out_features, in_features), "
                         f"got shape {tuple(weight.shape)}")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with last dim in_features={weight.shape[1]} (weight shape "
            f"{tuple(weight.shape)}), got input shape {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), "
                         f"got {tuple(bias.shape)}")
    return Linear.apply(input, weight, bias)
