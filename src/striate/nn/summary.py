"""A Keras-style table of a model: each leaf layer's output shape, parameters and FLOPs.

FLOPs count a multiply and an add separately (2 per multiply-accumulate) for convolutions and fully
connected layers, the layers that dominate; element-wise layers, pooling and normalisation are
listed with their output shapes but not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor, no_grad
from .module import Module


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int


def _flops(module: Module, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> int:
    from .conv import Conv2d, ConvTranspose2d
    from .linear import Linear

    out_elements = int(np.prod(output_shape[1:]))  # per example
    if isinstance(module, Conv2d):
        kh, kw = module.weight.shape[2:]
        return 2 * out_elements * (module.weight.shape[1] * kh * kw)
    if isinstance(module, ConvTranspose2d):  # every input pixel scatters a kernel per channel
        in_c, out_per_group, kh, kw = module.weight.shape
        return 2 * int(np.prod(input_shape[2:])) * in_c * out_per_group * kh * kw
    if isinstance(module, Linear):
        return 2 * module.weight.shape[0] * module.weight.shape[1]
    return 0


def summarize(model: Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Run one example of ``input_shape`` (C, H, W) through ``model`` and record each leaf layer."""
    rows: list[LayerRow] = []
    handles = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            def hook(m, inputs, out, name=name):
                shape = tuple(out.shape)
                own = sum(p.numel() for p in m.parameters(recurse=False))
                rows.append(LayerRow(name, type(m).__name__, shape, own,
                                    _flops(m, tuple(inputs[0].shape), shape)))
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    try:
        with no_grad():
            model(Tensor(np.zeros((1, *input_shape), dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows


def format_summary(model: Module, input_shape: tuple[int, ...]) -> str:
    rows = summarize(model, input_shape)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    flops = sum(r.flops for r in rows)
    header = ("Layer (type)", "Output shape", "Param #", "FLOPs")
    body = [(f"{r.name} ({r.kind})", str(list(r.output_shape[1:])), f"{r.params:,}",
             f"{r.flops:,}") for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    line = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
    out = [f"{type(model).__name__}, input {list(input_shape)}", rule, line.format(*header), rule]
    out += [line.format(*b) for b in body]
    out += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            f"FLOPs per image (forward): {flops:,} ({flops / 1e6:.2f} MFLOPs)"]
    return "\n".join(out)
