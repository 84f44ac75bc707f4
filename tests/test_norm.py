"""Normalisation family: batch norm, LRN and brightness against PyTorch; LCN against a slow loop
reference (forward) and a PyTorch autograd transcription (gradients); layers, buffers, errors."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from striate.kernels.gaussian import gaussian_window

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def _grads(out, upstream, *tensors):
    out.backward(upstream)
    return [t.grad for t in tensors]


# --- batch_norm functional --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (5, 3, 7), (2, 3, 4, 5), (2, 3, 2, 3, 2), (1, 3, 4)])
@pytest.mark.parametrize("training,affine,momentum", [
    (True, True, 0.1), (True, False, 0.5), (False, True, 0.1), (False, False, 0.1)])
def test_batch_norm_functional_matches_torch(dtype, shape, training, affine, momentum):
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    x = rng.standard_normal(shape).astype(dtype) * 3 + 1
    w, b = (rng.standard_normal(c).astype(dtype) for _ in range(2))
    mean, var = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    up = rng.standard_normal(shape).astype(dtype)

    ours = [st.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [to_torch(a, requires_grad=True) for a in (x, w, b)]
    m1, v1 = mean.copy(), var.copy()
    m2, v2 = to_torch(mean), to_torch(var)
    params = (ours[1], ours[2]) if affine else (None, None)
    tparams = (theirs[1], theirs[2]) if affine else (None, None)
    y = F.batch_norm(ours[0], m1, v1, *params, training=training, momentum=momentum, eps=1e-3)
    yt = TF.batch_norm(theirs[0], m2, v2, *tparams, training=training, momentum=momentum,
                       eps=1e-3)
    assert y.dtype == dtype
    assert_close(y, yt, what="output")
    if not training:  # inference (no gradient wanted) takes the two-pass affine path
        with st.no_grad():
            y0 = F.batch_norm(st.tensor(x), m1, v1, *params, training=False, eps=1e-3)
        assert y0.dtype == dtype
        assert_close(y0, yt, what="inference output")
    y.backward(up)
    yt.backward(to_torch(up))
    used = 3 if affine else 1
    for name, a, t in list(zip(("x", "weight", "bias"), ours, theirs, strict=True))[:used]:
        assert_close(a.grad, t.grad, what=f"grad {name}")
    assert_close(m1, m2, what="running_mean")
    assert_close(v1, v2, what="running_var")


def test_batch_norm_training_without_running_stats_and_tensor_buffers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 3))
    y = F.batch_norm(st.tensor(x), None, None, training=True)
    assert_close(y, TF.batch_norm(to_torch(x), None, None, training=True))
    # running statistics given as striate tensors are updated in place too
    rm, rv = st.zeros(2, dtype=np.float64), st.ones(2, dtype=np.float64)
    F.batch_norm(st.tensor(x), rm, rv, training=True)
    rm2, rv2 = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    TF.batch_norm(to_torch(x), rm2, rv2, training=True)
    assert_close(rm.data, rm2)
    assert_close(rv.data, rv2)


def test_batch_norm_backward_closed_form_equals_seed_step_by_step_chain():
    """The compact dx equals seed 001's chain through ∂L/∂σ² and ∂L/∂μ (per channel, M values)."""
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((2, 7)), rng.standard_normal((2, 7))  # 2 channels as rows
    gamma, eps = np.array([1.5, -0.5]), 1e-5
    xt = st.tensor(x.T.copy(), requires_grad=True)
    F.batch_norm(xt, None, None, st.tensor(gamma), training=True, eps=eps).backward(g.T.copy())
    mu = x.mean(1, keepdims=True)
    var = x.var(1, keepdims=True)
    m = x.shape[1]
    dxhat = g * gamma[:, None]
    dvar = (dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5).sum(1, keepdims=True)
    dmu = (-dxhat / np.sqrt(var + eps)).sum(1, keepdims=True) + dvar * (-2 * (x - mu)).mean(
        1, keepdims=True)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    assert_close(xt.grad, dx.T)


# --- BatchNorm1d / BatchNorm2d ---------------------------------------------------------------


LAYER_CONFIGS = list(itertools.product(
    [(nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
     (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
     (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 4, 5))],
    [dict(), dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
     dict(momentum=None, track_running_stats=False, affine=False), dict(eps=1e-3, momentum=0.3),
     dict(bias=False)],
))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers,kwargs", LAYER_CONFIGS,
                         ids=[f"{c[2]}-{k}" for c, k in LAYER_CONFIGS])
