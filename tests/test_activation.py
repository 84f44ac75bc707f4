"""Activations against PyTorch (forward and gradients, float64 and float32, extreme inputs),
the seed rectifiers' properties, the layer classes and bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def parity(ours, theirs, arrays, dtype, grad=None, seed=0):
    """Run ``ours`` on striate tensors and ``theirs`` on torch tensors made from the same arrays
    (float ones cast to ``dtype``); check the output and the gradients of the arrays listed in
    ``grad`` (default: every float array) for a random upstream gradient.  Returns our output."""
    arrays = [np.asarray(a) for a in arrays]
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    if grad is None:
        grad = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ts = [st.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    tt = [to_torch(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    y, yt = ours(*ts), theirs(*tt)
    assert y.dtype == dtype, f"output dtype {y.dtype} != {dtype}"
    assert np.isfinite(y.numpy()).all()
    assert_close(y, yt, what="output")
    up = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(dtype)
    y.backward(up)
    yt.backward(torch.tensor(up))  # (to_torch would turn a 0-d upstream into shape (1,))
    for i in grad:
        assert ts[i].grad.dtype == dtype
        assert np.isfinite(ts[i].grad).all()
        assert_close(ts[i].grad, tt[i].grad, what=f"grad of argument {i}")
    return y


def _inputs(shape, scale=1.0, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    return np.where(np.abs(x) < 1e-3, 0.5, x)  # no exact kinks


EXTREME = np.array([[-1000.0, -50.0, -20.5, -1.0, 0.0, 1e-8, 1.0, 19.9, 20.1, 50.0, 1000.0]])

ELEMENTWISE = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "leaky_relu(0.2)": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "elu": (F.elu, TF.elu),
    "elu(0.3)": (lambda x: F.elu(x, alpha=0.3), lambda x: TF.elu(x, alpha=0.3)),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "softplus": (F.softplus, TF.softplus),
    "softplus(2, 5)": (lambda x: F.softplus(x, 2, 5), lambda x: TF.softplus(x, 2, 5)),
    "softplus(0.5)": (lambda x: F.softplus(x, beta=0.5), lambda x: TF.softplus(x, beta=0.5)),
    "rectify": (F.rectify, torch.abs),
    "abs method": (lambda x: x.abs(), torch.abs),
    "relu method": (lambda x: x.relu(), torch.relu),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,scale", [((7,), 1.0), ((4, 5), 3.0), ((2, 3, 4, 5), 10.0)])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_matches_torch(name, shape, scale, dtype):
    ours, theirs = ELEMENTWISE[name]
    parity(ours, theirs, [_inputs(shape, scale)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_extreme_inputs_stay_finite_and_match_torch(name, dtype):
    ours, theirs = ELEMENTWISE[name]
    parity(ours, theirs, [EXTREME], dtype)


def test_kinks_take_pytorchs_subgradient():
    x = np.array([0.0, -0.0, 1.0, -1.0])
    for ours, theirs in (ELEMENTWISE["relu"], ELEMENTWISE["rectify"], ELEMENTWISE["leaky_relu"],
                         ELEMENTWISE["elu(0.3)"]):
        parity(ours, theirs, [x], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((4, 6), 1), ((4, 6), 0), ((4, 6), -1), ((2, 3, 4), 1),
                                       ((2, 3, 2, 5), 1), ((2, 3, 2, 5), -1), ((5,), 0)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch(fn, shape, dim, dtype):
    ours, theirs = getattr(F, fn), getattr(TF, fn)
    parity(lambda x: ours(x, dim), lambda x: theirs(x, dim), [_inputs(shape, 2.0)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_extreme_logits(fn, dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1e4, 1e4 - 1, 3.0]])
    ours, theirs = getattr(F, fn), getattr(TF, fn)
    parity(lambda t: ours(t, 1), lambda t: theirs(t, 1), [x], dtype)


def test_softmax_implicit_dim_follows_pytorch():
    for shape in [(2, 3, 4), (3, 4), (2, 2, 3, 2)]:
        x = _inputs(shape)
        with pytest.warns(UserWarning):
            expected = TF.softmax(to_torch(x))
        with pytest.warns(UserWarning, match="softmax"):
            assert_close(F.softmax(st.tensor(x)), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_underflows_to_zero_without_warnings(dtype):
    """Where e^(−x) overflows the true σ(x) is below 1e-38 and we return 0, silently."""
    limit = np.log(np.finfo(dtype).max)
    x = np.array([-limit + 1, -limit - 0.5, -limit - 20, -1000.0], dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = F.sigmoid(st.tensor(x)).numpy()
    assert y[0] > 0 and (y[1:] == 0).all()
    assert np.exp(np.float64(-limit - 0.5)) < 1e-38


# --- the seeds' rectifiers and gain ---------------------------------------------------------------


def _smooth_abs_reference(x, k):
    """The slides' formula, written literally, through torch autograd in float64."""
    x64 = x.double()
    return (2 / k * torch.log1p(torch.exp(k * x64)) - x64 - 2 / k * math.log(2)).to(x.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0.5, 1.0, 4.0, 30.0])
def test_smooth_abs_matches_the_slides_formula(k, dtype):
    x = _inputs((3, 7), scale=2.0, seed=int(k))
    parity(lambda t: F.smooth_abs(t, k), lambda t: _smooth_abs_reference(t, k), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0.1, 1.0, 10.0, 1e4])
