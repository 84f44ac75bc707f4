"""The local family against PyTorch: the locally connected layer against an unfold + einsum
formulation (PyTorch has no such layer), subtractive normalisation against the formula written
with torch's conv2d; outputs and every gradient, float64 to 1e-10 and float32; layers; errors."""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from striate.kernels.gaussian import gaussian_window

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def _lc_torch(x, w, b, stride, padding):
    """Y[n, o, l] = Σ_k W[l, o, k] · unfold(x)[n, k, l] (+ b): the same layer in torch ops."""
    ho, wo, o = w.shape[:3]
    cols = TF.unfold(x, w.shape[4:], padding=padding, stride=stride)  # (N, C·kh·kw, L)
    y = torch.einsum("nkl,lok->nol", cols, w.reshape(ho * wo, o, -1))
    y = y.reshape(x.shape[0], o, ho, wo)
    return y if b is None else y + b


# (N, C, H, W), O, kernel, stride, padding, bias
LC_CONFIGS = [
    ((2, 3, 6, 6), 4, (3, 3), (1, 1), (0, 0), True),
    ((2, 2, 7, 5), 3, (2, 3), (2, 2), (0, 0), True),  # odd sizes, stride leaving a remainder
    ((1, 3, 8, 7), 2, (3, 2), (2, 3), (1, 2), True),  # padding, non-square everything, batch 1
    ((3, 1, 5, 5), 5, (1, 1), (1, 1), (0, 0), False),
    ((2, 4, 9, 9), 8, (5, 5), (2, 2), (2, 2), True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,o,k,stride,padding,bias", LC_CONFIGS)
def test_locally_connected2d_matches_unfold_einsum(dtype, shape, o, k, stride, padding, bias):
    rng = np.random.default_rng(sum(shape) + o)
    ho = (shape[2] + 2 * padding[0] - k[0]) // stride[0] + 1
    wo = (shape[3] + 2 * padding[1] - k[1]) // stride[1] + 1
    arrays = [rng.standard_normal(shape), rng.standard_normal((ho, wo, o, shape[1], *k))]
    if bias:
        arrays.append(rng.standard_normal((o, ho, wo)))
    arrays = [a.astype(dtype) for a in arrays]
    ours = [st.tensor(a, requires_grad=True) for a in arrays]
    theirs = [to_torch(a, requires_grad=True) for a in arrays]
    y = F.locally_connected2d(*ours[:2], ours[2] if bias else None, stride, padding)
    yt = _lc_torch(*theirs[:2], theirs[2] if bias else None, stride, padding)
    assert y.dtype == dtype and y.shape == (shape[0], o, ho, wo)
    assert_close(y, yt, rtol=RTOL[dtype], what="output")
    up = rng.standard_normal(y.shape).astype(dtype)
    y.backward(up)
    yt.backward(to_torch(up))
    for name, a, b in zip(("input", "weight", "bias")[:len(ours)], ours, theirs, strict=True):
        assert_close(a.grad, b.grad, rtol=RTOL[dtype], what=f"{name} gradient")


def test_locally_connected2d_layer():
    layer = nn.LocallyConnected2d(2, 3, (7, 6), (3, 2), stride=2, padding=1,
                                  generator=np.random.default_rng(0))
    assert layer.output_size == (4, 4)
    assert layer.weight.shape == (4, 4, 3, 2, 3, 2) and layer.bias.shape == (3, 4, 4)
    assert np.abs(layer.weight.numpy()).max() <= 1 / np.sqrt(12)
    assert [k for k, _ in layer.named_parameters()] == ["weight", "bias"]
    x = st.tensor(np.random.default_rng(1).standard_normal((2, 2, 7, 6)).astype(np.float32))
    y = layer(x)
    assert y.shape == (2, 3, 4, 4)
    w, b = (to_torch(p.numpy()) for p in (layer.weight, layer.bias))
    assert_close(y, _lc_torch(to_torch(x.numpy()), w, b, (2, 2), (1, 1)), rtol=1e-5)
    y.sum().backward()
    assert layer.weight.grad.shape == layer.weight.shape
    assert "bias=False" in repr(nn.LocallyConnected2d(1, 1, 4, 3, bias=False))
    # Unlike a convolution, the filters differ by position: moving a pattern changes the answer.
    assert layer.weight.numpy()[0, 0].tolist() != layer.weight.numpy()[1, 1].tolist()


def test_locally_connected2d_errors():
    x = st.tensor(np.zeros((1, 2, 5, 5), dtype=np.float32))
    w = np.zeros((3, 3, 4, 2, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="weight is for a 3x3 output.*gives 2x2"):
        F.locally_connected2d(x, w, stride=2)
    with pytest.raises(ValueError, match="expected input with 2 channels"):
        F.locally_connected2d(st.tensor(np.zeros((1, 3, 5, 5), np.float32)), w)
    with pytest.raises(ValueError, match=r"expected bias of shape \(4, 3, 3\)"):
        F.locally_connected2d(x, w, np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match="expected weight to be 6-D"):
        F.locally_connected2d(x, w[0])
    with pytest.raises(ValueError, match="smaller than kernel_size"):
        nn.LocallyConnected2d(1, 1, 4, 5)
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        nn.LocallyConnected2d(0, 1, 4, 3)


# --- subtractive normalisation ----------------------------------------------------------------


def _subtractive_torch(x, kernel_size, sigma=None):
    """x − G(Σ_j x_j) with the Gaussian window spread over the maps, written with conv2d."""
    kh, kw = kernel_size
    win = torch.from_numpy(gaussian_window((kh, kw), sigma) / x.shape[1]).to(x.dtype)
    return x - TF.conv2d(x.sum(1, keepdim=True), win[None, None], padding=(kh // 2, kw // 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel_size,sigma", [
    ((2, 3, 6, 5), (3, 3), None), ((1, 2, 7, 9), (5, 3), 1.5), ((2, 1, 4, 4), (9, 9), None)])
def test_subtractive_norm_matches_torch(dtype, shape, kernel_size, sigma):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    y, yt = F.subtractive_norm(xs, kernel_size, sigma), _subtractive_torch(xt, kernel_size, sigma)
    assert y.dtype == dtype
    assert_close(y, yt, rtol=RTOL[dtype], what="output")
    up = rng.standard_normal(shape).astype(dtype)
    y.backward(up)
    yt.backward(to_torch(up))
    assert_close(xs.grad, xt.grad, rtol=RTOL[dtype], what="input gradient")


def test_subtractive_norm_layer_and_lcn_share_it():
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    layer = nn.SubtractiveNorm2d(5)
    y = layer(st.tensor(x)).numpy()
    assert repr(layer) == "SubtractiveNorm2d(kernel_size=5, sigma=None)"
    # a constant image loses its mean away from the borders
    const = layer(st.tensor(np.full((1, 2, 9, 9), 4.0))).numpy()
    assert np.abs(const[:, :, 2:-2, 2:-2]).max() < 1e-12
    # local contrast normalisation is this step followed by the divisive one: same zero set
    lcn = F.local_contrast_norm(st.tensor(x), 5).numpy()
    assert np.array_equal(np.sign(y), np.sign(lcn))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        F.subtractive_norm(st.tensor(x), 4)
    with pytest.raises(ValueError, match="expected input to be 4-D"):
        F.subtractive_norm(st.tensor(x[0]), 3)
