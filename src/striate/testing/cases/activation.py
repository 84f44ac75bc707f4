"""Cases for activations (inputs kept away from kinks), the fully connected layer and dropout
(a fresh, identically seeded generator per call, so every evaluation draws the same mask)."""

import numpy as np

from ...ops import activation as A
from ...ops.dropout import dropout, dropout2d
from ...ops.linear import linear
from ..gradcheck import Case, away_from_zero


def _normal(*shapes, scale=1.0):
    return lambda rng: tuple(scale * rng.standard_normal(s) for s in shapes)


def _kinked(shape, shift=0.0):
    """Normal samples at least 0.05 away from the kink at ``shift``."""
    return lambda rng: (away_from_zero(rng, shape) + shift,)


def _dropout(p, training=True, fn=dropout):
    return lambda x: fn(x, p, training, generator=np.random.default_rng(7))


CASES = [
    Case("relu", "(3,4)", A.relu, _kinked((3, 4))),
    Case("relu", "4-D (2,3,2,2)", A.relu, _kinked((2, 3, 2, 2))),
    Case("leaky_relu", "default slope", A.leaky_relu, _kinked((3, 4))),
    Case("leaky_relu", "slope 0.2, 4-D", lambda x: A.leaky_relu(x, 0.2), _kinked((2, 2, 3, 2))),
    Case("leaky_relu", "slope 1.5", lambda x: A.leaky_relu(x, 1.5), _kinked((5,))),
    Case("elu", "alpha 1", A.elu, _kinked((3, 4))),
    Case("elu", "alpha 0.5, 4-D", lambda x: A.elu(x, 0.5), _kinked((2, 3, 2, 2))),
    Case("sigmoid", "(3,4) wide range", A.sigmoid, _normal((3, 4), scale=3.0)),
    Case("sigmoid", "4-D", A.sigmoid, _normal((2, 2, 2, 3))),
    Case("tanh", "(3,4)", A.tanh, _normal((3, 4), scale=2.0)),
    Case("tanh", "4-D", A.tanh, _normal((1, 3, 2, 3))),
    Case("softplus", "default", A.softplus, _normal((3, 4), scale=3.0)),
    Case("softplus", "beta 2, threshold 1 (both branches)",
         lambda x: A.softplus(x, 2.0, 1.0), _kinked((4, 4), shift=0.5)),
    Case("softplus", "beta 0.5", lambda x: A.softplus(x, 0.5), _normal((2, 3, 2))),
    Case("softmax", "dim 1", lambda x: A.softmax(x, 1), _normal((3, 5))),
    Case("softmax", "dim 0", lambda x: A.softmax(x, 0), _normal((4, 3))),
    Case("softmax", "3-D dim -1", lambda x: A.softmax(x, -1), _normal((2, 3, 4))),
    Case("softmax", "4-D channels", lambda x: A.softmax(x, 1), _normal((2, 3, 2, 2))),
    Case("log_softmax", "dim 1", lambda x: A.log_softmax(x, 1), _normal((3, 5))),
    Case("log_softmax", "dim 0, large logits", lambda x: A.log_softmax(x, 0),
         _normal((4, 3), scale=20.0)),
    Case("log_softmax", "3-D dim -1", lambda x: A.log_softmax(x, -1), _normal((2, 3, 4))),
    Case("rectify", "(3,4)", A.rectify, _kinked((3, 4))),
    Case("rectify", "4-D", A.rectify, _kinked((2, 3, 2, 2))),
    Case("smooth_abs", "k 1", A.smooth_abs, _normal((3, 4), scale=2.0)),
    Case("smooth_abs", "k 5 (both branches)", lambda x: A.smooth_abs(x, 5.0),
         _normal((4, 5))),
    Case("smooth_abs", "k 0.5, 4-D", lambda x: A.smooth_abs(x, 0.5), _normal((2, 2, 2, 3))),
    Case("gain", "(2,3,4)", A.gain, _normal((2, 3, 4), (3,))),
    Case("gain", "4-D (2,3,2,3)", A.gain, _normal((2, 3, 2, 3), (3,))),
    Case("gain", "2-D (4,5)", A.gain, _normal((4, 5), (5,))),
    Case("linear", "(4,5) -> 3 with bias", linear, _normal((4, 5), (3, 5), (3,))),
    Case("linear", "no bias", linear, _normal((3, 4), (2, 4))),
    Case("linear", "3-D input (2,3,4)", linear, _normal((2, 3, 4), (5, 4), (5,))),
    Case("linear", "1-D input, batch 1", linear, _normal((6,), (3, 6), (3,))),
    Case("dropout", "p 0.5", _dropout(0.5), _normal((4, 5))),
    Case("dropout", "p 0.2, 4-D", _dropout(0.2), _normal((2, 3, 2, 2))),
    Case("dropout", "eval (identity)", _dropout(0.5, training=False), _normal((3, 4))),
    Case("dropout2d", "p 0.5, (3,4,3,2)", _dropout(0.5, fn=dropout2d), _normal((3, 4, 3, 2))),
    Case("dropout2d", "p 0.3, batch 1, 3-D (N,C,L)", _dropout(0.3, fn=dropout2d),
         _normal((1, 5, 3))),
    Case("dropout2d", "eval (identity)", _dropout(0.5, False, dropout2d), _normal((2, 3, 2, 2))),
]
