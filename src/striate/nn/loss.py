"""Loss layers with PyTorch's constructor arguments; class weights are buffers named ``weight``
(and ``pos_weight``), as PyTorch registers them, so they appear in ``state_dict`` when set."""

from __future__ import annotations

from typing import Any

from ..backend import is_array
from ..ops import loss as L
from ..tensor import unwrap
from .module import Module


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, when given, decide the reduction."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _array(value: Any) -> Any:
    if value is None or is_array(value):
        return value
    return unwrap(value)


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)
        L.check_reduction(type(self).__name__, self.reduction)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _array(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against class labels or probabilities (``F.cross_entropy``).

        ℓ_i = −Σ_c w_c · y_ic · ln softmax(x_i)_c,   y_i = (1 − ε) · target_i + ε / C

    Args:
        weight: (C,) a weight per class, or None; kept as a buffer.
        size_average: deprecated (PyTorch's); with ``reduce``, decides the reduction when given.
        reduce: deprecated (PyTorch's); False means 'none'.
        ignore_index: a label left out of the loss and the mean.
        reduction: 'mean', 'sum' or 'none'.
        label_smoothing: ε in [0, 1].

    Shape:
        Input (N, C) or (N, C, d1, ...); target (N) or (N, d1, ...) class indices, or
        probabilities of the input's shape; output a scalar, or the target's shape with 'none'.

    Backward:
        ∂ℓ_i/∂x_i = p_i − y_i without class weights (p the softmax), divided by N under
        'mean': softmax and loss in one op.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.3;
        Szegedy et al. 2016, "Rethinking the Inception architecture for computer vision"
        (label smoothing).
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return L.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities against class labels (``F.nll_loss``).

        ℓ_i = −w[t_i] · x[i, t_i]

    Put after ``LogSoftmax``; the two together are ``CrossEntropyLoss``.

    Args:
        weight: (C,) a weight per class, or None; kept as a buffer.
        size_average: deprecated (PyTorch's); with ``reduce``, decides the reduction when given.
        reduce: deprecated (PyTorch's); False means 'none'.
        ignore_index: a label left out of the loss and the mean.
        reduction: 'mean' (dividing by Σ w[t_i]), 'sum' or 'none'.

    Shape:
        Input (N, C) or (N, C, d1, ...); target (N) or (N, d1, ...); output a scalar, or the
        target's shape with 'none'.

    Backward:
        −w[t_i] at each sample's true class, zero elsewhere.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §5.5 and §6.2.2.3.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return L.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error, the L2 loss (``F.mse_loss``).

        ℓ_i = (x_i − y_i)²

    Args:
        size_average: deprecated (PyTorch's); with ``reduce``, decides the reduction when given.
        reduce: deprecated (PyTorch's); False means 'none'.
        reduction: 'mean', 'sum' or 'none'.

    Shape:
        Input and target of one shape; output a scalar, or that shape with 'none'.

    Backward:
        ∂ℓ_i/∂x_i = 2(x_i − y_i), and the opposite for the target.

    References:
        Bishop, "Pattern Recognition and Machine Learning" (2006), §1.2.5;
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §5.5.1.
    """

    def forward(self, input: Any, target: Any) -> Any:
        return L.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, the L1 loss (``F.l1_loss``).

        ℓ_i = |x_i − y_i|

    Args:
        size_average: deprecated (PyTorch's); with ``reduce``, decides the reduction when given.
        reduce: deprecated (PyTorch's); False means 'none'.
        reduction: how the elements' losses combine: their 'mean', their 'sum', or 'none'.

    Shape:
        Input (*) and target (*) alike; output () or, unreduced, (*).

    Backward:
        The sign of the error, sgn(x_i − y_i), and the opposite for the target.

    References:
        Hastie, Tibshirani & Friedman, "The Elements of Statistical Learning" (2009), §10.6.
    """

    def forward(self, input: Any, target: Any) -> Any:
        return L.l1_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable op (``F.binary_cross_entropy_with_logits``).

        ℓ_i = −w_i · [pos_weight · y_i · ln σ(x_i) + (1 − y_i) · ln(1 − σ(x_i))]

    Args:
        weight: a weight per element, broadcast to the input, or None; kept as a buffer.
        size_average: deprecated (PyTorch's); with ``reduce``, decides the reduction when given.
        reduce: deprecated (PyTorch's); False means 'none'.
        reduction: 'mean', 'sum' or 'none'.
        pos_weight: a weight of the positive term per class (the last dim), or None; a buffer.

    Shape:
        Input (logits) and target (in [0, 1]) of one shape; output a scalar, or that shape
        with 'none'.

    Backward:
        ∂ℓ_i/∂x_i = w_i · (σ(x_i) − y_i) without ``pos_weight``.

    References:
        Bishop, "Pattern Recognition and Machine Learning" (2006), §4.3.2;
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.2.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean", pos_weight: Any = None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _array(weight))
        self.register_buffer("pos_weight", _array(pos_weight))

    def forward(self, input: Any, target: Any) -> Any:
        return L.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)
