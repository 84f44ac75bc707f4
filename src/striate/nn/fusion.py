"""Fusion as a transform: ``fuse(model)`` runs a model's conv → BN → (+ shortcut) → ReLU chains as
single ops, while its ``forward`` stays the textbook composition ``relu(bn(conv(x)) + shortcut)``.

Why: each layer of such a chain makes a pass over the whole output and a new array; one op applies
the whole chain to each piece of the convolution's output while it is in cache.

How: ``fuse`` gives the model's ``Conv2d``, ``BatchNorm2d`` and ``ReLU`` layers fused subclasses
(same parameters, buffers and ``state_dict`` keys; ``unfuse`` gives them back). A fused conv or BN
does not compute its output at once: it returns a :class:`Deferred` tensor that remembers the chain
so far. The next layer of the chain extends it (a BN, ``+ residual``) and a ReLU computes the whole
chain as one op. Anything else that touches a deferred tensor (another op, a hook, ``.shape``)
computes the chain as far as it goes, exactly as the unfused layers would, so a chain is fused only
where the computation really is one, whatever the model's code looks like.

The ops: at inference (BN in evaluation mode, no gradient to record) conv → BN → (+ r) → ReLU is
``conv2d_inference``, with BN folded into a per-channel affine map of the conv's output (see
:func:`bn_affine`); in training, conv → ReLU is ``conv2d_relu`` and BN → (+ r) → ReLU is
``BatchNorm2d.forward_fused``, which also runs a BN → ReLU that follows no conv in evaluation
(DenseNet's pre-activation). A layer with hooks runs as written, so hooks see it.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from ..backend import array_module
from ..kernels.conv_geometry import output_size
from ..ops.batch_norm import batch_norm
from ..ops.conv import conv2d_inference, conv2d_relu
from ..tensor import Tensor, is_grad_enabled, no_grad, set_grad_enabled
from .activation import ReLU
from .conv import Conv2d
from .module import Module
from .norm import BatchNorm2d


def fuse(model: Module) -> Module:
    """Let ``model``'s conv → BN → (+ shortcut) → ReLU chains run as single ops; in place.

    Returns ``model``.  Its values and gradients are those of the unfused model (to float
    rounding: the fused ops sum in another order); its ``state_dict`` is unchanged."""
    for module in model.modules():
        fused = _FUSED.get(type(module))
        if fused is not None:
            module.__class__ = fused
    return model


def unfuse(model: Module) -> Module:
    """Undo :func:`fuse`: every layer runs alone again; in place, returns ``model``."""
    plain = {fused: kind for kind, fused in _FUSED.items()}
    for module in model.modules():
        module.__class__ = plain.get(type(module), type(module))
    return model


def is_fused(model: Module) -> bool:
    """Whether :func:`fuse` has been applied to some layer of ``model``."""
    return any(type(m) in _PLAIN for m in model.modules())


def foldable(bn: Module | None) -> bool:
    """Whether ``bn`` is a BatchNorm2d that acts as a fixed affine map (evaluation mode, with
    running statistics)."""
    return (isinstance(bn, BatchNorm2d) and not bn.training
            and bn.running_mean is not None and bn.running_var is not None)


def bn_affine(bn: BatchNorm2d, conv_bias: Any, acc: Any) -> tuple[Any, Any]:
    """(s, t) with bn(y + b) = y·s + t per channel in evaluation mode (b the conv's bias or
    None): s = γ/√(Var + ε), t = β − (E − b)·s, in the dtype ``acc``.  At batch 1 this runs
    beside every convolution, so it takes as few NumPy calls as it can, in place."""
    weight, bias, mean = bn.weight, bn.bias, bn.running_mean.astype(acc, copy=False)
    scale = bn.running_var.astype(acc)  # a copy: the steps below write into it
    xp = array_module(scale)
    xp.sqrt(xp.add(scale, bn.eps, out=scale), out=scale)
    if weight is None:
        xp.reciprocal(scale, out=scale)
    else:
        xp.divide(weight.data.astype(acc, copy=False), scale, out=scale)
    if conv_bias is not None:
        mean = mean - conv_bias.data.astype(acc, copy=False)
    shift = mean * scale
    if bias is None:
        return scale, xp.negative(shift, out=shift)
    return scale, xp.subtract(bias.data.astype(acc, copy=False), shift, out=shift)


class _Chain(NamedTuple):
    """conv → bn → (+ residual), the parts present; ``x`` the chain's input."""

    x: Any
    conv: Conv2d | None
    bn: BatchNorm2d | None
    residual: Any
    grad_enabled: bool  # the grad mode the layers were called in, to compute in
    first: list  # [True] until a training BN has updated its running statistics once


