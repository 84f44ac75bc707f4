"""Model utilities: counting parameters and folding batch norm into the preceding convolution.

Folding (seed 001, the inference form of batch norm): a BN in evaluation mode is the per-channel
affine map y = γ/√(Var+ε) · x + (β − γ·E/√(Var+ε)), with E and Var its running statistics.  When
x = W ∗ u + b comes straight from a convolution, the two compose into one convolution with

    W'_o = W_o · s_o,   b'_o = (b_o − E_o) · s_o + β_o,   s_o = γ_o / √(Var_o + ε)

for each output channel o (b = 0 for a conv without bias, γ = 1 and β = 0 without affine).
"""

from __future__ import annotations

import copy

import numpy as np

from ..backend import array_module
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


def _fold(conv: Conv2d, bn: BatchNorm2d) -> None:
    """Rewrite conv's weight and bias so that conv(x) equals bn(conv(x)) in evaluation mode."""
    w = conv.weight.data
    xp = array_module(w)
    acc = np.float64  # fold in double precision, store in the conv's dtype
    mean = bn.running_mean.astype(acc)
    scale = 1.0 / xp.sqrt(bn.running_var.astype(acc) + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.data.astype(acc)
    shift = bn.bias.data.astype(acc) if bn.bias is not None else 0.0
    bias = conv.bias.data.astype(acc) if conv.bias is not None else xp.zeros_like(mean)
    new_w = (w.astype(acc) * scale.reshape(-1, 1, 1, 1)).astype(w.dtype)
    new_b = ((bias - mean) * scale + shift).astype(w.dtype)
    conv.weight = Parameter(new_w, requires_grad=conv.weight.requires_grad)
    conv.bias = Parameter(new_b, requires_grad=conv.weight.requires_grad)
