"""Loss functions with PyTorch's signatures and reductions ('mean' | 'sum' | 'none').

Each loss is one op: its forward gives the per-element losses ℓᵢ (reduced as asked) and its
backward the gradient of ℓᵢ times the upstream gradient gᵢ, which is g / denominator for 'mean',
g for 'sum', and gᵢ itself for 'none'.

Class-indexed inputs are handled as (N, C, S) with S the product of any extra dims (so (N, C),
(N, C, H, W) and the unbatched (C,) share one code path); targets as (N, S).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..backend import array_module
from ..function import Context, Function
from ..tensor import unwrap
from . import checks
from .activation import log1p_exp, log_softmax_parts, stable_sigmoid

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction: str, denom):
    if reduction == "none":
        return loss
    total = loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as PyTorch
        return array_module(loss).asarray(total / denom if reduction == "mean" else total,
                                          dtype=loss.dtype)


def _upstream(g, reduction: str, denom):
    """The per-element upstream gradient gᵢ (a 0-d array for the 'mean' and 'sum' reductions)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return g / denom if reduction == "mean" else g


class _Targets:
    """Class labels t (N, S), the ignore mask, and each element's weight w[tᵢ] (0 if ignored)."""

    def __init__(self, target, weight, ignore_index: int, dtype):
        xp = array_module(target)
        n = target.shape[0]
        valid = target != ignore_index
        self.t = xp.where(valid, target, 0)
        self.valid = valid.astype(dtype)  # a float mask: bool · float would promote to float64
        self.wt = self.valid if weight is None else weight[self.t] * self.valid
        # Index arrays that pick x[n, t[n, s], s] out of an (N, C, S) array, with no repeats.
        self.index = (xp.arange(n)[:, None], self.t, xp.arange(target.shape[1])[None, :])


def _as_ncs(x, target):
    """View input as (N, C, S) and class-index targets as (N, S); unbatched (C,) becomes N = 1."""
    if x.ndim == 1:
        x, target = x[None], target[None]
    n, c = x.shape[:2]
    target = target.reshape(n, -1) if target.ndim == x.ndim - 1 else target.reshape(n, c, -1)
    return x.reshape(n, c, -1), target