_TENSOR_SLOTS = tuple(slot for slot in Tensor.__slots__ if slot != "__weakref__")


class Deferred(Tensor):
    """A tensor whose value is a chain of layers not computed yet; reading any of its tensor
    attributes computes it (Tensor's slots are unset until then, so Python asks
    ``__getattr__``)."""

    __slots__ = ("_chain",)

    def __getattr__(self, name: str) -> Any:
        if name == "_chain" or name.startswith("__"):
            raise AttributeError(name)
        chain, self._chain = self._chain, None
        if chain is None:  # computed already: the attribute does not exist
            raise AttributeError(name)
        value = _compute(chain, relu=False)
        for slot in _TENSOR_SLOTS:
            object.__setattr__(self, slot, getattr(value, slot))
        return object.__getattribute__(self, name)

    def __add__(self, other: Any) -> Any:
        chain = _pending(self)
        if chain is None or chain.residual is not None or not _addable(chain, other):
            return Tensor.__add__(self, other)
        x, conv, bn, _, grad_enabled, first = chain
        return _defer(_Chain(x, conv, bn, other, grad_enabled, first))


def _defer(chain: _Chain) -> Deferred:
    out = object.__new__(Deferred)
    out._chain = chain
    return out


def _pending(x: Any) -> _Chain | None:
    """The chain a deferred tensor still waits to compute, else None."""
    return x._chain if type(x) is Deferred and x._chain is not None else None


def _hooked(layer: Module) -> bool:
    return bool(layer._forward_hooks or layer._forward_pre_hooks or layer._backward_hooks)


def _records_grad(chain: _Chain, *tensors: Any) -> bool:
    """Whether the chain's layers, called as they were, record a gradient."""
    if not chain.grad_enabled:
        return False
    params = [p for layer in (chain.conv, chain.bn) if layer is not None
              for p in layer._parameters.values() if p is not None]
    return any(getattr(t, "requires_grad", False) for t in (chain.x, *tensors, *params))


def _output_shape(chain: _Chain) -> tuple[int, ...]:
    """The shape of the chain's value: the conv's output, or the training BN's input."""
    shape = tuple(chain.x.shape)
    conv = chain.conv
    if conv is None or conv.padding == "same":  # 'same' takes stride 1 only
        return shape if conv is None else (shape[0], conv.out_channels, *shape[2:])
    pads = (0, 0) if conv.padding == "valid" else conv.padding
    return (shape[0], conv.out_channels, *(
        output_size(shape[2 + i], conv.kernel_size[i], conv.stride[i], 2 * pads[i],
                    conv.dilation[i]) for i in range(2)))


def _addable(chain: _Chain, other: Any) -> bool:
    """Whether ``other`` can be the chain's residual: a tensor of the output's shape and dtype
    (settled first: the fused op reads it), without a gradient where the op records none."""
    if not isinstance(other, Tensor):
        return False
    if chain.bn is None or not chain.bn.training:  # the inference op: conv → BN → + r
        if chain.conv is None or chain.bn is None or _records_grad(chain, other):
            return False
    return (tuple(other.shape) == _output_shape(chain)
            and other.dtype == chain.x.dtype)


def _compute(chain: _Chain, relu: bool) -> Tensor:
    """The chain's value, then max(·, 0) when ``relu``, in the grad mode its layers were called
    in: one op where one exists."""
    previous = is_grad_enabled()
    if previous == chain.grad_enabled:
        return _compute_now(chain, relu)
    set_grad_enabled(chain.grad_enabled)
    try:
        return _compute_now(chain, relu)
    finally:
        set_grad_enabled(previous)