def test_batchnorm_layer_training_then_eval_matches_torch(dtype, layers, kwargs):
    ours_cls, torch_cls, shape = layers
    ours = ours_cls(3, dtype=dtype, **kwargs)
    theirs = torch_cls(3, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                       **kwargs)
    rng = np.random.default_rng(3)
    for p in ours.parameters():  # non-trivial parameters, copied from ours into torch's module
        p.data[...] = rng.standard_normal(3)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                            ours.state_dict().items()})
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        up = rng.standard_normal(shape).astype(dtype)
        xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
        y, yt = ours(xs), theirs(xt)
        assert_close(y, yt, what=f"train output step {step}")
        y.backward(up)
        yt.backward(to_torch(up))
        assert_close(xs.grad, xt.grad, what=f"grad x step {step}")
        for (name, p), tp in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            assert_close(p.grad, tp.grad, what=f"grad {name}")
        ours.zero_grad()
        theirs.zero_grad()
    state, tstate = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(tstate)
    for key in state:
        assert np.asarray(state[key]).dtype == tstate[key].numpy().dtype, key
        assert_close(state[key], tstate[key], rtol=1e-10 if dtype == np.float64 else 1e-4,
                     what=key)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(dtype)
    assert_close(ours(st.tensor(x)), theirs(to_torch(x)), what="eval output")


@pytest.mark.parametrize("kwargs", [dict(), dict(affine=False), dict(track_running_stats=False),
                                    dict(bias=False)])
def test_batchnorm_state_dict_and_repr_match_torch(kwargs):
    for ours, theirs in ((nn.BatchNorm1d(5, **kwargs), torch.nn.BatchNorm1d(5, **kwargs)),
                         (nn.BatchNorm2d(5, **kwargs), torch.nn.BatchNorm2d(5, **kwargs))):
        state, tstate = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(tstate)
        for key in state:
            assert tuple(state[key].shape) == tuple(tstate[key].shape), key
            assert state[key].dtype == tstate[key].numpy().dtype, key
            np.testing.assert_array_equal(state[key], tstate[key].numpy())  # init values
        assert repr(ours) == repr(theirs)
        assert [n for n, _ in ours.named_parameters()] == \
            [n for n, _ in theirs.named_parameters()]


def test_batchnorm_buffers_update_in_place_and_reset():
    bn = nn.BatchNorm2d(2)
    state = bn.state_dict()  # arrays, not copies: they follow training
    bn(st.randn(4, 2, 3, 3))
    bn(st.randn(4, 2, 3, 3))
    assert int(state["num_batches_tracked"]) == 2 and state["num_batches_tracked"].shape == ()
    assert state["num_batches_tracked"].dtype == np.int64
    assert not np.allclose(state["running_mean"], 0)
    bn.eval()
    bn(st.randn(4, 2, 3, 3))
    assert int(bn.num_batches_tracked) == 2  # eval leaves the buffers alone
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_var == 1)


def test_batchnorm_untracked_eval_uses_batch_statistics():
    bn = nn.BatchNorm1d(3, track_running_stats=False).eval()
    assert bn.running_mean is None and bn.num_batches_tracked is None
    x = np.random.default_rng(4).standard_normal((8, 3)).astype(np.float32)
    y = bn(st.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1, atol=1e-3)


# --- local response normalisation and brightness ---------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 5, 3, 4), (1, 4, 2, 3, 2)])
def test_local_response_norm_matches_torch(dtype, size, shape):
    rng = np.random.default_rng(size)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    up = rng.standard_normal(shape).astype(dtype)
    kw = dict(alpha=0.3, beta=0.8, k=1.5)
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    y, yt = F.local_response_norm(xs, size, **kw), TF.local_response_norm(xt, size, **kw)
    assert y.dtype == dtype
    assert_close(y, yt, what="output")
    assert_close(*_grads(y, up, xs), *_grads(yt, to_torch(up), xt), what="grad x")


