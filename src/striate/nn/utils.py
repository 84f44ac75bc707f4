"""Model utilities: counting parameters, folding batch norm into the preceding convolution, and
gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``: ``clip_grad.py``).

Folding (the inference form of batch norm, Ioffe & Szegedy 2015, §3.1): a BN in evaluation mode is
the per-channel affine map y = γ/√(Var+ε) · x + (β − γ·E/√(Var+ε)), with E and Var its running
statistics.  When x = W ∗ u + b comes straight from a convolution, the two compose into one
convolution with

    W'_o = W_o · s_o,   b'_o = (b_o − E_o) · s_o + β_o,   s_o = γ_o / √(Var_o + ε)

for each output channel o (b = 0 for a conv without bias, γ = 1 and β = 0 without affine).
``fuse_conv_bn`` folds once and for good; ``fuse`` (``nn/fusion.py``) leaves the weights as they
are and runs each conv → BN → (+ shortcut) → ReLU chain as one op, in training too.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .containers import Sequential
from .conv import Conv2d
from .fusion import FusedConv2d, bn_affine, conv_bn_pairs, foldable, fuse, is_fused, unfuse
from .init import skip_init
from .linear import Identity
from .module import Module, Parameter
from .norm import BatchNorm2d

__all__ = ["count_parameters", "fuse_conv_bn", "fuse", "unfuse", "is_fused", "clip_grad_norm_",
           "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "skip_init"]


def count_parameters(model: Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (each shared parameter once); only those with
    ``requires_grad`` when ``trainable_only``."""
    return sum(int(p.data.size) for p in model.parameters()
               if p.requires_grad or not trainable_only)


def fuse_conv_bn(model: Module, example_input: Any = None, inplace: bool = False) -> Module:
    """Fold every evaluation-mode ``BatchNorm2d`` that takes a ``Conv2d``'s output into it.

    Without ``example_input``, the pairs are a conv and a BN adjacent in a ``Sequential``; with
    it, every pair the model computes (found by running it once: see
    :func:`~striate.nn.fusion.conv_bn_pairs`), as in a residual block's forward.  Each folded BN
    is replaced by ``nn.Identity``; the conv gains a bias if it had none.  BNs in training mode,
    or without running statistics, are left alone, so call ``model.eval()`` first.  Returns a
    folded deep copy, or ``model`` itself changed in place when ``inplace``.  The result computes
    the same function in evaluation mode, with fewer layers.
    """
    model = model if inplace else copy.deepcopy(model)
    pairs = [] if example_input is None else conv_bn_pairs(model, example_input)
    for module in model.modules():
        if isinstance(module, Sequential):
            layers = list(module._modules.values())
            pairs += list(zip(layers[:-1], layers[1:], strict=True))
    places = {id(child): (parent, name) for parent in model.modules()
              for name, child in parent._modules.items()}
    for conv, bn in pairs:
        if type(conv) in (Conv2d, FusedConv2d) and foldable(bn) and id(bn) in places:
            _fold(conv, bn)
            parent, name = places.pop(id(bn))
            parent.add_module(name, Identity())  # add_module keeps the position
    return model


def _fold(conv: Conv2d, bn: BatchNorm2d) -> None:
    """Rewrite conv's weight and bias so that conv(x) equals bn(conv(x)) in evaluation mode
    (folded in double precision, stored in the conv's dtype)."""
    w = conv.weight.data
    scale, shift = bn_affine(bn, conv.bias, np.float64)
    new_w = (w.astype(np.float64) * scale.reshape(-1, 1, 1, 1)).astype(w.dtype)
    conv.weight = Parameter(new_w, requires_grad=conv.weight.requires_grad)
    conv.bias = Parameter(shift.astype(w.dtype), requires_grad=conv.weight.requires_grad)
