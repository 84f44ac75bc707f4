"""Locally connected layer ("unshared convolution", Goodfellow et al. 2016, §9.5): a convolution's
windows with a different filter bank at every output position, i.e. local receptive fields without
weight sharing.

Weight layout (Ho, Wo, O, C, kh, kw): position-major, so the filter bank of output position
(i, j) is one contiguous (O, C·kh·kw) matrix and the whole layer is a single batched matrix
product over positions.  The windows come from the convolution kernels' own im2col / col2im
(``kernels/conv_im2col.py``), so there is no geometry code here.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_module
from ..function import Context, Function
from ..kernels.conv_geometry import out_size, spread
from ..kernels.conv_im2col import col2im, im2col
from .checks import expect_float, expect_rank, pair

_ONE = (1, 1)


class LocallyConnected2d(Function):
    """Y[n, o, i, j] = b[o, i, j] + Σ_{c, p, q} W[i, j, o, c, p, q] · Xpad[n, c, i·s + p, j·s + q].

    With the windows unfolded into X̂_l (C·kh·kw, N) for each output position l = (i, j) and
    W_l (O, C·kh·kw), this is Y_l = W_l X̂_l, a batch of L = Ho·Wo matrix products.  Backward,
    with G_l = ∂L/∂Y_l (O, N):

        ∂L/∂W_l = G_l X̂_lᵀ,   ∂L/∂X̂_l = W_lᵀ G_l,   ∂L/∂b[o, i, j] = Σ_n G[n, o, i, j],

    and ∂L/∂X is ∂L/∂X̂ folded back onto the padded input (col2im, the adjoint of the unfold),
    with the padding cropped.  Why: every position owns its filters, so the only shared work is
    the unfold; the per-position products are independent and batch into one call.
    """

    name = "locally_connected2d"

    @staticmethod
    def forward(ctx: Context, x, weight, bias, stride: tuple[int, int],
                padding: tuple[int, int]):
        xp = array_module(x)
        n, c, h, w = x.shape
        ho, wo, o, _, kh, kw = weight.shape
        pads = ((padding[0], padding[0]), (padding[1], padding[1]))
        cols = im2col(spread(x, _ONE, pads), (kh, kw), stride, _ONE, (ho, wo))
        cols = xp.ascontiguousarray(cols.reshape(-1, n, ho * wo).transpose(2, 0, 1))  # (L, K, N)
        w_l = weight.reshape(ho * wo, o, -1)
        y = xp.matmul(w_l, cols)  # (L, O, N)
        y = xp.ascontiguousarray(y.transpose(2, 1, 0)).reshape(n, o, ho, wo)
        if bias is not None:
            y += bias
        needs = ctx.needs_input_grad
        ctx.save_for_backward(cols if needs[1] else None, weight if needs[0] else None)
        ctx.weight_shape = weight.shape
        ctx.geometry = ((c, n, h + 2 * padding[0], w + 2 * padding[1]), (kh, kw), stride,
                        padding, (h, w))
        return y

    @staticmethod
    def backward(ctx: Context, g):
        cols, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        xp = array_module(g)
        n, o, ho, wo = g.shape
        g_l = xp.ascontiguousarray(g.reshape(n, o, ho * wo).transpose(2, 1, 0))  # (L, O, N)
        gx = gw = gb = None
        if needs[0]:
            buf_shape, kernel, stride, (ph, pw), (h, w) = ctx.geometry
            g_cols = xp.matmul(weight.reshape(ho * wo, o, -1).transpose(0, 2, 1), g_l)
            g_cols = xp.ascontiguousarray(g_cols.transpose(1, 2, 0)).reshape(-1, n * ho * wo)
            buf = col2im(g_cols, xp.zeros(buf_shape, dtype=g.dtype), kernel, stride, _ONE,
                         (ho, wo))
            gx = xp.ascontiguousarray(buf[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))
        if needs[1]:
            gw = xp.matmul(g_l, cols.transpose(0, 2, 1)).reshape(ctx.weight_shape)
        if len(needs) > 2 and needs[2]:
            gb = g.sum(axis=0)
        return gx, gw, gb


def locally_connected2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                        padding: Any = 0):
    """Locally connected layer: a convolution whose filters differ at every output position.

        out[n, o, i, j] = b[o, i, j] + Σ_{c, p, q} W[i, j, o, c, p, q] · x̃[n, c, i·s + p, j·s + q]

    with x̃ the zero-padded input and s the stride. Each output unit still sees only a small
    window of the input (local receptive fields), but no weight is shared between positions:
    useful where different parts of an aligned image need different features (faces), at the
    price of Ho·Wo times a convolution's parameters.

    Args:
        input: (N, C, H, W).
        weight: (Ho, Wo, O, C, kh, kw), one (O, C, kh, kw) filter bank per output position.
        bias: (O, Ho, Wo), one value per output unit, or None.
        stride: an int or an (h, w) pair.
        padding: an int or an (h, w) pair of zeros added on each side.

    Shape:
        Output (N, O, Ho, Wo), with Ho = ⌊(H + 2·padding − kh) / stride⌋ + 1 and Wo likewise;
        the weight's first two dims must be that size.

    Backward:
        Each position is its own small matrix product Y_l = W_l X̂_l on the unfolded window
        X̂_l, so its weight gradient is G_l X̂_lᵀ, the window's gradient W_lᵀ G_l, folded back
        onto the input where windows overlap (col2im), and the bias gradient the output
        gradient summed over the batch (:class:`LocallyConnected2d`).

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §9.5 (unshared convolution);
        Taigman, Yang, Ranzato & Wolf 2014, "DeepFace: closing the gap to human-level
        performance in face verification".
    """
    op = "locally_connected2d"
    expect_rank(op, "input", input, 4, "(N, C, H, W)")
    expect_float(op, "input", input)
    expect_rank(op, "weight", weight, 6, "(out_h, out_w, out_channels, in_channels, kh, kw)")
    stride = pair(op, "stride", stride, minimum=1)
    padding = pair(op, "padding", padding, minimum=0)
    ho, wo, o, c, kh, kw = weight.shape
    if input.shape[1] != c:
        raise ValueError(f"{op}: expected input with {c} channels (weight shape "
                         f"{tuple(weight.shape)}), got input shape {tuple(input.shape)}")
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    want = out_size(tuple(input.shape[2:]), (kh, kw), stride, pads, _ONE)
    if min(want) < 1:
        raise ValueError(f"{op}: input {tuple(input.shape[2:])} with padding {padding} is "
                         f"smaller than the kernel {(kh, kw)}")
    if (ho, wo) != want:
        raise ValueError(f"{op}: weight is for a {ho}x{wo} output, but input "
                         f"{tuple(input.shape[2:])} with kernel {(kh, kw)}, stride {stride} and "
                         f"padding {padding} gives {want[0]}x{want[1]}")
    if bias is not None and tuple(bias.shape) != (o, ho, wo):
        raise ValueError(f"{op}: expected bias of shape {(o, ho, wo)}, got {tuple(bias.shape)}")
    return LocallyConnected2d.apply(input, weight, bias, stride=stride, padding=padding)
