"""Losses against PyTorch (forward, input and target gradients; float64 and float32; extreme
logits), the loss layers (buffers, legacy flags, repr) and bad arguments."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from helpers import assert_close, to_torch, torch
from test_activation import parity

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
CLASS_SHAPES = [(5, 4), (1, 3), (3, 4, 6), (2, 3, 4, 5), (6,)]


def _labels(shape, c, ignore, seed=0):
    """Class labels for logits of ``shape`` (class dim 1, or 0 when unbatched); some ignored."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if ignore and t.ndim:
        t.reshape(-1)[1::3] = -100
    return np.asarray(t)


def _classes(shape):
    return shape[1] if len(shape) > 1 else shape[0]


def _weight(c):
    return np.linspace(0.3, 2.0, c)


def _ce_pair(target, weight, **kw):
    def ours(x, *w):
        return F.cross_entropy(x, target, *w, **kw)

    def theirs(x, *w):
        return TF.cross_entropy(x, torch.from_numpy(target), *w, **kw)

    return ours, theirs, [] if weight is None else [weight]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,reduction,smoothing,weighted,ignore", [
    (s, r, ls, w, ig) for s, r, ls, w, ig in itertools.product(
        CLASS_SHAPES, REDUCTIONS, [0.0, 0.15], [False, True], [False, True])
    if not (ig and len(s) == 1)])
def test_cross_entropy_class_labels_match_torch(shape, reduction, smoothing, weighted, ignore,
                                                dtype):
    c = _classes(shape)
    x = np.random.default_rng(c).standard_normal(shape) * 2
    ours, theirs, extra = _ce_pair(_labels(shape, c, ignore), _weight(c) if weighted else None,
                                   reduction=reduction, label_smoothing=smoothing)
    parity(ours, theirs, [x, *extra], dtype, grad=[0])


def test_cross_entropy_custom_ignore_index_and_labels_beyond_it():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    t = np.random.default_rng(1).integers(0, 3, (2, 4, 4))
    t[0, :2] = 255
    for kw in ({"ignore_index": 255}, {"ignore_index": 255, "label_smoothing": 0.3}):
        ours, theirs, _ = _ce_pair(t, None, **kw)
        parity(ours, theirs, [x], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,reduction,smoothing,weighted", list(itertools.product(
    [(5, 4), (2, 3, 4, 5), (6,)], REDUCTIONS, [0.0, 0.2], [False, True])))
def test_cross_entropy_probability_targets_match_torch(shape, reduction, smoothing, weighted,
                                                       dtype):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    p = rng.uniform(0, 1, shape)
    p /= p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    w = [_weight(_classes(shape))] if weighted else []
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    parity(lambda a, b, *v: F.cross_entropy(a, b, *v, **kw),
           lambda a, b, *v: TF.cross_entropy(a, b, *v, **kw), [x, p, *w], dtype, grad=[0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_extreme_logits_do_not_overflow(reduction, smoothing, dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [-1000.0] * 3,
                  [1e4, -1e4, 5.0]])
    t = np.array([1, 0, 2, 0])  # including targets with probability e^(−2000)
    ours, theirs, _ = _ce_pair(t, None, reduction=reduction, label_smoothing=smoothing)
    parity(ours, theirs, [x], dtype)
    p = np.full(x.shape, 1 / 3)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    parity(lambda a, b: F.cross_entropy(a, b, **kw), lambda a, b: TF.cross_entropy(a, b, **kw),
           [x, p], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,reduction,weighted,ignore", [
    (s, r, w, ig) for s, r, w, ig in itertools.product(
        CLASS_SHAPES, REDUCTIONS, [False, True], [False, True]) if not (ig and len(s) == 1)])
def test_nll_loss_matches_torch(shape, reduction, weighted, ignore, dtype):
    c = _classes(shape)
    x = np.random.default_rng(c).standard_normal(shape)
    t = _labels(shape, c, ignore)
    w = [_weight(c)] if weighted else []
    parity(lambda a, *v: F.nll_loss(a, t, *v, reduction=reduction),
           lambda a, *v: TF.nll_loss(a, torch.from_numpy(t), *v, reduction=reduction),
           [x, *w], dtype, grad=[0])


def test_log_softmax_then_nll_equals_cross_entropy():
    x = st.tensor(np.random.default_rng(0).standard_normal((4, 5)))
    t = np.array([0, 4, 2, 2])
    assert_close(F.nll_loss(F.log_softmax(x, 1), t), F.cross_entropy(x, t).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_match_torch(name, shape, reduction, dtype):
    rng = np.random.default_rng(len(shape))
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    parity(lambda a, b: getattr(F, name)(a, b, reduction=reduction),
           lambda a, b: getattr(TF, name)(a, b, reduction=reduction), [x, y], dtype)


def test_regression_losses_broadcast_with_a_warning_like_torch():
    x, y = np.random.default_rng(0).standard_normal((2, 3, 1)), np.arange(4.0)
    def quiet_torch(name):
        def call(a, b):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return getattr(TF, name)(a, b)
        return call

    for name in ("mse_loss", "l1_loss"):
        with pytest.warns(UserWarning, match=name):
            parity(getattr(F, name), quiet_torch(name), [x, y], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,pos_weight", [
    (None, None), ("full", None), ("row", None), (None, "classes"), ("full", "classes")])
