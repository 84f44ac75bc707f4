"""Pooling against PyTorch (forward, input gradient, indices; float64 and float32), the fast
window kernels against their readable references, Gaussian pooling against a loop and a
depthwise convolution, the layer classes, and bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from striate.kernels import pool as K
from striate.kernels.gaussian import gaussian_window
from striate.ops.pool import pool_windows

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def parity(ours, theirs, x, dtype, seed=0):
    """Output, input gradient (random upstream) and, when both return a tuple, indices."""
    x = np.asarray(x, dtype=dtype)
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    out, out_t = ours(xs), theirs(xt)
    if isinstance(out_t, tuple):
        (out, idx), (out_t, idx_t) = out, out_t
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())
    assert out.dtype == dtype
    assert_close(out, out_t, what="output")
    up = np.random.default_rng(seed).standard_normal(tuple(out_t.shape)).astype(dtype)
    out.backward(up)
    out_t.backward(to_torch(up))
    assert xs.grad.dtype == dtype
    assert_close(xs.grad, xt.grad, what="input gradient")
    return out


def _distinct(shape, seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(np.arange(n) - n / 2).reshape(shape) / n


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# (shape, kernel_size, stride, padding, dilation, ceil_mode)
MAX_CONFIGS = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((1, 1, 7, 9), 2, None, 0, 1, False),
    ((2, 2, 9, 7), 3, 2, 1, 1, False),
    ((1, 3, 8, 8), 3, 1, 1, 1, False),
    ((2, 1, 7, 10), (2, 3), (1, 2), (1, 1), 1, False),
    ((1, 2, 9, 9), 3, 2, 0, 1, True),
    ((1, 2, 6, 7), 2, 2, 1, 1, True),
    ((2, 2, 11, 8), 3, 3, 1, 1, True),
    ((1, 2, 7, 8), 2, 3, 0, 1, False),
    ((1, 2, 9, 9), 3, 1, 1, 2, False),
    ((2, 1, 10, 9), (3, 2), (2, 1), (1, 0), (2, 3), True),
    ((1, 1, 5, 5), 5, 1, 2, 1, False),
    ((3, 6, 6), 3, 2, 1, 1, True),
    ((1, 4, 1, 9), (1, 3), (1, 2), 0, 1, False),
    ((2, 2, 7, 9), 2, 2, 0, 1, True),  # side by side, the last ceil-mode windows past the edge
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,d,ceil", MAX_CONFIGS)
def test_max_pool2d_matches_torch(shape, k, s, p, d, ceil, dtype):
    def run(f):
        return lambda t: f(t, k, s, p, d, ceil_mode=ceil, return_indices=True)

    parity(run(F.max_pool2d), run(TF.max_pool2d), _distinct(shape), dtype)


@pytest.mark.parametrize("shape,k,s,p", [((2, 2, 6, 6), 2, 2, 0), ((1, 2, 7, 7), 3, 1, 1),
                                         ((1, 1, 6, 5), 3, 2, 1)])
def test_max_pool2d_ties_pick_the_first_maximum_like_torch(shape, k, s, p):
    """Equal values (a constant plane, many repeats) give PyTorch's indices and gradients."""
    x = np.round(_normal(shape) * 2) / 2
    for data in (np.zeros(shape), x):
        parity(lambda t: F.max_pool2d(t, k, s, p, return_indices=True),
               lambda t: TF.max_pool2d(t, k, s, p, return_indices=True), data, np.float64)