def test_local_response_norm_layer_defaults_and_repr():
    x = np.random.default_rng(5).standard_normal((2, 7, 3, 3)).astype(np.float32) * 30
    ours, theirs = nn.LocalResponseNorm(5), torch.nn.LocalResponseNorm(5)
    assert_close(ours(st.tensor(x)), theirs(to_torch(x)))
    assert repr(ours) == repr(theirs)
    assert ours.state_dict() == {}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [2, 3, 5])
def test_brightness_norm_is_lrn_with_undivided_lambda(dtype, size):
    """x / (κ + λ Σ_window x²)^μ equals PyTorch's LRN with α = λ·n (which divides α by n)."""
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 6, 3, 4)).astype(dtype) * 2
    up = rng.standard_normal(x.shape).astype(dtype)
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    y = F.brightness_norm(xs, kappa=1.5, lam=0.2, mu=0.6, size=size)
    yt = TF.local_response_norm(xt, size, alpha=0.2 * size, beta=0.6, k=1.5)
    assert_close(y, yt)
    assert_close(*_grads(y, up, xs), *_grads(yt, to_torch(up), xt))


def test_brightness_norm_all_maps_is_the_seed_equation():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 3, 2))
    expected = x / (2.0 + 1e-1 * (x**2).sum(1, keepdims=True)) ** 0.75
    got = F.brightness_norm(st.tensor(x), kappa=2.0, lam=1e-1, size=None)
    assert_close(got, expected)
    layer = nn.BrightnessNorm(kappa=2.0, lam=1e-1, size=None)
    assert_close(layer(st.tensor(x)), expected)
    # a window wider than 2C − 1 maps also sees every map
    assert_close(F.brightness_norm(st.tensor(x), 2.0, 1e-1, size=9), expected)


# --- local contrast normalisation ------------------------------------------------------------


def _lcn_loops(x, kernel_size, sigma=None, eps=1e-8):
    """Jarrett et al.'s formulas with explicit loops over pixels and window offsets."""
    n, c, h, w = x.shape
    kh, kw = kernel_size
    win = gaussian_window((kh, kw), sigma) / c  # Σ over maps and offsets = 1
    rh, rw = kh // 2, kw // 2

    def weighted_sum(a, i, r, s):  # Σ_{j,p,q} w_pq a[i, j, r+p, s+q], zero outside
        total = 0.0
        for j, p, q in itertools.product(range(c), range(kh), range(kw)):
            rr, ss = r + p - rh, s + q - rw
            if 0 <= rr < h and 0 <= ss < w:
                total += win[p, q] * a[i, j, rr, ss]
        return total

    v = np.empty_like(x)
    for i, r, s in itertools.product(range(n), range(h), range(w)):
        v[i, :, r, s] = x[i, :, r, s] - weighted_sum(x, i, r, s)
    sig = np.empty((n, h, w))
    for i, r, s in itertools.product(range(n), range(h), range(w)):
        sig[i, r, s] = np.sqrt(weighted_sum(v * v, i, r, s))
    y = np.empty_like(x)
    for i in range(n):
        c_mean = sig[i].mean()
        for r, s in itertools.product(range(h), range(w)):
            y[i, :, r, s] = v[i, :, r, s] / max(c_mean, sig[i, r, s], eps)
    return y


