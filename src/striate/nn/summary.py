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


def activation_bytes(model: Module, input_shape: tuple[int, ...], batch_size: int,
                     probe_batch: int = 2) -> int:
    """About how many bytes of arrays a training step at ``batch_size`` keeps from its forward
    pass for the backward: a conv's input, a batch norm's input, a pooling layer's argmax, a
    dropout mask...

    Measured, not modelled: the model runs a batch of ``probe_batch`` zero images in training
    mode, fused as the trainer runs it (``nn.utils.fuse``, undone afterwards; the batch norms'
    running statistics move as in any training step), and the arrays the recorded ops hold
    (``save_for_backward`` and any other array on their contexts) are added up, each memory
    block once, parameters and buffers left out; the sum per image times ``batch_size``. A
    convolution whose whole work is one small piece also keeps its im2col columns (at most
    ``CHUNK_BYTES``), which at a training batch it does not: those are left out. Gradients, the
    optimiser's state and the backward's temporaries come on top."""
    from ..backend import ARRAY_TYPES
    from .utils import fuse, is_fused, unfuse

    was_fused, was_training = is_fused(model), model.training
    held = {id(_owner(t.data)) for t in (*model.parameters(), *model.buffers())}
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    try:
        out = fuse(model).train()(Tensor(np.zeros((probe_batch, *input_shape), dtype=dtype)))
    finally:
        model.train(was_training)
        if not was_fused:
            unfuse(model)
    seen_contexts, blocks, stack = set(), {}, [out]
    while stack:
        ctx = stack.pop()._ctx
        if ctx is None or id(ctx) in seen_contexts:
            continue
        seen_contexts.add(id(ctx))
        stack += [p for p in ctx.parents if p is not None]
        for key, value in vars(ctx).items():
            if key in ("parents", "kept"):
                continue
            for array in value if isinstance(value, (tuple, list)) else (value,):
                array = array.data if isinstance(array, Tensor) else array
                if isinstance(array, ARRAY_TYPES) and id(_owner(array)) not in held:
                    blocks[id(_owner(array))] = _owner(array).nbytes
    return sum(blocks.values()) * batch_size // probe_batch


def _owner(array):
    """The array that owns ``array``'s memory: a view keeps all of it alive."""
    return array if getattr(array, "base", None) is None else array.base