# (shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CONFIGS = [
    ((2, 3, 8, 8), 2, None, 0, False, True, None),
    ((1, 2, 9, 7), 3, 2, 1, False, True, None),
    ((1, 2, 9, 7), 3, 2, 1, False, False, None),
    ((1, 2, 8, 9), 3, 2, 1, True, True, None),
    ((1, 2, 8, 9), 3, 2, 1, True, False, None),
    ((2, 1, 5, 7), 2, None, 0, True, True, None),
    ((1, 2, 7, 10), (2, 3), (1, 2), (1, 1), False, True, None),
    ((1, 2, 7, 7), 3, 1, 1, False, True, 4),
    ((1, 1, 10, 6), (3, 2), (3, 1), (1, 0), True, False, -3),
    ((2, 5, 7), 3, 2, 0, False, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,ceil,incl,div", AVG_CONFIGS)
def test_avg_pool2d_matches_torch(shape, k, s, p, ceil, incl, div, dtype):
    def run(f):
        return lambda t: f(t, k, s, p, ceil, incl, div)

    parity(run(F.avg_pool2d), run(TF.avg_pool2d), _normal(shape), dtype)


# (shape, norm_type, kernel_size, stride, ceil_mode, positive inputs)
LP_CONFIGS = [
    ((2, 3, 8, 8), 2, 2, None, False, False),
    ((1, 2, 9, 7), 2, 3, 2, False, False),
    ((1, 2, 8, 8), 2, 3, 2, True, False),
    ((1, 2, 7, 10), 3, (2, 3), (1, 2), False, True),
    ((1, 2, 8, 7), 1.5, 2, 1, True, True),
    ((1, 1, 6, 6), 1, 3, 3, False, True),
    ((2, 2, 7, 7), float("inf"), 3, 2, True, False),
    ((2, 2, 6, 6), float("-inf"), 2, None, False, False),
    ((3, 7, 5), 2, (3, 2), (2, 2), True, False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,p,k,s,ceil,positive", LP_CONFIGS)
def test_lp_pool2d_matches_torch(shape, p, k, s, ceil, positive, dtype):
    x = _distinct(shape) + (0.6 if positive else 0.0)
    if math.isinf(p):  # no ties among |x|
        x = np.abs(x) + 0.1

    def run(f):
        return lambda t: f(t, p, k, s, ceil)

    parity(run(F.lp_pool2d), run(TF.lp_pool2d), x, dtype)


def test_lp_pool2d_all_zero_windows_pass_no_gradient_like_torch():
    x = _normal((1, 2, 6, 6))
    x[:, :, :2, :2] = 0.0
    parity(lambda t: F.lp_pool2d(t, 2, 2), lambda t: TF.lp_pool2d(t, 2, 2), x, np.float64)


ADAPTIVE_CONFIGS = [
    ((2, 3, 8, 8), (4, 4)),
    ((1, 2, 7, 5), (3, 2)),
    ((1, 2, 6, 6), 4),
    ((2, 2, 9, 7), 1),
    ((1, 2, 5, 7), (None, 3)),
    ((1, 1, 5, 5), (5, 5)),
    ((1, 2, 4, 3), (6, 5)),
    ((3, 10, 7), (4, None)),
    ((2, 3, 8, 6), (4, 3)),  # windows tiling the plane, 2×2
    ((2, 4, 8, 8), 1),  # global, a tile
    ((2, 3, 6, 5), (3, 1)),  # tiles of whole rows, 2×5
    ((1, 2, 9, 4), (3, 2)),  # tiles of 3×2
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", ADAPTIVE_CONFIGS)
def test_adaptive_avg_pool2d_matches_torch(shape, out, dtype):
    parity(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out),
           _normal(shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", ADAPTIVE_CONFIGS)
def test_adaptive_max_pool2d_matches_torch(shape, out, dtype):
    def run(f):
        return lambda t: f(t, out, return_indices=True)

    parity(run(F.adaptive_max_pool2d), run(TF.adaptive_max_pool2d), _distinct(shape), dtype)


# --- Gaussian pooling ------------------------------------------------------------------------

GAUSS_CONFIGS = [
    ((2, 3, 8, 8), 3, 2, 1, None),
    ((1, 2, 7, 9), (3, 5), 1, (1, 2), 1.5),
    ((2, 1, 6, 6), 2, None, 0, None),
    ((1, 2, 9, 8), 5, 3, 2, 0.8),
    ((2, 7, 6), (2, 3), (1, 2), (1, 1), None),
]


def _gaussian_loop(x, k, s, p, sigma):
    """y[n,c,oh,ow] = Σ_ij w[i,j] x̃[n,c,oh·s+i,ow·s+j], written as plain loops."""
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (kh, kw) if s is None else ((s, s) if isinstance(s, int) else s)
    ph, pw = (p, p) if isinstance(p, int) else p
    w = gaussian_window((kh, kw), sigma)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for a in range(oh):
        for b in range(ow):
            for i in range(kh):
                for j in range(kw):
                    y[:, :, a, b] += w[i, j] * xp[:, :, a * sh + i, b * sw + j]
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,sigma", GAUSS_CONFIGS)
def test_gaussian_pool2d_matches_depthwise_conv_and_loop(shape, k, s, p, sigma, dtype):
    kernel = pool_windows("t", np.zeros(shape), k).kernel
    c = shape[-3]
    w = torch.from_numpy(gaussian_window(kernel, sigma, dtype)).expand(c, 1, *kernel)
    stride = kernel if s is None else s

    def conv(t):
        return TF.conv2d(t, w, None, stride, p, 1, c)

    y = parity(lambda t: F.gaussian_pool2d(t, k, s, p, sigma), conv, _normal(shape), dtype)
    x4 = _normal(shape).reshape((-1,) + shape[-3:])
    assert_close(y.numpy(), _gaussian_loop(x4, k, s, p, sigma).reshape(y.shape), dtype=dtype)


def test_gaussian_pool2d_of_a_constant_is_the_constant_inside():
    y = F.gaussian_pool2d(st.full((1, 2, 9, 9), 3.0), 3, 2, 1).numpy()
    np.testing.assert_allclose(y[:, :, 1:-1, 1:-1], 3.0, rtol=1e-6)
    assert (y[:, :, 0, :] < 3.0).all()  # zero padding pulls the border down


# --- kernels: fast versions equal the readable references ---------------------------------------

KERNEL_WINDOWS = [  # (H, W, kernel, stride, padding, dilation, ceil_mode)
    (8, 8, 2, 2, 0, 1, False), (9, 7, 3, 2, 1, 1, True), (7, 10, (2, 3), (1, 2), 1, (2, 1), False),
    (10, 9, 2, 3, 1, 1, True), (6, 6, 3, 1, 1, 1, False),
]


@pytest.mark.parametrize("h,w,k,s,p,d,ceil", KERNEL_WINDOWS)
def test_fast_kernels_equal_references(h, w, k, s, p, d, ceil):
    rng = np.random.default_rng(1)
    x = _distinct((2, 3, h, w))
    win = pool_windows("t", x, k, s, p, d, ceil)
    y, arg = K.max_windows(x, win)
    y_ref, arg_ref = K.max_windows_reference(x, win)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    weights = rng.uniform(size=win.kernel)
    close = {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(K.sum_windows(x, win), K.sum_windows_reference(x, win), **close)
    np.testing.assert_allclose(K.sum_windows(x, win, weights),
                               K.sum_windows_reference(x, win, weights), **close)
    g = rng.standard_normal(y.shape)
    kh, kw = win.kernel
    one_hot = (arg[..., None] == np.arange(kh * kw)).reshape(arg.shape + (kh, kw))
    np.testing.assert_allclose(K.scatter_max(g, arg, win),
                               K.scatter_reference(one_hot * g[..., None, None], win), **close)
    spread = np.broadcast_to(g[..., None, None] * weights, g.shape + (kh, kw))
    np.testing.assert_allclose(K.scatter_sum(g, win, weights), K.scatter_reference(spread, win),
                               **close)


def _layouts(x):
    """x as given (C-contiguous), in the (C, N, H, W) memory a convolution's output has, and
    as a non-contiguous slice."""
    cnhw = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    wider = np.zeros(x.shape[:3] + (x.shape[3] + 3,), x.dtype)
    wider[..., 1:-2] = x
    return {"nchw": x, "cnhw": cnhw, "strided": wider[..., 1:-2]}


def _max_references(x, g, win):
    """The reference maxima, their offsets, and the input gradient for the output gradient g."""
    kh, kw = win.kernel
    y_ref, arg_ref = K.max_windows_reference(x, win)
    one_hot = (arg_ref[..., None] == np.arange(kh * kw)).reshape(arg_ref.shape + (kh, kw))
    return y_ref, arg_ref, K.scatter_reference(one_hot * g[..., None, None], win)


@pytest.mark.skipif(not K.jit.available(), reason="Numba is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, k", [(8, 8, 2), (7, 9, 2), (11, 10, 3), (5, 9, (1, 3)),
                                     (6, 6, (3, 2))])
@pytest.mark.parametrize("with_nan", [False, True])
def test_compiled_tiles_equal_references(h, w, k, dtype, with_nan):
    """Side-by-side windows without padding take the compiled kernels: the same maxima, first
    arguments (with ties, and with NaN, which sends the work to the kernel where the first NaN
    wins, as np.argmax) and gradients as the references, whatever the input's memory layout;
    pixels past the last whole tile get 0."""
    x = np.round(_normal((2, 3, h, w), seed=2) * 2).astype(dtype) / 2  # many ties
    if with_nan:
        x[0, 0, 0, :3] = np.nan
        x[1, 2, -1, -1] = np.nan
    x[1, 1, 1, 1] = -np.inf
    win = pool_windows("t", x, k, None, 0, 1, False)
    assert K._compiled_tiles(x, win)
    kh, kw = win.kernel
    y, arg = np.empty(x.shape[:2] + win.out, dtype), np.empty(x.shape[:2] + win.out, np.int8)
    assert K.tile_kernels(kh, kw)[0](x, y, arg) == with_nan  # the fast pass reports NaN
    g = np.random.default_rng(3).standard_normal(x.shape[:2] + win.out).astype(dtype)
    y_ref, arg_ref, gx_ref = _max_references(x, g, win)
    for ceil in (True, False):  # a ceil-mode window past the edge is not a tile: NumPy's path
        assert K._compiled_tiles(x, pool_windows("t", x, k, None, 0, 1, ceil)) == (
            not ceil or (h % kh == 0 and w % kw == 0))
    for layout, xl in _layouts(x).items():
        y, arg = K.max_windows(xl, win)
        np.testing.assert_array_equal(y, y_ref, err_msg=layout)
        np.testing.assert_array_equal(arg, arg_ref, err_msg=layout)
        for g_layout, gl in _layouts(g).items():
            gx = K.scatter_max(gl, arg, win)
            np.testing.assert_array_equal(gx, gx_ref, err_msg=f"{layout}, g {g_layout}")


@pytest.mark.skipif(not K.jit.available(), reason="Numba is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, k", [(8, 8, 2), (7, 9, 2), (11, 10, 3), (5, 9, (1, 3)),
                                     (6, 6, (3, 2))])
def test_compiled_tile_sums_equal_references(monkeypatch, h, w, k, dtype):
    """Average pooling's tiles by the compiled kernels: the sums as the reference, and bit for
    bit as the NumPy slices (the same row-major order), and the scatter, whatever the memory
    layout; pixels past the last whole tile get 0."""
    x = _normal((2, 3, h, w), seed=4).astype(dtype)
    win = pool_windows("t", x, k, None, 0, 1, False)
    assert K._compiled_tiles(x, win)
    g = _normal((2, 3) + win.out, seed=5).astype(dtype)
    y_ref = K.sum_windows_reference(x, win)
    gx_ref = K.scatter_reference(np.broadcast_to(g[..., None, None], g.shape + win.kernel), win)
    got = {layout: (K.sum_windows(xl, win), K.scatter_sum(_layouts(g)[layout], win))
           for layout, xl in _layouts(x).items()}
    monkeypatch.setattr(K, "_compiled_tiles", lambda a, w: False)
    y_slices = K.sum_windows(x, win)
    for layout, (y, gx) in got.items():
        np.testing.assert_allclose(y, y_ref, rtol=1e-5 if dtype == np.float32 else 1e-14,
                                   atol=1e-6 if dtype == np.float32 else 0, err_msg=layout)
        np.testing.assert_array_equal(y, y_slices, err_msg=layout)
        np.testing.assert_array_equal(gx, gx_ref, err_msg=layout)


@pytest.mark.skipif(not K.jit.available(), reason="Numba is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, k, stride, padding, dilation, ceil", [
    (9, 9, 3, 1, 1, 1, False), (12, 11, 3, 2, 1, 1, True), (10, 7, 3, 2, 0, 1, True),
    (8, 9, (3, 2), (1, 2), (1, 0), 1, False), (11, 11, 2, 1, 0, 2, False),
    (7, 10, (2, 3), (3, 2), (1, 1), (2, 1), True), (6, 6, 2, 2, 1, 1, False)])
@pytest.mark.parametrize("with_nan", [False, True])
def test_compiled_overlapping_windows_equal_references(h, w, k, stride, padding, dilation, ceil,
                                                       dtype, with_nan):
    """Windows that overlap, are padded, dilated or stick out in ceil mode take the general
    compiled kernels: the same maxima and first arguments as the references (ties, NaN,
    -inf), and the same gradients, whatever the input's memory layout."""
    x = np.round(_normal((2, 3, h, w), seed=4) * 2).astype(dtype) / 2  # many ties
    if with_nan:
        x[0, 0, 0, :3] = np.nan
        x[1, 2, -1, -1] = np.nan
    x[1, 1, 1, 1] = -np.inf
    win = pool_windows("t", x, k, stride, padding, dilation, ceil)
    assert not K._compiled_tiles(x, win)
    g = np.random.default_rng(5).standard_normal(x.shape[:2] + win.out).astype(dtype)
    y_ref, arg_ref, gx_ref = _max_references(x, g, win)
    for layout, xl in _layouts(x).items():
        y, arg = K.max_windows(xl, win)
        np.testing.assert_array_equal(y, y_ref, err_msg=layout)
        np.testing.assert_array_equal(arg, arg_ref, err_msg=layout)
        for g_layout, gl in _layouts(g).items():
            gx = K.scatter_max(gl, arg, win)
            np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-6,
                                       err_msg=f"{layout}, g {g_layout}")


@pytest.mark.skipif(not K.jit.available(), reason="Numba is not installed")
@pytest.mark.parametrize("workers", [2, 3])
def test_compiled_overlapping_windows_split_over_threads(monkeypatch, workers):
    """Split over the worker threads by planes, the maxima, arguments and gradients do not
    change, and a NaN in any part sends the whole call to the NaN-winning kernel."""
    monkeypatch.setattr(K, "PARALLEL_MIN_BYTES", 1)
    x = np.round(_normal((5, 3, 9, 8), seed=6) * 2).astype(np.float32) / 2
    x[4, 2, 3, 3] = np.nan
    win = pool_windows("t", x, 3, 2, 1, 1, True)
    g = np.random.default_rng(7).standard_normal(x.shape[:2] + win.out).astype(np.float32)
    y_ref, arg_ref = K.max_windows_reference(x, win)
    with st.backends.flags(num_threads=workers):
        y, arg = K.max_windows(x, win)
        gx = K.scatter_max(g, arg, win)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    one_hot = (arg_ref[..., None] == np.arange(9)).reshape(arg_ref.shape + (3, 3))
    np.testing.assert_allclose(gx, K.scatter_reference(one_hot * g[..., None, None], win),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n,out", [(7, 3), (6, 4), (5, 5), (3, 7), (10, 1)])
def test_adaptive_bounds_follow_torch_formula(n, out):
    start, end = K.adaptive_bounds(n, out)
    for i in range(out):
        assert start[i] == math.floor(i * n / out) and end[i] == math.ceil((i + 1) * n / out)
    a = K.adaptive_average_matrix(n, out)
    np.testing.assert_allclose(a.sum(1), 1.0)


def test_outputs_keep_float32_and_no_grad_records_nothing():
    x = st.tensor(_distinct((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.lp_pool2d(x, 2, 2),
              F.adaptive_avg_pool2d(x, 4), F.adaptive_max_pool2d(x, 4),
              F.gaussian_pool2d(x, 3, 2, 1)):
        assert y.dtype == np.float32 and y.requires_grad
    with st.no_grad():
        assert not F.max_pool2d(x, 2).requires_grad
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == np.int64 and not idx.requires_grad


# --- layer classes ---------------------------------------------------------------------------

LAYERS = [
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool2d", ((2, 3),), {"dilation": (1, 2), "return_indices": True}),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("AvgPool2d", (2,), {"divisor_override": 3}),
    ("LPPool2d", (2, 3), {"stride": 2}),
    ("LPPool2d", (1.5, (2, 3)), {"ceil_mode": True}),
    ("AdaptiveAvgPool2d", ((3, None),), {}),
    ("AdaptiveMaxPool2d", (3,), {"return_indices": True}),
]


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
def test_layers_match_torch_modules(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = _distinct((2, 3, 7, 8)) + (0.6 if name == "LPPool2d" else 0.0)
    parity(ours, theirs, x, np.float64)


def test_gaussian_pool_layer():
    layer = nn.GaussianPool2d(3, 2, 1, sigma=0.7)
    assert repr(layer) == "GaussianPool2d(kernel_size=3, stride=2, padding=1, sigma=0.7)"
    assert nn.GaussianPool2d(2).stride == 2
    x = st.tensor(_normal((1, 2, 6, 6)))
    np.testing.assert_array_equal(layer(x).numpy(), F.gaussian_pool2d(x, 3, 2, 1, 0.7).numpy())


# --- bad arguments ---------------------------------------------------------------------------

X = st.zeros((2, 3, 5, 5))


@pytest.mark.parametrize("call,words", [
    (lambda: F.max_pool2d(st.zeros((5, 5)), 2), ["max_pool2d", "(5, 5)", "(N, C, H, W)"]),
    (lambda: F.max_pool2d(X, 0), ["max_pool2d", "kernel_size", "(2, 3, 5, 5)"]),
    (lambda: F.avg_pool2d(X, 2, stride=0), ["avg_pool2d", "stride", "(2, 3, 5, 5)"]),
    (lambda: F.max_pool2d(X, 2, dilation=0), ["max_pool2d", "dilation"]),
    (lambda: F.max_pool2d(X, 2, padding=-1), ["max_pool2d", "padding"]),
    (lambda: F.max_pool2d(X, 3, padding=2), ["max_pool2d", "padding (2, 2)", "(3, 3)"]),
    (lambda: F.avg_pool2d(X, (2, 3), padding=(1, 2)), ["avg_pool2d", "half the kernel"]),
    (lambda: F.max_pool2d(X, 6), ["max_pool2d", "larger than the padded input",
                                  "(2, 3, 5, 5)", "(5, 5)"]),
    (lambda: F.max_pool2d(X, 3, dilation=3), ["max_pool2d", "(7, 7) pixels"]),
    (lambda: F.avg_pool2d(X, (2, 8), padding=(0, 1)), ["avg_pool2d", "(5, 7)"]),
    (lambda: F.lp_pool2d(X, 2, 6), ["lp_pool2d", "larger"]),
    (lambda: F.lp_pool2d(X, 0, 2), ["lp_pool2d", "norm_type"]),
    (lambda: F.gaussian_pool2d(X, 7), ["gaussian_pool2d", "larger"]),
    (lambda: F.gaussian_pool2d(X, 3, sigma=0.0), ["gaussian_pool2d", "sigma"]),
    (lambda: F.avg_pool2d(X, 2, divisor_override=0), ["avg_pool2d", "divisor_override"]),
    (lambda: F.adaptive_avg_pool2d(X, 0), ["adaptive_avg_pool2d", "(0, 0)", "(2, 3, 5, 5)"]),
    (lambda: F.adaptive_max_pool2d(X, (2, -1)), ["adaptive_max_pool2d", "(2, -1)"]),
    (lambda: F.adaptive_max_pool2d(st.zeros((2, 3, 0, 5)), 2), ["adaptive_max_pool2d",
                                                                "(2, 3, 0, 5)"]),
    (lambda: F.avg_pool2d(st.zeros((1, 2, 3, 4, 5)), 2), ["avg_pool2d", "(1, 2, 3, 4, 5)"]),
])
def test_bad_arguments_raise_value_error_naming_op_and_shapes(call, words):
    with pytest.raises(ValueError) as err:
        call()
    for word in words:
        assert word in str(err.value)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="max_pool2d"):
        F.max_pool2d(st.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2)
    with pytest.raises(TypeError, match="avg_pool2d"):
        F.avg_pool2d(X, 2.5)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d"):
        F.adaptive_avg_pool2d(X, (2, 2, 2))


def test_ceil_mode_keeps_torch_last_window_rule():
    """A ceil-mode window may stick out of the input but never start in the right padding."""
    for h, k, s, p in [(5, 2, 2, 0), (6, 3, 2, 1), (7, 3, 3, 1), (2, 3, 2, 0), (8, 2, 3, 1)]:
        want = TF.max_pool2d(torch.zeros(1, 1, h, h), k, s, p, ceil_mode=True).shape[-1]
        assert K.output_size(h, k, s, p, 1, True) == want
        assert F.max_pool2d(st.zeros((1, 1, h, h)), k, s, p, ceil_mode=True).shape[-1] == want