def _lcn_torch(x, kernel_size, sigma=None):
    """The same formulas in PyTorch ops, for autograd gradients (random data has no ties)."""
    c = x.shape[1]
    kh, kw = kernel_size
    win = torch.from_numpy(gaussian_window((kh, kw), sigma) / c).to(x.dtype)[None, None]

    def g(a):
        return TF.conv2d(a.sum(1, keepdim=True), win, padding=(kh // 2, kw // 2))

    v = x - g(x)
    sig = g(v * v).sqrt()
    return v / torch.maximum(sig, sig.mean((2, 3), keepdim=True))


LCN_CONFIGS = [((2, 3, 6, 5), (3, 3), None), ((1, 2, 7, 9), (5, 5), None),
               ((2, 4, 5, 8), (3, 5), 1.2), ((1, 1, 6, 6), (9, 9), None),
               ((3, 2, 4, 4), (7, 3), 2.0)]


@pytest.mark.parametrize("shape,kernel_size,sigma", LCN_CONFIGS)
def test_local_contrast_norm_matches_loop_reference(shape, kernel_size, sigma):
    x = np.random.default_rng(7).standard_normal(shape)
    got = F.local_contrast_norm(st.tensor(x), kernel_size, sigma)
    assert_close(got, _lcn_loops(x, kernel_size, sigma))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel_size,sigma", LCN_CONFIGS)
def test_local_contrast_norm_gradient_matches_torch_autograd(dtype, shape, kernel_size, sigma):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(dtype)
    up = rng.standard_normal(shape).astype(dtype)
    xs, xt = st.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    y, yt = F.local_contrast_norm(xs, kernel_size, sigma), _lcn_torch(xt, kernel_size, sigma)
    assert y.dtype == dtype
    assert_close(y, yt, what="output")
    assert_close(*_grads(y, up, xs), *_grads(yt, to_torch(up), xt), what="grad x")


def test_local_contrast_norm_properties():
    rng = np.random.default_rng(9)
    # a constant image becomes exactly zero once the window stays inside the image
    const = np.full((1, 3, 12, 11), 2.5)
    y = F.local_contrast_norm(st.tensor(const), 5).numpy()
    np.testing.assert_allclose(y[..., 2:-2, 2:-2], 0, atol=1e-12)
    assert np.abs(y).max() > 0.1  # but not at the zero-padded borders
    # invariant to a positive rescaling of the input (v, σ and c all scale alike)
    x = rng.standard_normal((2, 3, 8, 7))
    assert_close(F.local_contrast_norm(st.tensor(5 * x)), F.local_contrast_norm(st.tensor(x)))
    # with enough pixels the local mean over maps is nearly zero away from the borders
    big = rng.standard_normal((1, 2, 40, 40)) + 3
    out = F.local_contrast_norm(st.tensor(big), 5).numpy()
    assert abs(out[..., 4:-4, 4:-4].mean()) < 0.05
    # an all-zero sample gives zeros, not 0/0; there y = v/ε, so the gradient is (g − G Σ g)/ε:
    # finite, and 0 for a constant upstream gradient wherever the window stays inside
    zero = st.zeros(1, 2, 5, 5, dtype=np.float64, requires_grad=True)
    out = F.local_contrast_norm(zero, 3)
    out.backward(np.ones((1, 2, 5, 5)))
    assert np.all(out.numpy() == 0) and np.all(np.isfinite(zero.grad))
    np.testing.assert_allclose(zero.grad[..., 1:-1, 1:-1], 0, atol=1e-6)
    assert np.abs(zero.grad).max() > 1e6


@pytest.mark.parametrize("channels_first", [False, True], ids=["NCHW", "CNHW memory"])
@pytest.mark.parametrize("shape,kernel_size,sigma", LCN_CONFIGS)
def test_local_contrast_norm_compiled_equals_numpy(monkeypatch, shape, kernel_size, sigma,
                                                   channels_first):
    """The compiled passes (kernels/local_norm.py) against the NumPy expressions, on NCHW input
    and on a convolution's (C, N, H, W) memory, including a zero sample (the ε floor)."""
    from striate.ops import local_norm

    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    x[-1] = 0 if shape[0] > 1 else x[-1]
    if channels_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    up = rng.standard_normal(shape)

    def run():
        xs = st.tensor(x, requires_grad=True)
        y = F.local_contrast_norm(xs, kernel_size, sigma)
        return y.numpy(), _grads(y, up, xs)[0]

    y, grad = run()
    monkeypatch.setattr(local_norm.jit, "serves", lambda *a: False)
    y_numpy, grad_numpy = run()
    np.testing.assert_allclose(y, y_numpy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, grad_numpy, rtol=1e-10, atol=1e-10 * np.abs(grad).max())


def test_local_contrast_norm_layer_float32():
    x = np.random.default_rng(10).standard_normal((2, 3, 9, 9)).astype(np.float32)
    layer = nn.LocalContrastNorm(kernel_size=5, sigma=1.0)
    y = layer(st.tensor(x))
    assert y.dtype == np.float32
    assert_close(y, F.local_contrast_norm(st.tensor(x.astype(np.float64)), 5, 1.0).numpy(),
                 rtol=1e-4)
    assert repr(layer) == "LocalContrastNorm(kernel_size=5, sigma=1.0, eps=1e-08)"


# --- bad inputs --------------------------------------------------------------------------------


def _raises(exc, fn, *fragments):
    with pytest.raises(exc) as info:
        fn()
    for f in fragments:
        assert f in str(info.value), str(info.value)


def test_batch_norm_bad_inputs():
    x = st.randn(4, 3)
    c3 = np.zeros(3, dtype=np.float32)
    _raises(ValueError, lambda: F.batch_norm(st.randn(3), None, None, training=True),
            "batch_norm", "(3,)")
    _raises(ValueError, lambda: F.batch_norm(x, np.zeros(2, np.float32), c3, training=True),
            "batch_norm", "running_mean", "(3,)", "(2,)")
    _raises(ValueError, lambda: F.batch_norm(x, None, None, st.ones(4), training=True),
            "weight", "(4, 3)", "(4,)")
    _raises(ValueError, lambda: F.batch_norm(x, None, None), "evaluation")
    _raises(ValueError, lambda: F.batch_norm(st.randn(1, 3), None, None, training=True),
            "Expected more than 1 value per channel when training", "(1, 3)")
    _raises(TypeError, lambda: F.batch_norm(x, c3, c3, training=True, momentum=None),
            "momentum")
    _raises(TypeError, lambda: F.batch_norm(x, c3, c3, st.ones(3, dtype=np.float64)),
            "float32", "float64")
    _raises(TypeError, lambda: F.batch_norm(st.tensor(np.ones((2, 3), int)), None, None,
                                            training=True), "floating point")
    _raises(ValueError, lambda: F.batch_norm(x, c3, c3, residual=st.randn(4, 1)),
            "residual", "(4, 3)", "(4, 1)")
    _raises(TypeError, lambda: F.batch_norm(x, c3, c3, residual=st.randn(4, 3).double()),
            "float32", "float64")
    F.batch_norm(st.randn(1, 3), c3, c3 + 1)  # one value per channel is fine in eval


def test_batchnorm_layer_bad_inputs():
    _raises(ValueError, lambda: nn.BatchNorm2d(3)(st.randn(2, 3, 4)),
            "BatchNorm2d", "4-D", "(2, 3, 4)")
    _raises(ValueError, lambda: nn.BatchNorm1d(3)(st.randn(2, 3, 4, 4)),
            "BatchNorm1d", "2-D or 3-D", "(2, 3, 4, 4)")
    _raises(ValueError, lambda: nn.BatchNorm2d(3)(st.randn(2, 4, 5, 5)),
            "BatchNorm2d", "3 channels", "got 4", "(2, 4, 5, 5)")
    _raises(ValueError, lambda: nn.BatchNorm1d(2)(st.randn(1, 2)),
            "Expected more than 1 value per channel")
    _raises(ValueError, lambda: nn.BatchNorm1d(0), "num_features")


def test_local_norm_bad_inputs():
    _raises(ValueError, lambda: F.local_response_norm(st.randn(2, 3), 3),
            "local_response_norm", "3-D or more", "(2, 3)")
    _raises(ValueError, lambda: F.local_response_norm(st.randn(2, 3, 4), 0), "size", ">= 1")
    _raises(TypeError, lambda: F.local_response_norm(st.randn(2, 3, 4), 2.5), "size")
    _raises(ValueError, lambda: F.brightness_norm(st.randn(3, 4)), "brightness_norm", "(3, 4)")
    _raises(ValueError, lambda: F.local_contrast_norm(st.randn(3, 4, 4)),
            "local_contrast_norm", "4-D", "(3, 4, 4)")
    _raises(ValueError, lambda: F.local_contrast_norm(st.randn(1, 3, 4, 4), 4), "odd")
    _raises(ValueError, lambda: F.local_contrast_norm(st.randn(1, 3, 4, 4), 0), ">= 1")
    _raises(ValueError, lambda: F.local_contrast_norm(st.randn(1, 3, 4, 4), eps=0), "eps")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "cnhw", "strided", "2d", "nchw, gradient cnhw",
                                    "nchw, gradient strided"])