class CrossEntropy(Function):
    """Softmax and cross-entropy fused, from logits x (Goodfellow et al. 2016, §6.2.2.3):

        ℓᵢ = −Σ_c q_ic ln p_ic,   p = softmax(x) along the classes,
        q_ic = w_c · y_ic,   y = (1 − ε) · target + ε / C   (one-hot target for class labels),
        ∂ℓᵢ/∂x_ic = sᵢ p_ic − q_ic,   sᵢ = Σ_c q_ic;

    with no class weights sᵢ = 1 and this is the familiar δ = (p − y)/N under 'mean'.  With class
    labels, ignored elements have q = 0 and 'mean' divides by Σᵢ w[tᵢ] over the others; with
    probability targets 'mean' divides by the number of elements N·S (both as PyTorch), and
    ∂ℓᵢ/∂target_ic = −(1 − ε) w_c ln p_ic.
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx: Context, x, target, weight, *, ignore_index: int, reduction: str,
                label_smoothing: float, class_target: bool):
        out_shape = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
        x3, target = _as_ncs(x, target)
        c, eps = x3.shape[1], label_smoothing
        w = None if weight is None else weight[None, :, None]
        shifted, lse, p, total = log_softmax_parts(x3, 1)
        p /= total
        if class_target:
            tg = _Targets(target, weight, ignore_index, x.dtype)
            loss = (shifted[tg.index] - lse[:, 0]) * (-(1 - eps) * tg.wt)
            if eps > 0:
                wsum = c if weight is None else weight.sum()
                wlogp = (shifted.sum(1) if w is None else (shifted * w).sum(1)) - wsum * lse[:, 0]
                loss -= wlogp * tg.valid * (eps / c)
            denom = tg.wt.sum()
            ctx.targets, ctx.wsum = tg, wsum if eps > 0 else 0
        else:
            logp = shifted
            logp -= lse
            q = target * (1 - eps) + eps / c if eps > 0 else target
            q = q if w is None else q * w
            loss = -(q * logp).sum(1)
            denom = loss.size
            ctx.q = q
            ctx.logp = logp if ctx.needs_input_grad[1] else None
        ctx.save_for_backward(p, w)
        ctx.shape = x.shape
        ctx.reduction, ctx.denom, ctx.eps, ctx.class_target = reduction, denom, eps, class_target
        return _reduce(loss.reshape(out_shape), reduction, denom)

    @staticmethod
    def backward(ctx: Context, g):
        p, w = ctx.saved_tensors
        gi = _upstream(g, ctx.reduction, ctx.denom)
        if gi.ndim:
            gi = gi.reshape(p.shape[0], -1)
        gi_c = gi[:, None] if gi.ndim else gi
        eps, c = ctx.eps, p.shape[1]
        gx = gt = None
        if ctx.class_target:
            tg = ctx.targets
            a = tg.wt * gi  # w[tᵢ] gᵢ, 0 where ignored
            if eps == 0:
                gx = p * a[:, None]
                gx[tg.index] -= a
            else:
                vg = tg.valid * gi
                gx = p * ((1 - eps) * a + (eps / c * ctx.wsum) * vg)[:, None]
                gx[tg.index] -= (1 - eps) * a
                smooth = vg[:, None] * (eps / c)
                gx -= smooth if w is None else smooth * w
        else:
            if ctx.needs_input_grad[0]:
                gx = (ctx.q.sum(1, keepdims=True) * p - ctx.q) * gi_c
            if ctx.needs_input_grad[1]:
                scale = 1 - eps if w is None else w * (1 - eps)
                gt = (ctx.logp * (-gi_c * scale)).reshape(ctx.shape)
        if gx is not None:
            gx = gx.reshape(ctx.shape)
        return gx, gt, None


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities x:  ℓᵢ = −w[tᵢ] · x[i, tᵢ]  (0 if ignored);
    ∂ℓᵢ/∂x_ic = −w[tᵢ] where c = tᵢ, 0 elsewhere.  'mean' divides by Σᵢ w[tᵢ]."""

    name = "nll_loss"

    @staticmethod
    def forward(ctx: Context, x, target, weight, *, ignore_index: int, reduction: str):
        out_shape = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
        x3, target = _as_ncs(x, target)
        tg = _Targets(target, weight, ignore_index, x.dtype)
        loss = -x3[tg.index] * tg.wt
        ctx.targets, ctx.denom, ctx.reduction = tg, tg.wt.sum(), reduction
        ctx.shape, ctx.shape3 = x.shape, x3.shape
        return _reduce(loss.reshape(out_shape), reduction, ctx.denom)

    @staticmethod
    def backward(ctx: Context, g):
        tg = ctx.targets
        gi = _upstream(g, ctx.reduction, ctx.denom)
        if gi.ndim:
            gi = gi.reshape(tg.t.shape)
        gx = array_module(g).zeros(ctx.shape3, dtype=g.dtype)
        gx[tg.index] = -tg.wt * gi
        return gx.reshape(ctx.shape), None, None


class MSELoss(Function):
    """The L2 loss ℓᵢ = (xᵢ − yᵢ)²;  ∂ℓᵢ/∂xᵢ = 2(xᵢ − yᵢ),  ∂ℓᵢ/∂yᵢ = −2(xᵢ − yᵢ)."""

    name = "mse_loss"

    @staticmethod
    def forward(ctx: Context, x, y, *, reduction: str):
        d = x - y
        ctx.save_for_backward(d)
        ctx.reduction, ctx.denom = reduction, d.size
        return _reduce(d * d, reduction, d.size)

    @staticmethod
    def backward(ctx: Context, g):
        (d,) = ctx.saved_tensors
        gd = d * (2 * _upstream(g, ctx.reduction, ctx.denom))
        return gd, (-gd if ctx.needs_input_grad[1] else None)