def test_smooth_abs_properties(k, dtype):
    x = np.concatenate([np.linspace(-50, 50, 2001), np.geomspace(1e-12, 1e3, 200),
                        -np.geomspace(1e-12, 1e3, 200), [0.0]]).astype(dtype)
    t = st.tensor(x, requires_grad=True)
    f = F.smooth_abs(t, k)
    y = f.numpy()
    assert y.dtype == dtype and np.isfinite(y).all()
    assert (y >= 0).all()                                       # f ≥ 0
    assert y[-1] == 0                                           # f(0) = 0
    x64 = x.astype(np.float64)
    far = np.abs(k * x64) > 40
    tol = 1e-12 if dtype == np.float64 else 1e-5
    expect = np.abs(x64[far]) - 2 / k * math.log(2)             # → |x| − 2/k · ln 2
    assert np.allclose(y[far], expect, rtol=tol, atol=tol * 2 / k)
    near = (np.abs(k * x64) < 1e-3) & (x64 != 0)                # ≈ k x² / 4 near 0
    assert np.allclose(y[near], k * x64[near] ** 2 / 4, rtol=1e-3, atol=0)
    f.backward(np.ones_like(x))                                 # f' = tanh(kx/2) = 2σ(kx) − 1
    sig = 1 / (1 + np.exp(-np.clip(k * x64, -700, 700)))
    assert np.allclose(t.grad, 2 * sig - 1, atol=1e-6 if dtype == np.float32 else 1e-14)


def test_smooth_abs_approaches_rectify_as_k_grows():
    x = st.tensor(np.linspace(-3, 3, 61))
    errors = [np.abs(F.smooth_abs(x, k).numpy() - np.abs(x.numpy())).max() for k in (1, 10, 100)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] <= 2 / 100 * math.log(2) + 1e-15


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 5), (1, 1, 3, 3)])
def test_gain_matches_torch(shape, dtype):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(shape), rng.standard_normal(shape[1])
    view = (1, -1) + (1,) * (len(shape) - 2)
    parity(F.gain, lambda a, b: a * b.view(view), [x, w], dtype)


# --- layer classes --------------------------------------------------------------------------------


LAYERS = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2, inplace=True), torch.nn.LeakyReLU(0.2, inplace=True)),
    (nn.ELU(alpha=0.5), torch.nn.ELU(alpha=0.5)),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Softplus(beta=2.0, threshold=10.0), torch.nn.Softplus(beta=2.0, threshold=10.0)),
    (nn.Softplus(), torch.nn.Softplus()),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
]


@pytest.mark.parametrize("ours,theirs", LAYERS, ids=[repr(t) for _, t in LAYERS])
def test_layers_match_torch_in_output_and_repr(ours, theirs):
    assert repr(ours) == repr(theirs)
    assert ours.state_dict() == {} and not theirs.state_dict()
    x = _inputs((2, 3, 4), 3.0)
    parity(ours, lambda t: theirs(t.clone()), [x], np.float64)


def test_seed_layers():
    x = _inputs((2, 3, 4, 4))
    assert_close(nn.Rectify()(st.tensor(x)), np.abs(x))
    assert repr(nn.SmoothAbs(k=2.0)) == "SmoothAbs(k=2.0)"
    assert_close(nn.SmoothAbs(2.0)(st.tensor(x)), F.smooth_abs(st.tensor(x), 2.0))

    layer = nn.Gain(3)
    assert repr(layer) == "Gain(num_channels=3)"
    assert list(layer.state_dict()) == ["weight"]
    assert layer.weight.shape == (3,) and layer.weight.dtype == np.float32
    assert (layer.weight.numpy() == 1).all()
    layer.double()
    layer.weight.data[...] = [0.5, 2.0, -1.0]
    xt = st.tensor(x, requires_grad=True)
    layer(xt).sum().backward()
    assert_close(layer.weight.grad, x.sum(axis=(0, 2, 3)))
    assert_close(xt.grad, np.broadcast_to(np.array([0.5, 2.0, -1.0])[:, None, None], x.shape))


def test_float32_stays_float32():
    x = st.tensor(_inputs((2, 3, 4)).astype(np.float32))
    for fn in (F.relu, F.leaky_relu, F.elu, F.sigmoid, F.tanh, F.softplus, F.rectify,
               F.smooth_abs, lambda t: F.softmax(t, 1), lambda t: F.log_softmax(t, 1),
               lambda t: F.gain(t, np.ones(3, np.float32))):
        assert fn(x).dtype == np.float32


# --- bad arguments --------------------------------------------------------------------------------


def test_errors_name_the_layer_and_shapes():
    x = st.tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"gain.*3 channels.*got 4.*\(2, 4, 4\)"):
        F.gain(st.tensor(np.zeros((2, 4, 4), np.float32)), np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"gain.*\(5,\)"):
        F.gain(st.tensor(np.zeros(5, np.float32)), np.ones(5, np.float32))
    with pytest.raises(ValueError, match=r"gain.*weight.*1-D"):
        F.gain(x, np.ones((3, 1), np.float32))
    with pytest.raises(TypeError, match="gain"):
        F.gain(x, np.ones(3, np.float64))
    with pytest.raises(ValueError, match=r"softmax: dim 3 .*\(2, 3, 4\)"):
        F.softmax(x, 3)
    with pytest.raises(ValueError, match="log_softmax"):
        F.log_softmax(x, -4)
    with pytest.raises(ValueError, match="smooth_abs"):
        F.smooth_abs(x, 0.0)
    with pytest.raises(ValueError, match="SmoothAbs"):
        nn.SmoothAbs(-1.0)
    with pytest.raises(ValueError, match="softplus"):
        F.softplus(x, beta=0)
    with pytest.raises(ValueError, match="Gain"):
        nn.Gain(0)
