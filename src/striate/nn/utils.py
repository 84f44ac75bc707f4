"""Model utilities: counting parameters and folding batch norm into the preceding convolution.

Folding (seed 001, the inference form of batch norm): a BN in evaluation mode is the per-channel
affine map y = γ/√(Var+ε) · x + (β − γ·E/√(Var+ε)), with E and Var its running statistics.  When
x = W ∗ u + b comes straight from a convolution, the two compose into one convolution with

    W'_o = W_o · s_o,   b'_o = (b_o − E_o) · s_o + β_o,   s_o = γ_o / √(Var_o + ε)

for each output channel o (b = 0 for a conv without bias, γ = 1 and β = 0 without affine).
``fuse_conv_bn`` folds once and for good; ``conv_bn``, which the model classes call, folds on
every call at inference, so the model stays as it is for training.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..backend import array_module
from ..ops.conv import conv2d_inference, conv2d_relu
from ..tensor import is_grad_enabled
from .activation import ReLU
from .containers import Sequential
from .conv import Conv2d
from .linear import Identity
from .module import Module, Parameter
from .norm import BatchNorm2d


def count_parameters(model: Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (each shared parameter once); only those with
    ``requires_grad`` when ``trainable_only``."""
    return sum(int(p.data.size) for p in model.parameters()
               if p.requires_grad or not trainable_only)


def fuse_conv_bn(model: Module, inplace: bool = False) -> Module:
    """Fold every evaluation-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` into it.

    "Directly follows" means adjacent in a ``Sequential``, or named as a pair by a block's
    ``conv_bn_pairs()`` method (the model classes of ``striate.models`` declare theirs, e.g.
    ``[('conv1', 'bn1'), ('conv2', 'bn2')]``).  Each folded BN is replaced by ``nn.Identity``;
    the conv gains a bias if it had none.  BNs in training mode, or without running
    statistics, are left alone, so call ``model.eval()`` first.  Returns a fused deep copy, or
    ``model`` itself changed in place when ``inplace``.  The fused model computes the same
    function in evaluation mode, with fewer layers.
    """
    model = model if inplace else copy.deepcopy(model)
    for module in list(model.modules()):
        pairs: list[tuple[str, str]] = []
        if isinstance(module, Sequential):
            names = list(module._modules)
            pairs = list(zip(names[:-1], names[1:], strict=True))
        if hasattr(module, "conv_bn_pairs"):
            pairs += module.conv_bn_pairs()
        for conv_name, bn_name in pairs:
            conv, bn = module._modules.get(conv_name), module._modules.get(bn_name)
            if type(conv) is Conv2d and _foldable(bn):
                _fold(conv, bn)
                module.add_module(bn_name, Identity())  # add_module keeps the position
    return model


def _foldable(bn: Module | None) -> bool:
    return (isinstance(bn, BatchNorm2d) and not bn.training
            and bn.running_mean is not None and bn.running_var is not None)


def _bn_affine(bn: BatchNorm2d, conv_bias: Any, acc: Any) -> tuple[Any, Any]:
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


def _fold(conv: Conv2d, bn: BatchNorm2d) -> None:
    """Rewrite conv's weight and bias so that conv(x) equals bn(conv(x)) in evaluation mode
    (folded in double precision, stored in the conv's dtype)."""
    w = conv.weight.data
    scale, shift = _bn_affine(bn, conv.bias, np.float64)
    new_w = (w.astype(np.float64) * scale.reshape(-1, 1, 1, 1)).astype(w.dtype)
    conv.weight = Parameter(new_w, requires_grad=conv.weight.requires_grad)
    conv.bias = Parameter(shift.astype(w.dtype), requires_grad=conv.weight.requires_grad)


def conv_bn(conv: Module, bn: Module | None, x: Any, relu: Module | None = None,
            residual: Any = None) -> Any:
    """``relu(bn(conv(x)) + residual)``, leaving out what is None (``bn``, ``residual``,
    ``relu``): a residual block's "conv → BN → (+ shortcut) → ReLU".

    At inference, that is with ``bn`` in evaluation mode and no gradient recorded, it is one op
    (``conv2d_inference``): the convolution's kernels take each piece of their output, while
    it is in cache, through bn's affine map y·s + t (see :func:`_bn_affine`; the conv's own
    bias folds into t), the residual sum and the rectifier, where the layers made a pass over
    the whole output each.  In training the convolution runs alone and "BN → (+ residual) →
    ReLU" as one op (``BatchNorm2d.forward_fused``): one pass and one array for three; without
    a BN or a residual, "conv → ReLU" is one op (``conv2d_relu``).  Otherwise (a hook on any
    of the layers, layers of other kinds) the layers run one after another, as written.
    """
    if not _fusable(conv, bn, relu, x, residual):
        if bn is None and residual is None and _plain(conv, Conv2d) and _plain(relu, ReLU):
            return conv2d_relu(x, conv.weight, conv.bias, conv.stride, conv.padding,
                               conv.dilation, conv.groups)
        out = conv(x)
        if _fusable_after_conv(bn, relu, residual):
            return bn.forward_fused(out, residual, relu is not None)
        out = out if bn is None else bn(out)
        out = out if residual is None else out + residual
        return out if relu is None else relu(out)
    scale, shift = (None, conv.bias) if bn is None or type(bn) is Identity \
        else _bn_affine(bn, conv.bias, conv.weight.data.dtype)
    return conv2d_inference(x, conv.weight, shift, conv.stride, conv.padding, conv.dilation,
                            conv.groups, scale=scale, residual=residual, relu=relu is not None)


def _hooked(layer: Module | None) -> bool:
    """True for a layer with hooks that expect to see it run."""
    return layer is not None and bool(layer._forward_hooks or layer._forward_pre_hooks)


def _plain(layer: Module | None, kind: type) -> bool:
    """True for a layer of exactly ``kind`` with no hooks to see it run."""
    return type(layer) is kind and not _hooked(layer)


def _fusable_after_conv(bn: Module | None, relu: Module | None, residual: Any) -> bool:
    """True where :func:`conv_bn` may run bn, the residual sum and relu as one op: a
    ``BatchNorm2d`` in training with something to fuse, and no hooks to see the layers."""
    return (_plain(bn, BatchNorm2d) and bn.training and (relu is not None or residual is not None)
            and (relu is None or _plain(relu, ReLU)))


def _fusable(conv: Module, bn: Module | None, relu: Module | None, x: Any,
             residual: Any) -> bool:
    """True where :func:`conv_bn` may run as one op (see there); checked on every call, so
    the cheap tests come first."""
    wants = (getattr(x, "requires_grad", False) or getattr(residual, "requires_grad", False))
    if is_grad_enabled() and (wants or any(
            p.requires_grad for layer in (conv, bn) if layer is not None
            for p in layer._parameters.values() if p is not None)):
        return False
    if not (type(conv) is Conv2d and (bn is None or type(bn) is Identity or _foldable(bn))
            and (relu is None or type(relu) is ReLU)):
        return False
    return not (_hooked(conv) or _hooked(bn) or _hooked(relu))