class L1Loss(Function):
    """ℓᵢ = |xᵢ − yᵢ|;  ∂ℓᵢ/∂xᵢ = sgn(xᵢ − yᵢ),  ∂ℓᵢ/∂yᵢ = −sgn(xᵢ − yᵢ)."""

    name = "l1_loss"

    @staticmethod
    def forward(ctx: Context, x, y, *, reduction: str):
        xp = array_module(x, y)
        d = x - y
        ctx.save_for_backward(xp.sign(d))
        ctx.reduction, ctx.denom = reduction, d.size
        return _reduce(xp.abs(d), reduction, d.size)

    @staticmethod
    def backward(ctx: Context, g):
        (sign,) = ctx.saved_tensors
        gd = sign * _upstream(g, ctx.reduction, ctx.denom)
        return gd, (-gd if ctx.needs_input_grad[1] else None)


class BCEWithLogits(Function):
    """Sigmoid and binary cross-entropy fused, in the log-sum-exp form that never overflows:

        ℓᵢ = wᵢ · [(1 − yᵢ) xᵢ + lᵢ · softplus(−xᵢ)],   lᵢ = 1 + (pos_weight − 1) yᵢ,
        softplus(−x) = ln(1 + e^(−x)) = max(−x, 0) + ln(1 + e^(−|x|)),
        ∂ℓᵢ/∂xᵢ = wᵢ · (lᵢ σ(xᵢ) − pos_weight · yᵢ)    (= wᵢ (σ(xᵢ) − yᵢ) without pos_weight),
        ∂ℓᵢ/∂yᵢ = wᵢ · ((pos_weight − 1) softplus(−xᵢ) − xᵢ).

    pos_weight broadcasts along the last dim (the classes), as PyTorch; weights get no gradient.
    """

    name = "binary_cross_entropy_with_logits"

    @staticmethod
    def forward(ctx: Context, x, y, weight, pos_weight, *, reduction: str):
        sp = log1p_exp(-x)
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + lw * sp
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, pos_weight, sp if ctx.needs_input_grad[1] else None)
        ctx.reduction, ctx.denom = reduction, loss.size
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx: Context, g):
        x, y, weight, pw, sp = ctx.saved_tensors
        gi = _upstream(g, ctx.reduction, ctx.denom)
        if weight is not None:
            gi = gi * weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            sig = stable_sigmoid(x)
            gx = gi * (sig - y if pw is None else (1 + (pw - 1) * y) * sig - pw * y)
        if ctx.needs_input_grad[1]:
            gy = gi * (-x if pw is None else (pw - 1) * sp - x)
        return gx, gy, None, None


# --- functional forms: argument checks, then the op ----------------------------------------------