@pytest.mark.parametrize("training, affine", [(True, True), (True, False), (False, True)])
def test_batch_norm_compiled_passes_equal_numpy(monkeypatch, dtype, layout, training, affine):
    """The compiled passes (kernels/norm.py) and NumPy's expressions give the same output,
    running statistics and gradients, on each memory layout (a convolution's output is an NCHW
    view of (C, N, H, W) memory; a strided slice keeps to NumPy), also where the gradient is laid
    out unlike the input ("cnhw" with its NCHW gradient, and the reverse), and where only the
    forward can run compiled (a strided gradient: NumPy's backward then makes x̂ from the x the
    compiled forward kept)."""
    from striate.kernels import norm

    rng = np.random.default_rng(5)
    shape = (6, 4) if layout == "2d" else (3, 4, 5, 6)
    data = rng.standard_normal(shape).astype(dtype) * 2 + 1
    if layout == "cnhw":
        data = np.ascontiguousarray(data.swapaxes(0, 1)).swapaxes(0, 1)
    elif layout == "strided":
        data = np.repeat(data, 2, axis=-1)[..., ::2]
    if norm.jit.available():
        assert (norm.channel_view(data) is None) == (layout == "strided")
    up = rng.standard_normal(shape).astype(dtype)
    if layout == "nchw, gradient cnhw":
        up = np.ascontiguousarray(up.swapaxes(0, 1)).swapaxes(0, 1)
    elif layout == "nchw, gradient strided":
        up = np.repeat(up, 2, axis=-1)[..., ::2]
    gamma, beta = (rng.standard_normal(4).astype(dtype) for _ in range(2))
    runs = []
    for path in ("compiled", "numpy"):
        if path == "numpy":
            monkeypatch.setattr(norm, "channel_view", lambda a: None)
        x = st.from_numpy(data.copy(order="K")).requires_grad_()  # st.tensor: NCHW order
        w, b = (st.tensor(v, requires_grad=True) if affine else None for v in (gamma, beta))
        mean, var = np.zeros(4, dtype), np.ones(4, dtype)
        y = F.batch_norm(x, mean, var, w, b, training=training)
        y.backward(st.from_numpy(up))
        runs.append([y.data, mean, var, x.grad] + ([w.grad, b.grad] if affine else []))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for ours, theirs in zip(*runs, strict=True):
        assert ours.dtype == dtype
        assert_close(ours, theirs, rtol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("residual", [None, "alike", "nchw", "alike, constant"])
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("mode", ["training", "eval with gradients", "inference"])
def test_batch_norm_fused_residual_relu_matches_torch(monkeypatch, dtype, path, residual, relu,
                                                      mode):
    """max(batch_norm(x) + r, 0) as one op equals PyTorch's three (output, running statistics,
    gradients of x, γ, β and r), for x laid out as a convolution's output and r laid out alike
    or in NCHW order, or wanting no gradient (the compiled backward then masks g as it reads
    it), on the compiled passes and on NumPy's."""
    from striate.kernels import norm

    if path == "numpy":
        monkeypatch.setattr(norm, "channel_view", lambda a: None)
    rng = np.random.default_rng(9)
    shape = (3, 4, 5, 7)
    data = np.ascontiguousarray((rng.standard_normal(shape) * 2 + 1).swapaxes(0, 1))
    data = data.astype(dtype).swapaxes(0, 1)  # (C, N, H, W) memory, as a conv's output
    r = rng.standard_normal(shape).astype(dtype)
    if residual in ("alike", "alike, constant"):
        r = np.ascontiguousarray(r.swapaxes(0, 1)).swapaxes(0, 1)
    gamma, beta = (rng.standard_normal(4).astype(dtype) for _ in range(2))
    mean, var = rng.standard_normal(4).astype(dtype), rng.uniform(0.5, 2, 4).astype(dtype)
    up = rng.standard_normal(shape).astype(dtype)
    training, grads = mode == "training", mode != "inference"

    x = st.from_numpy(data.copy(order="K")).requires_grad_(grads)
    res = None if residual is None else st.from_numpy(r.copy(order="K")).requires_grad_(
        grads and residual != "alike, constant")
    w, b = (st.tensor(v, requires_grad=grads) for v in (gamma, beta))
    m1, v1 = mean.copy(), var.copy()
    y = F.batch_norm(x, m1, v1, w, b, training=training, residual=res, relu=relu)
    xt, wt, bt = (to_torch(v, requires_grad=True) for v in (data, gamma, beta))
    rt = None if residual is None else to_torch(r, requires_grad=True)
    m2, v2 = to_torch(mean), to_torch(var)
    yt = TF.batch_norm(xt, m2, v2, wt, bt, training=training)
    yt = yt if rt is None else yt + rt
    yt = TF.relu(yt) if relu else yt
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert y.dtype == dtype
    assert_close(y, yt, rtol=tol, what="output")
    assert_close(m1, m2, rtol=tol, what="running_mean")
    assert_close(v1, v2, rtol=tol, what="running_var")
    if grads:
        y.backward(st.from_numpy(up))
        yt.backward(to_torch(up))
        for name, ours, theirs in [("x", x, xt), ("weight", w, wt), ("bias", b, bt)] + (
                [("residual", res, rt)] if res is not None and res.requires_grad else []):
            assert_close(ours.grad, theirs.grad, rtol=tol, what=f"grad {name}")


@pytest.mark.parametrize("mode", ["training", "eval with gradients", "inference"])
def test_batch_norm_channels_shared_over_threads_equal_one_pass(monkeypatch, mode):
    """Large activations have their channels shared out over the worker threads
    (``norm.by_channels``): each range of channels gives what one pass over all gives (output,
    running statistics, gradients), here with every activation shared out in three ranges."""
    from striate.kernels import norm

    rng = np.random.default_rng(11)
    shape = (3, 7, 5, 6)
    data = np.ascontiguousarray(rng.standard_normal(shape).swapaxes(0, 1)).swapaxes(0, 1) + 1
    r = rng.standard_normal(shape)
    up = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(7), rng.standard_normal(7)
    grads = mode != "inference"
    runs = []
    for shared in (False, True):
        if shared:
            monkeypatch.setattr(norm, "PARALLEL_MIN_BYTES", 1)
            monkeypatch.setenv("STRIATE_NUM_THREADS", "3")
        x = st.from_numpy(data.copy(order="K")).requires_grad_(grads)
        w, b = (st.tensor(v, requires_grad=grads) for v in (gamma, beta))
        mean, var = np.zeros(7), np.ones(7)
        with contextlib.nullcontext() if grads else st.no_grad():
            y = F.batch_norm(x, mean, var, w, b, training=mode == "training",
                             residual=st.from_numpy(r), relu=True)
        if grads:
            y.backward(st.from_numpy(up))
        runs.append([y.data, mean, var] + ([x.grad, w.grad, b.grad] if grads else []))
    for ours, theirs in zip(*runs, strict=True):
        assert_close(ours, theirs, rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "cnhw", "strided"])