def _compute_now(chain: _Chain, relu: bool) -> Tensor:
    conv, bn, x, residual = chain.conv, chain.bn, chain.x, chain.residual
    if conv is None:  # a BN alone: in training, or in evaluation not after a conv
        if chain.first[0] or not bn.training:
            chain.first[0] = False
            return bn.forward_fused(x, residual, relu)
        # computed again (its value was read twice): the same output, statistics updated once
        return batch_norm(x, None, None, bn.weight, bn.bias, True, 0.0, bn.eps,
                          residual=residual, relu=relu)
    if bn is None and residual is None:
        if relu:
            return conv2d_relu(x, conv.weight, conv.bias, conv.stride, conv.padding,
                               conv.dilation, conv.groups)
        return Conv2d.forward(conv, x)
    scale, shift = bn_affine(bn, conv.bias, conv.weight.data.dtype)
    return conv2d_inference(x, conv.weight, shift, conv.stride, conv.padding, conv.dilation,
                            conv.groups, scale=scale, residual=residual, relu=relu)


class FusedConv2d(Conv2d):
    """A ``Conv2d`` whose output waits to learn what follows it (see the module docstring)."""

    def forward(self, input: Any) -> Any:
        if _hooked(self):
            out = super().forward(input)
        else:
            out = _defer(_Chain(input, self, None, None, is_grad_enabled(), [True]))
        if _trace.calls is not None:
            _trace.calls.append((self, out))
        return out


class FusedBatchNorm2d(BatchNorm2d):
    """A ``BatchNorm2d`` that joins the conv before it at inference, and the ReLU after it (and
    in training the sum) otherwise (see the module docstring)."""

    def forward(self, input: Any) -> Any:
        if _hooked(self):
            return super().forward(input)
        chain = _pending(input)
        if _trace.calls is not None:
            _trace.calls.append((self, input))
        if chain is not None and chain.bn is None and foldable(self):
            extended = _Chain(chain.x, chain.conv, self, None, chain.grad_enabled, chain.first)
            if not _records_grad(extended):
                return _defer(extended)
        return _defer(_Chain(input, None, self, None, is_grad_enabled(), [True]))


class FusedReLU(ReLU):
    """A ``ReLU`` that computes the chain before it, if any, as one op."""

    def forward(self, input: Any) -> Any:
        chain = _pending(input)
        if chain is None or _hooked(self) or chain.grad_enabled != is_grad_enabled():
            return super().forward(input)
        return _compute(chain, relu=True)


def conv_bn_pairs(model: Module, example_input: Any) -> list[tuple[Conv2d, BatchNorm2d]]:
    """The (conv, BN) pairs of ``model`` where the BN always and only takes that conv's output,
    and nothing else reads it: found by running ``model`` once on ``example_input`` (in
    evaluation mode, without gradients), so a model need not declare them."""
    classes = {m: type(m) for m in model.modules()}
    modes = {m: m.training for m in model.modules()}
    _trace.calls = []
    try:
        with no_grad():
            fuse(model).eval()(example_input)
        calls = _trace.calls
    finally:
        _trace.calls = None
        for m, kind in classes.items():
            m.__class__, m.training = kind, modes[m]
    outputs = {id(out): (conv, out) for conv, out in calls if isinstance(conv, Conv2d)}
    uses: dict[Module, list] = {}
    for layer, value in calls:
        uses.setdefault(layer, []).append(value)
    pairs = {}
    for bn, inputs in uses.items():
        if not isinstance(bn, BatchNorm2d):
            continue
        sources = [outputs.get(id(x)) for x in inputs]
        convs = {id(s[0]) for s in sources if s is not None}
        if None in sources or len(convs) != 1:
            continue
        conv = sources[0][0]
        if (len(uses[conv]) == len(inputs)  # the conv feeds this BN at every call
                and all(_pending(s[1]) is not None for s in sources)):  # nothing else read it
            pairs[conv] = bn
    return list(pairs.items())


class _Trace(threading.local):
    calls: list | None = None  # (layer, its output for a conv or its input for a BN)


_trace = _Trace()

_FUSED: dict[type, type] = {Conv2d: FusedConv2d, BatchNorm2d: FusedBatchNorm2d, ReLU: FusedReLU}
_PLAIN = frozenset(_FUSED.values())