def check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_class_input(op: str, input: Any, target: Any, weight: Any) -> bool:
    """Validate shapes; True when target holds class labels, False for class probabilities."""
    if input.ndim < 1:
        raise ValueError(
            f"{op}: expected input (N, C, ...) or (C,), got shape {tuple(input.shape)}")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    labels_shape = tuple(input.shape[:1] + input.shape[2:]) if input.ndim > 1 else ()
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"{op}: expected weight of shape ({c},) for input of shape "
                         f"{tuple(input.shape)}, got {tuple(weight.shape)}")
    if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        return False
    if tuple(target.shape) != labels_shape:
        raise ValueError(
            f"{op}: expected target of shape {labels_shape} (class labels) or "
            f"{tuple(input.shape)} (class probabilities) for input of shape "
            f"{tuple(input.shape)}, got target shape {tuple(target.shape)}")
    return True


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy of logits against class labels or class probabilities (softmax included).

        ℓ_i = −Σ_c w_c · y_ic · ln p_ic,   p_i = softmax(x_i),
        y_i = (1 − ε) · target_i + ε / C   (target_i one-hot for a class label)

    The negative log-likelihood of the right class under the model's softmax: it is small when
    the model gives the right class a high probability and grows without bound as that
    probability goes to 0. Label smoothing (ε > 0) moves a little of each target's mass to the
    other classes, which keeps the logits from growing without end.

    Args:
        input: logits (N, C), or (N, C, d1, ...) for a score per position.
        target: class indices (N) or (N, d1, ...), int64 in [0, C) or ``ignore_index``; or
            class probabilities of the input's shape.
        weight: (C,) a weight per class, or None (all 1).
        ignore_index: a label whose elements count neither in the loss nor in the mean.
        reduction: 'mean' (over the elements, or over Σ w[target] with weights), 'sum' or
            'none'.
        label_smoothing: ε in [0, 1].

    Shape:
        Output a scalar, or with ``reduction='none'`` the target's shape (N) or (N, d1, ...).

    Backward:
        Softmax and loss in one op make the gradient simple and stable: ∂ℓ_i/∂x_ic =
        s_i · p_ic − w_c · y_ic with s_i = Σ_c w_c · y_ic; without weights, under 'mean',
        that is the familiar (p − y)/N. The formulas: :class:`CrossEntropy`.

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.3 (softmax units);
        Bishop, "Pattern Recognition and Machine Learning" (2006), §4.3.4; Szegedy et al. 2016,
        "Rethinking the Inception architecture for computer vision" (label smoothing).
    """
    op = "cross_entropy"
    check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    class_target = _check_class_input(op, input, target, weight)
    if class_target:
        c = input.shape[1] if input.ndim > 1 else input.shape[0]
        target = unwrap(target)
        checks.expect_class_labels(op, target, c, ignore_index)
    return CrossEntropy.apply(input, target, weight, ignore_index=int(ignore_index),
                              reduction=reduction, label_smoothing=float(label_smoothing),
                              class_target=class_target)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities against class labels.

        ℓ_i = −w[t_i] · x[i, t_i]   (0 where t_i = ``ignore_index``)

    The loss to put after ``log_softmax``: together they are :func:`cross_entropy`. It picks,
    for each sample, the log-probability the model gave its true class.

    Args:
        input: log-probabilities (N, C), or (N, C, d1, ...).
        target: class indices (N) or (N, d1, ...), int64 in [0, C) or ``ignore_index``.
        weight: (C,) a weight per class, or None (all 1).
        ignore_index: a label whose elements count neither in the loss nor in the mean.
        reduction: 'mean' (dividing by Σ_i w[t_i]), 'sum' or 'none'.

    Shape:
        Output a scalar, or with ``reduction='none'`` the target's shape.

    Backward:
        Only the true class's entry of each sample gets a gradient: ∂ℓ_i/∂x[i, t_i] = −w[t_i],
        0 elsewhere (divided by Σ_i w[t_i] under 'mean').

    References:
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §5.5 (maximum likelihood) and
        §6.2.2.3; Bishop, "Pattern Recognition and Machine Learning" (2006), §4.3.4.
    """
    op = "nll_loss"
    check_reduction(op, reduction)
    target = unwrap(target)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_class_input(op, input, target, weight)
    checks.expect_class_labels(op, target, c, ignore_index)  # also refuses float targets
    return NLLLoss.apply(input, target, weight, ignore_index=int(ignore_index),
                         reduction=reduction)


def _check_pair(op: str, input: Any, target: Any, same_shape: bool) -> None:
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        shape = None
    if shape is None or (same_shape and tuple(input.shape) != tuple(target.shape)):
        raise ValueError(f"{op}: target shape {tuple(target.shape)} does not match input shape "
                         f"{tuple(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{op}: target shape {tuple(target.shape)} differs from input shape "
                      f"{tuple(input.shape)}; they broadcast to {shape}, which is rarely meant",
                      stacklevel=3)