def test_batch_norm_inference_compiled_equals_numpy(monkeypatch, dtype, layout):
    """Inference without gradients folds the running statistics into one affine map, a compiled
    pass where the layout allows: the same values as NumPy's, in the input's layout."""
    from striate.kernels import norm

    rng = np.random.default_rng(6)
    data = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    if layout == "cnhw":
        data = np.ascontiguousarray(data.swapaxes(0, 1)).swapaxes(0, 1)
    elif layout == "strided":
        data = np.repeat(data, 2, axis=-1)[..., ::2]
    mean, var, gamma, beta = (rng.random(4).astype(dtype) + 0.5 for _ in range(4))
    runs = []
    for path in ("compiled", "numpy"):
        if path == "numpy":
            monkeypatch.setattr(norm, "channel_view", lambda a: None)
        with st.no_grad():
            x = st.from_numpy(data.copy(order="K"))  # in data's layout (st.tensor: NCHW)
            runs.append(F.batch_norm(x, mean, var, st.tensor(gamma), st.tensor(beta)).data)
    expected = (data - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    expected = expected * gamma[:, None, None] + beta[:, None, None]
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for y in runs:
        assert y.dtype == dtype
        assert_close(y, expected, rtol=tol)


@pytest.mark.parametrize("fused", [False, True])
def test_an_empty_batch_in_evaluation_gives_an_empty_output_like_torch(fused):
    """Batch 0 in evaluation mode (a filtered batch left empty, say) is an empty output and an
    empty gradient, as in PyTorch, not an error from the compiled passes' layout."""
    from striate.nn.utils import fuse

    model = nn.Sequential(nn.BatchNorm2d(4), nn.ReLU()).eval()
    model = fuse(model) if fused else model
    x = st.tensor(np.zeros((0, 4, 6, 6), np.float32), requires_grad=True)
    y = model(x)
    y.sum().backward()
    expected = torch.nn.BatchNorm2d(4).eval()(torch.zeros(0, 4, 6, 6))
    assert tuple(y.shape) == tuple(expected.shape) and tuple(x.grad.shape) == (0, 4, 6, 6)
