"""Linear, Identity, Flatten and Dropout: PyTorch parity, state_dict keys, default init,
dropout's statistics and modes, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from test_activation import parity

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape,out,bias", [
    ((4, 5), 3, True), ((4, 5), 3, False), ((1, 7), 1, True), ((2, 3, 6), 4, True),
    ((2, 2, 3, 5), 2, False), ((5,), 3, True), ((64, 33), 17, True)])
def test_linear_matches_torch(x_shape, out, bias, dtype):
    rng = np.random.default_rng(out)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((out, x_shape[-1]))]
    if bias:
        arrays.append(rng.standard_normal(out))
    parity(F.linear, TF.linear, arrays, dtype)


def test_linear_gradients_only_where_asked():
    rng = np.random.default_rng(0)
    x = st.tensor(rng.standard_normal((3, 4)))
    w = st.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 4)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_layer_state_dict_and_repr_match_torch(bias):
    ours, theirs = nn.Linear(6, 4, bias=bias), torch.nn.Linear(6, 4, bias=bias)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].shape == tuple(value.shape)
        assert ours.state_dict()[key].dtype == np.float32
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    xt, xs = to_torch(x, requires_grad=True), st.tensor(x, requires_grad=True)
    y, yt = ours(xs), theirs(xt)
    assert_close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    assert_close(xs.grad, xt.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert_close(p.grad, q.grad, what=name)


def test_linear_default_init_is_pytorchs():
    layer = nn.Linear(400, 300, generator=np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    # U(−b, b) has standard deviation b/√3.
    assert abs(layer.weight.numpy().std() / (bound / np.sqrt(3)) - 1) < 0.01
    assert abs(layer.weight.numpy().mean()) < 0.01 * bound
    again = nn.Linear(400, 300, generator=np.random.default_rng(0))
    assert (again.weight.numpy() == layer.weight.numpy()).all()
    st.manual_seed(5)
    a = nn.Linear(3, 2).weight.numpy().copy()
    st.manual_seed(5)
    assert (nn.Linear(3, 2).weight.numpy() == a).all()
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64


def test_identity_and_flatten():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    ident = nn.Identity(54, unused=True)
    assert ident(st.tensor(x)).shape == x.shape and repr(ident) == "Identity()"
    for args in [(), (0,), (1, 2), (2, -1), (0, -2)]:
        ours, theirs = nn.Flatten(*args), torch.nn.Flatten(*args)
        assert repr(ours) == repr(theirs)
        parity(ours, theirs, [x], np.float64)


def test_linear_errors_name_layer_and_shapes():
    w = st.tensor(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"linear.*in_features=5.*\(3, 5\).*\(2, 4\)"):
        F.linear(st.tensor(np.zeros((2, 4), np.float32)), w)
    with pytest.raises(ValueError, match=r"linear.*bias.*\(3,\).*\(4,\)"):
        F.linear(st.tensor(np.zeros((2, 5), np.float32)), w, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"linear.*weight.*2-D.*\(5,\)"):
        F.linear(st.tensor(np.zeros((2, 5), np.float32)), np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"linear.*in_features=8.*\(4, 7\)"):
        nn.Linear(8, 2)(st.tensor(np.zeros((4, 7), np.float32)))
    with pytest.raises(TypeError, match="linear"):
        F.linear(st.tensor(np.zeros((2, 5), np.float64)), w)
    with pytest.raises(ValueError, match="Linear"):
        nn.Linear(-1, 3)


# --- dropout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_dropout_statistics_and_scaling(p, dtype):
    x = np.random.default_rng(0).uniform(1, 2, (200, 500)).astype(dtype)
    xt = st.tensor(x, requires_grad=True)
    y = F.dropout(xt, p, generator=np.random.default_rng(1))
    assert y.dtype == dtype
    kept = y.numpy() != 0
    assert abs(kept.mean() - (1 - p)) < 0.005                 # keeps a fraction 1 − p
    np.testing.assert_allclose(y.numpy()[kept], x[kept] / dtype(1 - p), rtol=1e-6)
    assert abs(y.numpy().mean() / x.mean() - 1) < 0.02        # E[y] = x
    g = np.random.default_rng(2).standard_normal(x.shape).astype(dtype)
    y.backward(g)                                             # same mask, same scale
    np.testing.assert_allclose(xt.grad, np.where(kept, g / dtype(1 - p), 0), rtol=1e-6)


def test_dropout_modes_and_limits():
    x = st.tensor(np.random.default_rng(0).standard_normal((8, 9)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert (y.numpy() == 0).all()
    y.sum().backward()
    assert (x.grad == 0).all()

    layer = nn.Dropout(0.4, generator=np.random.default_rng(0))
    assert repr(layer) == repr(torch.nn.Dropout(0.4)) == "Dropout(p=0.4, inplace=False)"
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    assert (layer(x).numpy() == x.numpy()).all()
    layer.train()
    assert (layer(x).numpy() == 0).any()


def test_dropout_masks_follow_the_generator():
    x = st.tensor(np.ones((6, 7), np.float32))
    a = F.dropout(x, 0.5, generator=np.random.default_rng(3)).numpy()
    b = F.dropout(x, 0.5, generator=np.random.default_rng(3)).numpy()
    assert (a == b).all()
    st.manual_seed(11)
    c = F.dropout(x, 0.5).numpy()
    d = F.dropout(x, 0.5).numpy()
    st.manual_seed(11)
    assert (F.dropout(x, 0.5).numpy() == c).all() and not (c == d).all()


def test_dropout_rejects_bad_probabilities():
    x = st.tensor(np.ones(3, np.float32))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout.*\[0, 1\]"):
            F.dropout(x, p)
        with pytest.raises(ValueError, match="Dropout"):
            nn.Dropout(p)


# --- dropout2d: whole channels --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 50, 3, 5), (40, 30, 7)], ids=["(N,C,H,W)", "(N,C,L)"])
@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input")  # torch's, on (N, C, L)
def test_dropout2d_zeroes_whole_channels_like_torch(shape, dtype):
    """Each (n, c) map is kept (scaled by 1/(1 − p)) or zeroed whole, a fraction p of them, as in
    torch's dropout2d; the gradient is torch's of x ⊙ m with our mask m."""
    p = 0.3
    x = np.random.default_rng(0).uniform(1, 2, shape).astype(dtype)
    xt = st.tensor(x, requires_grad=True)
    y = F.dropout2d(xt, p, generator=np.random.default_rng(1))
    kept = y.numpy() != 0
    per_map = kept.reshape(*shape[:2], -1)
    assert (per_map == per_map[..., :1]).all()                  # whole maps kept or zeroed
    np.testing.assert_allclose(y.numpy()[kept], x[kept] / dtype(1 - p), rtol=1e-6)
    mask = kept / dtype(1 - p)
    theirs = torch.nn.functional.dropout2d(to_torch(np.ones(shape, dtype)), p).numpy()
    for drops in ((~per_map[..., 0]).mean(), (theirs.reshape(*shape[:2], -1)[..., 0] == 0)
                  .mean()):
        assert abs(drops - p) < 0.05
    g = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    y.backward(g)
    x_torch = to_torch(x, requires_grad=True)
    (x_torch * to_torch(mask.astype(dtype))).backward(to_torch(g))
    assert_close(y, x_torch * to_torch(mask.astype(dtype)), what="dropout2d output")
    assert_close(xt.grad, x_torch.grad, what="dropout2d grad")


def test_dropout2d_modes_limits_and_layer():
    x = st.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)), requires_grad=True)
    assert F.dropout2d(x, 0.5, training=False) is x and F.dropout2d(x, 0.0) is x
    y = F.dropout2d(x, 1.0)
    assert (y.numpy() == 0).all()
    y.sum().backward()
    assert (x.grad == 0).all()
    with pytest.raises(ValueError, match=r"dropout2d: probability p must lie in \[0, 1\]"):
        F.dropout2d(x, 1.5)
    with pytest.raises(ValueError, match="shape"):
        F.dropout2d(st.tensor(np.ones(4)), 0.5)
    with pytest.raises(ValueError, match=r"Dropout2d: probability p"):
        nn.Dropout2d(-0.1)
    layer = nn.Dropout2d(0.4, generator=np.random.default_rng(0))
    assert repr(layer) == repr(torch.nn.Dropout2d(0.4)) == "Dropout2d(p=0.4, inplace=False)"
    a = layer(x).numpy()
    assert (a == 0).any()
    layer.eval()
    assert (layer(x).numpy() == x.numpy()).all()