def mse_loss(input: Any, target: Any, reduction: str = "mean"):
    """Mean squared error, the L2 loss.

        ℓ_i = (x_i − y_i)²,   then the mean (or sum) over the elements

    The loss of least squares: minimising it fits the conditional mean of the target, the
    maximum-likelihood estimate under Gaussian noise. Large errors weigh quadratically.

    Args:
        input: any shape.
        target: the input's shape; it may require a gradient too.
        reduction: 'mean', 'sum' or 'none'.

    Shape:
        Output a scalar, or with ``reduction='none'`` the input's shape.

    Backward:
        ∂ℓ_i/∂x_i = 2(x_i − y_i) and ∂ℓ_i/∂y_i = −2(x_i − y_i), divided by the number of
        elements under 'mean'.

    References:
        Bishop, "Pattern Recognition and Machine Learning" (2006), §1.2.5 and §3.1.1;
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §5.5.1.
    """
    check_reduction("mse_loss", reduction)
    _check_pair("mse_loss", input, target, same_shape=False)
    return MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean"):
    """Mean absolute error, the L1 loss.

        ℓ_i = |x_i − y_i|,   then the mean (or sum) over the elements

    Minimising it fits the conditional median of the target rather than its mean, so it is
    less sensitive to outliers than :func:`mse_loss`: every error pulls with the same force.

    Args:
        input: the predictions, of any shape (*).
        target: (*) as well, and differentiable like the input.
        reduction: how the elements' losses combine: their 'mean', their 'sum', or 'none'.

    Shape:
        Output (), or (*) unreduced.

    Backward:
        The sign of the error: ∂ℓ_i/∂x_i = sgn(x_i − y_i) (0 where they are equal) and
        ∂ℓ_i/∂y_i = −sgn(x_i − y_i), divided by the number of elements under 'mean'.

    References:
        Hastie, Tibshirani & Friedman, "The Elements of Statistical Learning" (2009), §10.6;
        Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.1.2.
    """
    check_reduction("l1_loss", reduction)
    _check_pair("l1_loss", input, target, same_shape=False)
    return L1Loss.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None):
    """Binary cross-entropy of logits against targets in [0, 1] (sigmoid included).

        ℓ_i = −w_i · [pos_weight · y_i · ln σ(x_i) + (1 − y_i) · ln(1 − σ(x_i))]

    Each element is an independent yes/no question (multi-label classification): σ(x_i) is the
    model's probability of "yes". Computed from the logits in the log-sum-exp form, which never
    overflows, instead of taking the log of a sigmoid that rounded to 0 or 1.

    Args:
        input: logits, any shape.
        target: the input's shape, values in [0, 1].
        weight: a weight per element, broadcast to the input, or None.
        reduction: 'mean', 'sum' or 'none'.
        pos_weight: a weight of the positive term per class (broadcast along the last dim), to
            balance rare positives, or None.

    Shape:
        Output a scalar, or with ``reduction='none'`` the input's shape.

    Backward:
        Sigmoid and loss together give ∂ℓ_i/∂x_i = w_i · (σ(x_i) − y_i) without ``pos_weight``
        (w_i · (l_i σ(x_i) − pos_weight · y_i) with it, l_i = 1 + (pos_weight − 1) y_i); the
        target gets a gradient too, the weights none (:class:`BCEWithLogits`).

    References:
        Bishop, "Pattern Recognition and Machine Learning" (2006), §4.3.2 (logistic
        regression); Goodfellow, Bengio & Courville, "Deep Learning" (2016), §6.2.2.2.
    """
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    _check_pair(op, input, target, same_shape=True)
    checks.expect_float(op, "target", target)
    return BCEWithLogits.apply(input, target, weight, pos_weight, reduction=reduction)
