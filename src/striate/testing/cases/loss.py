"""Cases for the losses: every reduction, class weights, ignore_index, label smoothing,
segmentation-shaped (4-D) inputs, probability targets (differentiated too), unbatched input."""

import numpy as np

from ...ops import loss as L
from ..gradcheck import Case, away_from_zero

# Fixed labels and weights (the gradient check differentiates only the float inputs).
_labels = np.random.default_rng(3)
T4 = _labels.integers(0, 5, 4)
T6 = _labels.integers(0, 4, 6)
T6[[1, 4]] = -100
TSEG = _labels.integers(0, 3, (2, 3, 2))
TSEG[0, 1, 1] = TSEG[1, 2, 0] = 255
W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.8])
W4 = np.array([2.0, 0.5, 1.0, 3.0])
W3 = np.array([1.0, 0.3, 2.5])


def _normal(*shapes):
    return lambda rng: tuple(rng.standard_normal(s) for s in shapes)


def _with_probs(shape):
    """Logits and a probability target of the same shape (rows sum to 1 along dim 1)."""
    def make(rng):
        p = rng.uniform(0.1, 1.0, shape)
        return rng.standard_normal(shape), p / p.sum(axis=1, keepdims=True)
    return make


def _ce(target, **kw):
    return lambda x: L.cross_entropy(x, target, **kw)


def _ce_probs(**kw):
    return lambda x, p: L.cross_entropy(x, p, **kw)


def _nll(target, **kw):
    return lambda x: L.nll_loss(x, target, **kw)


def _pair_apart(shape):
    """(x, y) with every x − y at least 0.05 from 0, the kink of l1_loss."""
    def make(rng):
        y = rng.standard_normal(shape)
        return y + away_from_zero(rng, shape), y
    return make


def _bce(**kw):
    return lambda x, y: L.binary_cross_entropy_with_logits(x, y, **kw)


def _bce_inputs(shape):
    return lambda rng: (2 * rng.standard_normal(shape), rng.uniform(0, 1, shape))


CASES = [
    Case("cross_entropy", "mean", _ce(T4), _normal((4, 5))),
    Case("cross_entropy", "sum", _ce(T4, reduction="sum"), _normal((4, 5))),
    Case("cross_entropy", "none", _ce(T4, reduction="none"), _normal((4, 5))),
    Case("cross_entropy", "label smoothing 0.1", _ce(T4, label_smoothing=0.1), _normal((4, 5))),
    Case("cross_entropy", "class weights", _ce(T4, weight=W5), _normal((4, 5))),
    Case("cross_entropy", "ignore_index", _ce(T6), _normal((6, 4))),
    Case("cross_entropy", "weights + ignore + smoothing, sum",
         _ce(T6, weight=W4, label_smoothing=0.2, reduction="sum"), _normal((6, 4))),
    Case("cross_entropy", "weights + ignore + smoothing, mean",
         _ce(T6, weight=W4, label_smoothing=0.3), _normal((6, 4))),
    Case("cross_entropy", "4-D segmentation, ignore 255",
         _ce(TSEG, ignore_index=255), _normal((2, 3, 3, 2))),
    Case("cross_entropy", "4-D none, weights",
         _ce(TSEG, ignore_index=255, weight=W3, reduction="none"), _normal((2, 3, 3, 2))),
    Case("cross_entropy", "unbatched (C,)", _ce(np.array(2)), _normal((5,))),
    Case("cross_entropy", "probability target", _ce_probs(), _with_probs((4, 5))),
    Case("cross_entropy", "probability target, weights + smoothing, none",
         _ce_probs(weight=W5, label_smoothing=0.2, reduction="none"), _with_probs((3, 5))),
    Case("cross_entropy", "probability target 4-D, sum",
         _ce_probs(reduction="sum"), _with_probs((2, 3, 2, 2))),
    Case("nll_loss", "mean", _nll(T4), _normal((4, 5))),
    Case("nll_loss", "weights + ignore, sum", _nll(T6, weight=W4, reduction="sum"),
         _normal((6, 4))),
    Case("nll_loss", "weights + ignore, mean", _nll(T6, weight=W4), _normal((6, 4))),
    Case("nll_loss", "4-D none", _nll(TSEG, ignore_index=255, reduction="none"),
         _normal((2, 3, 3, 2))),
    Case("mse_loss", "mean", L.mse_loss, _normal((3, 4), (3, 4))),
    Case("mse_loss", "sum, 4-D", lambda x, y: L.mse_loss(x, y, "sum"),
         _normal((2, 2, 2, 3), (2, 2, 2, 3))),
    Case("mse_loss", "none", lambda x, y: L.mse_loss(x, y, "none"), _normal((5,), (5,))),
    Case("l1_loss", "mean", L.l1_loss, _pair_apart((3, 4))),
    Case("l1_loss", "sum", lambda x, y: L.l1_loss(x, y, "sum"), _pair_apart((2, 3, 2))),
    Case("l1_loss", "none", lambda x, y: L.l1_loss(x, y, "none"), _pair_apart((5,))),
    Case("binary_cross_entropy_with_logits", "mean", _bce(), _bce_inputs((3, 4))),
    Case("binary_cross_entropy_with_logits", "sum, weight",
         _bce(weight=np.linspace(0.5, 2.0, 4), reduction="sum"), _bce_inputs((3, 4))),
    Case("binary_cross_entropy_with_logits", "none, pos_weight",
         _bce(pos_weight=np.array([0.5, 2.0, 3.0, 1.0]), reduction="none"),
         _bce_inputs((3, 4))),
    Case("binary_cross_entropy_with_logits", "4-D, weight + pos_weight",
         _bce(weight=np.array([[1.0], [0.5]]), pos_weight=np.array([2.0, 0.7])),
         _bce_inputs((2, 2, 2, 2))),
]