def test_bce_with_logits_matches_torch(weight, pos_weight, reduction, dtype):
    rng = np.random.default_rng(3)
    shape = (4, 5)
    x, y = rng.standard_normal(shape) * 4, rng.uniform(0, 1, shape)
    x[0] = [-1000, -30, 0, 30, 1000]  # extreme logits stay finite
    extra, names = [], []
    if weight is not None:
        extra.append(rng.uniform(0.2, 2, shape if weight == "full" else (1, 5)))
        names.append("weight")
    if pos_weight is not None:
        extra.append(rng.uniform(0.2, 3, 5))
        names.append("pos_weight")

    def call(fn, a, b, *v):
        return fn(a, b, reduction=reduction, **dict(zip(names, v, strict=True)))

    parity(lambda *t: call(F.binary_cross_entropy_with_logits, *t),
           lambda *t: call(TF.binary_cross_entropy_with_logits, *t), [x, y, *extra], dtype,
           grad=[0, 1])


# --- loss layers ----------------------------------------------------------------------------------


def test_loss_layers_match_torch_state_and_repr():
    w = np.linspace(0.5, 1.5, 4)
    pairs = [
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=1),
         torch.nn.CrossEntropyLoss(weight=to_torch(w), label_smoothing=0.1, ignore_index=1)),
        (nn.NLLLoss(st.tensor(w), reduction="sum"),
         torch.nn.NLLLoss(to_torch(w), reduction="sum")),
        (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none")),
        (nn.L1Loss(), torch.nn.L1Loss()),
        (nn.BCEWithLogitsLoss(pos_weight=w), torch.nn.BCEWithLogitsLoss(pos_weight=to_torch(w))),
        (nn.BCEWithLogitsLoss(weight=w), torch.nn.BCEWithLogitsLoss(weight=to_torch(w))),
    ]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    labels, probs = np.array([0, 3, 1]), rng.uniform(0, 1, (3, 4))
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        target = labels if isinstance(ours, (nn.CrossEntropyLoss, nn.NLLLoss)) else probs
        t_torch = torch.from_numpy(target)
        parity(lambda a, o=ours, t=target: o(a, t), lambda a, m=theirs, t=t_torch: m(a, t),
               [x], np.float64)


def test_legacy_reduction_flags():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    assert nn.NLLLoss(None, True, -100, True).reduction == "mean"
    assert nn.L1Loss(reduction="sum").reduction == "sum"


def test_loss_layer_weights_follow_dtype_moves():
    loss = nn.CrossEntropyLoss(weight=np.ones(3, np.float32))
    loss.double()
    x = st.tensor(np.zeros((2, 3)), requires_grad=True)
    loss(x, np.array([0, 2])).backward()
    assert x.grad.dtype == np.float64


# --- bad arguments --------------------------------------------------------------------------------


def test_class_label_errors():
    x = st.tensor(np.zeros((4, 5), np.float32), requires_grad=True)
    for fn, name in ((F.cross_entropy, "cross_entropy"), (F.nll_loss, "nll_loss")):
        with pytest.raises(TypeError, match=f"{name}.*integer class labels.*float"):
            fn(x, np.zeros(4, np.float32))
        with pytest.raises(ValueError, match=rf"{name}.*\[0, 5\).*5"):
            fn(x, np.array([0, 1, 5, 2]))
        with pytest.raises(ValueError, match=rf"{name}.*\[0, 5\).*-1"):
            fn(x, np.array([0, 1, -1, 2]))
        with pytest.raises(ValueError, match=rf"{name}.*\(4,\).*\(4, 5\).*\(3,\)"):
            fn(x, np.array([0, 1, 2]))
        with pytest.raises(ValueError, match=rf"{name}.*\(2, 4\).*\(2, 3, 4\).*\(2, 3\)"):
            fn(st.tensor(np.zeros((2, 3, 4), np.float32)), np.zeros((2, 3), np.int64))
        with pytest.raises(ValueError, match=rf"{name}.*weight.*\(5,\).*\(4,\)"):
            fn(x, np.array([0, 1, 2, 3]), np.ones(4, np.float32))
        with pytest.raises(ValueError, match=f"{name}.*reduction"):
            fn(x, np.array([0, 1, 2, 3]), reduction="avg")
        with pytest.raises(TypeError, match=name):
            fn(x, np.array([0, 1, 2, 3]), np.ones(5, np.float64))
    with pytest.raises(TypeError, match="nll_loss.*integer"):
        F.nll_loss(x, np.zeros((4, 5), np.float32))  # no probability targets for nll_loss
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2, 3]), label_smoothing=1.5)
    F.cross_entropy(x, np.array([0, -100, 2, -100]))  # ignored labels may lie outside [0, C)
    with np.errstate(all="raise"):  # every label ignored: NaN, as PyTorch, without a warning
        assert np.isnan(F.cross_entropy(x, np.full(4, -100)).item())


def test_pairwise_loss_errors():
    x = st.tensor(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(4, 1\).*\(4, 5\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros((4, 1), np.float32))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits.*target"):
        F.binary_cross_entropy_with_logits(x, np.zeros((4, 5), np.int64))
    with pytest.raises(ValueError, match=r"mse_loss.*\(3, 5\).*\(4, 5\)"):
        F.mse_loss(x, np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="l1_loss.*reduction"):
        F.l1_loss(x, x, reduction="max")
    with pytest.raises(ValueError, match="MSELoss"):
        nn.MSELoss(reduction="avg")
