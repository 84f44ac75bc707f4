"""Each striate op as ONNX operators: one function per :class:`~striate.function.Function`.

An exporter takes the :class:`Graph` and the traced :class:`Call` and returns the ONNX name of
the op's output.  Where ONNX has the op it is one node (``Conv``, ``Gemm``, ``MaxPool``,
``BatchNormalization``, ``LRN``, ``Relu``…); where it has not, the op's own formula is written
with standard operators, in the same order as the op computes it:

* Gaussian pooling: a depthwise ``Conv`` with the normalised Gaussian window as every
  channel's kernel;
* local contrast normalisation: v = x − G(Σⱼ xⱼ), σ = √G(Σⱼ vⱼ²), y = v / max(σ, mean σ, ε),
  with G a ``Conv`` by the separable Gaussian window (``ReduceSum``, ``Conv``, ``Sqrt``,
  ``ReduceMean``, ``Max``, ``Div``);
* Lᵖ pooling: (c · Σ xᵖ)^(1/p) as ``Pow`` → window sum → ``Mul`` → ``Pow``;
* the smooth |x| 2/k · ln(1 + e^{kx}) − x − 2/k · ln 2, as
  |x| + 2/k · Softplus(−k|x|) − 2/k · ln 2 (the same function, without overflow);
* the locally connected layer: the kh·kw shifted ``Slice``\\ s of the padded input, stacked,
  and an ``Einsum`` with the per-position filter banks;
* pooling in ceil mode, or with PyTorch's divisors: explicit end padding, so that every
  window ONNX sees is one of striate's, and the divisor as a constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...function import Function
from ...kernels.pool import Windows, adaptive_average_matrix, adaptive_bounds
from ...ops import activation as A
from ...ops import adaptive_pool as AP
from ...ops import batch_norm as BN
from ...ops import conv as C
from ...ops import dropout as D
from ...ops import elementwise as E
from ...ops import linear as L
from ...ops import local as LC
from ...ops import local_norm as LN
from ...ops import matmul as M
from ...ops import pool as P
from ...ops import reduce as R
from ...ops import shape as S
from ...ops.growing_cat import GrowingCatView
from .errors import ONNXExportError
from .graph import Graph
from .trace import Call

Exporter = Callable[[Graph, Call], str]
EXPORTERS: dict[type[Function], Exporter] = {}


def exports(*functions: type[Function]) -> Callable[[Exporter], Exporter]:
    """Register the decorated function as the ONNX form of ``functions``."""
    def register(exporter: Exporter) -> Exporter:
        for fn in functions:
            EXPORTERS[fn] = exporter
        return exporter
    return register


def _refuse(call: Call, why: str) -> ONNXExportError:
    where = f" (in {call.scope})" if call.scope else ""
    return ONNXExportError(f"cannot export {call.fn.op_name()}{where}: {why}")


def _batched(call: Call, x: Any) -> None:
    if x.ndim != 4:
        raise _refuse(call, f"expected an (N, C, H, W) input, got shape {tuple(x.shape)}")


def _channel(g: Graph, name: str, ndim: int) -> str:
    """A (C,) value reshaped to (1, C, 1, …) to broadcast over an (N, C, *) input."""
    return g.node("Reshape", [name, g.ints((1, -1) + (1,) * (ndim - 2))])


# --- convolutions and fully connected layers -------------------------------------------------


@exports(C.Conv2d)
def conv2d(g: Graph, call: Call) -> str:
    x, weight, bias = call.args[:3]
    k = call.kwargs
    if k.get("scale") is not None or k.get("residual") is not None:
        raise _refuse(call, "a fused inference convolution; call nn.utils.unfuse(model) first")
    _batched(call, x)
    (top, bottom), (left, right) = k["pads"]
    inputs = [g.name_of(x), g.name_of(weight)] + ([] if bias is None else [g.name_of(bias)])
    y = g.node("Conv", inputs, kernel_shape=list(weight.shape[2:]), strides=list(k["stride"]),
               pads=[top, left, bottom, right], dilations=list(k["dilation"]),
               group=k["groups"])
    return g.node("Relu", [y]) if k.get("relu") else y


@exports(C.ConvTranspose2d)
def conv_transpose2d(g: Graph, call: Call) -> str:
    x, weight, bias = call.args[:3]
    k = call.kwargs
    _batched(call, x)
    pads = [p[0] for p in k["pads"]]
    smallest = [(n - 1) * s - 2 * p + d * (kk - 1) + 1 for n, s, p, d, kk in zip(
        x.shape[2:], k["stride"], pads, k["dilation"], weight.shape[2:], strict=True)]
    output_padding = [o - m for o, m in zip(k["out_hw"], smallest, strict=True)]
    inputs = [g.name_of(x), g.name_of(weight)] + ([] if bias is None else [g.name_of(bias)])
    return g.node("ConvTranspose", inputs, kernel_shape=list(weight.shape[2:]),
                  strides=list(k["stride"]), pads=pads + pads, dilations=list(k["dilation"]),
                  group=k["groups"], output_padding=output_padding)


@exports(L.Linear)
def linear(g: Graph, call: Call) -> str:
    """Y = X Wᵀ + b: ``Gemm`` (transB = 1) on a matrix, else ``MatMul`` by Wᵀ and ``Add``."""
    x, weight = call.args[:2]
    bias = call.args[2] if len(call.args) > 2 else None
    names = [g.name_of(x), g.name_of(weight)]
    if x.ndim == 2:
        return g.node("Gemm", names + ([] if bias is None else [g.name_of(bias)]), transB=1)
    y = g.node("MatMul", [names[0], g.node("Transpose", [names[1]], perm=[1, 0])])
    return y if bias is None else g.node("Add", [y, g.name_of(bias)])


@exports(M.MatMul)
def matmul(g: Graph, call: Call) -> str:
    return g.node("MatMul", [g.name_of(a) for a in call.args])


@exports(LC.LocallyConnected2d)
def locally_connected2d(g: Graph, call: Call) -> str:
    """Y[n,o,i,j] = b[o,i,j] + Σ_{c,l} W[i,j,o,c,l] · X̂[n,c,l,i,j], X̂ the kh·kw shifted,
    strided views of the padded input (l = p·kw + q)."""
    x, weight, bias = call.args[:3]
    (sh, sw), (ph, pw) = call.kwargs["stride"], call.kwargs["padding"]
    ho, wo, o, c, kh, kw = weight.shape
    xn = g.name_of(x)
    if ph or pw:
        xn = g.node("Pad", [xn, g.ints([0, 0, ph, pw, 0, 0, ph, pw])])
    shifted = [g.unsqueeze(g.node("Slice", [xn, g.ints([p, q]),
                                            g.ints([p + (ho - 1) * sh + 1, q + (wo - 1) * sw + 1]),
                                            g.ints([2, 3]), g.ints([sh, sw])]), [2])
               for p in range(kh) for q in range(kw)]
    windows = shifted[0] if len(shifted) == 1 else g.node("Concat", shifted, axis=2)
    w = g.node("Reshape", [g.name_of(weight), g.ints([ho, wo, o, c, kh * kw])])
    y = g.node("Einsum", [w, windows], equation="ijocl,nclij->noij")
    return y if bias is None else g.node("Add", [y, g.name_of(bias)])


# --- activations ---------------------------------------------------------------------------------


def _unary(op_type: str, **attributes: Any) -> Exporter:
    def export(g: Graph, call: Call) -> str:
        values = {k: (call.args[v] if isinstance(v, int) else v) for k, v in attributes.items()}
        return g.node(op_type, [g.name_of(call.args[0])], **values)
    return export


EXPORTERS.update({
    A.ReLU: _unary("Relu"), A.Rectify: _unary("Abs"), A.Sigmoid: _unary("Sigmoid"),
    A.Tanh: _unary("Tanh"), A.LeakyReLU: _unary("LeakyRelu", alpha=1),
    A.ELU: _unary("Elu", alpha=1), A.Softmax: _unary("Softmax", axis=1),
    A.LogSoftmax: _unary("LogSoftmax", axis=1), E.Neg: _unary("Neg"), E.Exp: _unary("Exp"),
    E.Log: _unary("Log"), E.Sqrt: _unary("Sqrt"), S.Copy: _unary("Identity"),
    S.Move: _unary("Identity"), D.Dropout: _unary("Identity"),
})


@exports(A.SmoothAbs)
def smooth_abs(g: Graph, call: Call) -> str:
    """2/k · ln(1 + e^{kx}) − x − 2/k · ln 2 = |x| + 2/k · Softplus(−k|x|) − 2/k · ln 2."""
    x, k = call.args
    a = g.node("Abs", [g.name_of(x)])
    soft = g.node("Softplus", [g.node("Mul", [a, g.scalar(-k)])])
    y = g.node("Add", [a, g.node("Mul", [soft, g.scalar(2 / k)])])
    return g.node("Sub", [y, g.scalar(2 * math.log(2) / k)])


@exports(A.Softplus)
def softplus(g: Graph, call: Call) -> str:
    """1/β · Softplus(βx) where βx ≤ threshold, x beyond."""
    x, beta, threshold = call.args
    xn = g.name_of(x)
    z = xn if beta == 1 else g.node("Mul", [xn, g.scalar(beta)])
    y = g.node("Softplus", [z])
    y = y if beta == 1 else g.node("Div", [y, g.scalar(beta)])
    return g.node("Where", [g.node("Greater", [z, g.scalar(threshold)]), xn, y])


@exports(A.Gain)
def gain(g: Graph, call: Call) -> str:
    x, weight = call.args
    return g.node("Mul", [g.name_of(x), _channel(g, g.name_of(weight), x.ndim)])


# --- element-wise arithmetic ---------------------------------------------------------------------


def _binary(op_type: str) -> Exporter:
    def export(g: Graph, call: Call) -> str:
        return g.node(op_type, [g.name_of(a) for a in call.args[:2]])
    return export


EXPORTERS.update({E.Add: _binary("Add"), E.Sub: _binary("Sub"), E.Mul: _binary("Mul"),
                  E.Div: _binary("Div")})


@exports(E.Pow)
def power(g: Graph, call: Call) -> str:
    x, p = call.args
    return g.node("Pow", [g.name_of(x), g.scalar(p)])


@exports(E.Clamp)
def clamp(g: Graph, call: Call) -> str:
    x, lo, hi = call.args
    bounds = ["" if v is None else g.scalar(v) for v in (lo, hi)]
    return g.node("Clip", [g.name_of(x), *bounds])


@exports(E.Where)
def where(g: Graph, call: Call) -> str:
    cond, a, b = call.args
    return g.node("Where", [g.name_of(np.asarray(cond, dtype=bool), "condition"),
                            g.name_of(a), g.name_of(b)])


# --- reductions ----------------------------------------------------------------------------------


def _axes(call: Call) -> list[int]:
    x, dim = call.args[0], call.args[1] if len(call.args) > 1 else None
    return list(R._axes(dim, x.ndim))


def _keepdim(call: Call, position: int) -> bool:
    return bool(call.args[position]) if len(call.args) > position else False


@exports(R.Sum)
def reduce_sum(g: Graph, call: Call) -> str:
    return g.reduce("ReduceSum", g.name_of(call.args[0]), _axes(call), _keepdim(call, 2))


@exports(R.Mean)
def reduce_mean(g: Graph, call: Call) -> str:
    return g.reduce("ReduceMean", g.name_of(call.args[0]), _axes(call), _keepdim(call, 2))


@exports(R.Max)
def reduce_max(g: Graph, call: Call) -> str:
    largest = call.args[3] if len(call.args) > 3 else True
    return g.reduce("ReduceMax" if largest else "ReduceMin", g.name_of(call.args[0]),
                    _axes(call), _keepdim(call, 2))


@exports(R.Var)
def variance(g: Graph, call: Call) -> str:
    """Σ(x − x̄)² / (n − correction) over the axes."""
    x = call.args[0]
    correction = call.args[2] if len(call.args) > 2 else 1
    axes = _axes(call)
    centred = g.node("Sub", [g.name_of(x), g.reduce("ReduceMean", g.name_of(x), axes)])
    total = g.reduce("ReduceSum", g.node("Mul", [centred, centred]), axes, _keepdim(call, 3))
    n = math.prod(x.shape[a] for a in axes)
    return g.node("Div", [total, g.scalar(max(n - correction, 0))])


# --- shapes --------------------------------------------------------------------------------------


@exports(S.Reshape)
def reshape(g: Graph, call: Call) -> str:
    """``Flatten`` when it merges every dim after the first, else ``Reshape``, the batch dim
    written 0 ("as the input's") where it is kept, so the graph takes any batch size."""
    x, shape = call.args
    xn, shape = g.name_of(x), list(shape)
    if x.ndim >= 2 and len(shape) == 2 and shape[0] == x.shape[0]:
        return g.node("Flatten", [xn], axis=1)
    if x.ndim and shape and shape[0] == x.shape[0]:
        shape[0] = 0
    return g.node("Reshape", [xn, g.ints(shape)])


@exports(S.Permute)
def permute(g: Graph, call: Call) -> str:
    return g.node("Transpose", [g.name_of(call.args[0])], perm=list(call.args[1]))


@exports(S.Cat, GrowingCatView)
def cat(g: Graph, call: Call) -> str:
    """``Concat``; a dense block's growing concatenation is one along the channels."""
    axis = 1 if call.fn is GrowingCatView else call.kwargs.get("dim", 0)
    return g.node("Concat", [g.name_of(a) for a in call.args], axis=axis)


@exports(S.Stack)
def stack(g: Graph, call: Call) -> str:
    dim = call.kwargs.get("dim", 0)
    return g.node("Concat", [g.unsqueeze(g.name_of(a), [dim]) for a in call.args], axis=dim)


@exports(S.ConstantPad)
def constant_pad(g: Graph, call: Call) -> str:
    x, widths, value = call.args
    pads = [a for a, _ in widths] + [b for _, b in widths]
    return g.node("Pad", [g.name_of(x), g.ints(pads), g.scalar(value, x.dtype)])


@exports(S.Expand)
def expand(g: Graph, call: Call) -> str:
    x, shape = call.args
    shape = list(shape)
    offset = len(shape) - x.ndim
    if offset == 0 and x.ndim and shape[0] == x.shape[0]:
        shape[0] = 1  # Expand broadcasts both ways: 1 keeps the input's batch
    return g.node("Expand", [g.name_of(x), g.ints(shape)])


@exports(S.AsType)
def astype(g: Graph, call: Call) -> str:
    from onnx import helper

    x, dtype = call.args
    return g.node("Cast", [g.name_of(x)], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


@exports(S.Index)
def index(g: Graph, call: Call) -> str:
    """Basic indexing (ints, slices, None, ...) as ``Slice``, ``Squeeze`` and ``Unsqueeze``."""
    x, item = call.args
    items = list(item) if isinstance(item, tuple) else [item]
    if not all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items):
        raise _refuse(call, "advanced (array) indexing has no ONNX form here; use slices")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        fill = x.ndim - sum(i is not None for i in items if i is not Ellipsis)
        items[at:at + 1] = [slice(None)] * fill
    items += [slice(None)] * (x.ndim - sum(i is not None for i in items))
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = out_axis = 0
    for i in items:
        if i is None:
            new.append(out_axis)
            out_axis += 1
            continue
        n = x.shape[axis]
        if isinstance(i, int):
            i = i % n
            starts, ends, axes, steps = starts + [i], ends + [i + 1], axes + [axis], steps + [1]
            drop.append(axis)
        elif i != slice(None):
            start, stop, step = i.indices(n)
            if step < 0 and stop < 0:
                stop = -(2**63)  # "before the first element", which -1 would not say
            starts, ends, axes, steps = (starts + [start], ends + [stop], axes + [axis],
                                         steps + [step])
            out_axis += 1
        else:
            out_axis += 1
        axis += 1
    y = g.name_of(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if drop:
        y = g.squeeze(y, drop)
    if new:
        y = g.unsqueeze(y, new)
    return y if y != g.name_of(x) else g.node("Identity", [y])


# --- normalisation -------------------------------------------------------------------------------


@exports(BN.BatchNorm)
def batch_norm(g: Graph, call: Call) -> str:
    """Evaluation: ``BatchNormalization`` with the running statistics.  Batch statistics (no
    running statistics tracked): (x − μ_B)/√(σ²_B + ε)·γ + β with ``ReduceMean``."""
    x, weight, bias, mean, var = call.args[:5]
    residual = call.args[5] if len(call.args) > 5 else None
    k = call.kwargs
    channels, xn = x.shape[1], g.name_of(x)
    if not k["training"]:
        scale = g.const(np.ones(channels), "ones") if weight is None else g.name_of(weight)
        shift = g.const(np.zeros(channels), "zeros") if bias is None else g.name_of(bias)
        y = g.node("BatchNormalization", [xn, scale, shift, g.name_of(mean, "running_mean"),
                                          g.name_of(var, "running_var")], epsilon=k["eps"])
    else:
        axes = [0, *range(2, x.ndim)]
        centred = g.node("Sub", [xn, g.reduce("ReduceMean", xn, axes)])
        var_b = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes)
        y = g.node("Div", [centred, g.node("Sqrt", [g.node("Add", [var_b,
                                                                   g.scalar(k["eps"])])])])
        if weight is not None:
            y = g.node("Mul", [y, _channel(g, g.name_of(weight), x.ndim)])
        if bias is not None:
            y = g.node("Add", [y, _channel(g, g.name_of(bias), x.ndim)])
    if residual is not None:
        y = g.node("Add", [y, g.name_of(residual)])
    return g.node("Relu", [y]) if k.get("relu") else y


def _channel_window_sum(g: Graph, a: str, channels: int, before: int, after: int) -> str:
    """out[:, c] = Σ_{j=c−before}^{c+after} a[:, j], zeros outside [0, C): the sum of the
    shifted slices of ``a`` padded on the channel axis (one ``ReduceSum`` when the window
    always covers every channel)."""
    if before >= channels - 1 and after >= channels - 1:
        return g.reduce("ReduceSum", a, [1])
    before, after = min(before, channels - 1), min(after, channels - 1)
    padded = g.node("Pad", [a, g.ints([0, before, 0, 0, 0, after, 0, 0])])
    total = None
    for o in range(before + after + 1):
        part = g.node("Slice", [padded, g.ints([o]), g.ints([o + channels]), g.ints([1])])
        total = part if total is None else g.node("Add", [total, part])
    return total


@exports(LN.ChannelWindowNorm, LN.BrightnessNorm)
def channel_window_norm(g: Graph, call: Call) -> str:
    """y_c = x_c · (k + a·Σ_{j∈W(c)} x_j²)^(−β): ``LRN`` where its centred window is the
    same (an odd size), else the formula."""
    x = call.args[0]
    k = call.kwargs
    before, after = k["before"], k["after"]
    xn = g.name_of(x)
    if before == after and x.ndim == 4:
        size = before + after + 1
        return g.node("LRN", [xn], size=size, alpha=k["scale"] * size, beta=k["beta"],
                      bias=k["k"])
    total = _channel_window_sum(g, g.node("Mul", [xn, xn]), x.shape[1], before, after)
    d = g.node("Add", [g.node("Mul", [total, g.scalar(k["scale"])]), g.scalar(k["k"])])
    return g.node("Mul", [xn, g.node("Pow", [d, g.scalar(-k["beta"])])])


def _gaussian(g: Graph, a: str, taps_h: list[float], taps_w: list[float]) -> str:
    """G(a): the 'same' zero-padded correlation of a (N, 1, H, W) with taps_h ⊗ taps_w."""
    kernel = np.outer(taps_h, taps_w)[None, None]
    kh, kw = kernel.shape[2:]
    return g.node("Conv", [a, g.const(kernel, "gaussian_window")], kernel_shape=[kh, kw],
                  pads=[kh // 2, kw // 2, kh // 2, kw // 2])


def _subtract_local_mean(g: Graph, x: str, taps_h: list[float], taps_w: list[float]) -> str:
    """v = x − G(Σⱼ xⱼ)."""
    return g.node("Sub", [x, _gaussian(g, g.reduce("ReduceSum", x, [1]), taps_h, taps_w)])


@exports(LN.SubtractiveNorm)
def subtractive_norm(g: Graph, call: Call) -> str:
    return _subtract_local_mean(g, g.name_of(call.args[0]), call.kwargs["taps_h"],
                                call.kwargs["taps_w"])


@exports(LN.LocalContrastNorm)
def local_contrast_norm(g: Graph, call: Call) -> str:
    """v = x − G(Σⱼ xⱼ),  σ = √G(Σⱼ vⱼ²),  y = v / max(σ, mean_{rs} σ, ε)."""
    taps = call.kwargs["taps_h"], call.kwargs["taps_w"]
    v = _subtract_local_mean(g, g.name_of(call.args[0]), *taps)
    sigma = g.node("Sqrt", [_gaussian(g, g.reduce("ReduceSum", g.node("Mul", [v, v]), [1]),
                                      *taps)])
    mean = g.reduce("ReduceMean", sigma, [2, 3])
    d = g.node("Max", [sigma, mean, g.scalar(call.kwargs["eps"])])
    return g.node("Div", [v, d])


# --- pooling -------------------------------------------------------------------------------------


def _end_pads(win: Windows) -> list[int]:
    """Zeros after each axis so that the last window fits: floor-mode windows over the
    explicitly padded input are then exactly striate's (ceil mode included)."""
    return [max((o - 1) * s + d * (k - 1) + 1 - n - p, 0) for n, k, s, p, d, o in zip(
        win.size, win.kernel, win.stride, win.padding, win.dilation, win.out, strict=True)]


def _pool_attributes(win: Windows, pads: list[int]) -> dict[str, Any]:
    return {"kernel_shape": list(win.kernel), "strides": list(win.stride), "pads": pads}


def _max_pool(g: Graph, x: str, win: Windows) -> str:
    """Max over striate's windows; ONNX's padding never wins a max, so the end padding that
    ceil mode needs is the padding attribute."""
    pads = list(win.padding) + _end_pads(win)
    dilations = list(win.dilation) if win.dilation != (1, 1) else None
    return g.node("MaxPool", [x], dilations=dilations, **_pool_attributes(win, pads))


def _window_mean(g: Graph, x: str, win: Windows) -> str:
    """Σ over each window / (kh·kw), the padding zeros counted: ``AveragePool`` over the
    input padded explicitly (begin and end), so its windows are all whole."""
    pads = list(win.padding) + _end_pads(win)
    if any(pads):
        x = g.node("Pad", [x, g.ints([0, 0, *pads[:2], 0, 0, *pads[2:]])])
    return g.node("AveragePool", [x], **_pool_attributes(win, [0, 0, 0, 0]))


def _scaled(g: Graph, y: str, factor: Any) -> str:
    """y · factor, a scalar or an (OH, OW) array; nothing for a factor of 1."""
    if np.ndim(factor) == 0:
        return y if float(factor) == 1 else g.node("Mul", [y, g.scalar(float(factor))])
    return g.node("Mul", [y, g.const(factor, "divisor_scale")])


@exports(P.MaxPool)
def max_pool2d(g: Graph, call: Call) -> str:
    x, win = call.args[:2]
    if len(call.args) > 2 and call.args[2]:
        raise _refuse(call, "return_indices: ONNX's indices count differently")
    _batched(call, x)
    return _max_pool(g, g.name_of(x), win)


@exports(P.AvgPool)
def avg_pool2d(g: Graph, call: Call) -> str:
    """Σ window / D, D PyTorch's divisor (``window_divisor``): ``AveragePool`` alone where its
    own count is the same, else the whole-window mean times kh·kw / D."""
    x, win = call.args[:2]
    include_pad = call.args[2] if len(call.args) > 2 else True
    override = call.args[3] if len(call.args) > 3 else None
    _batched(call, x)
    xn = g.name_of(x)
    if not any(_end_pads_beyond(win)) and override is None:
        pads = list(win.padding) * 2
        return g.node("AveragePool", [xn], count_include_pad=int(include_pad),
                      **_pool_attributes(win, pads))
    divisor = P.window_divisor(win, include_pad, override)
    return _scaled(g, _window_mean(g, xn, win), math.prod(win.kernel) / np.asarray(divisor))


def _end_pads_beyond(win: Windows) -> list[int]:
    """How far ceil mode's last windows reach past the symmetric padding."""
    return [max(e - p, 0) for e, p in zip(_end_pads(win), win.padding, strict=True)]


@exports(P.LPPool)
def lp_pool2d(g: Graph, call: Call) -> str:
    """(c · Σ xᵖ)^(1/p), c = kh·kw / (window pixels inside the input); p = ±∞: max (min) |x|."""
    x, win, p = call.args
    _batched(call, x)
    a = g.node("Abs", [g.name_of(x)]) if math.isinf(p) else None
    if p == math.inf:
        return _max_pool(g, a, win)
    if p == -math.inf:
        return g.node("Neg", [_max_pool(g, g.node("Neg", [a]), win)])
    powered = g.node("Pow", [g.name_of(x), g.scalar(p)])
    divisor = np.asarray(P.window_divisor(win, True, None), dtype=np.float64)
    kk = math.prod(win.kernel)
    total = _scaled(g, _window_mean(g, powered, win), kk * kk / divisor)
    return g.node("Pow", [total, g.scalar(1.0 / p)])


@exports(P.GaussianPool)
def gaussian_pool2d(g: Graph, call: Call) -> str:
    """A depthwise ``Conv`` whose every kernel is the normalised Gaussian window."""
    x, win = call.args[:2]
    _batched(call, x)
    channels = x.shape[1]
    weights = np.broadcast_to(call.kwargs["weights"], (channels, 1, *win.kernel))
    return g.node("Conv", [g.name_of(x), g.const(weights, "gaussian_window")],
                  group=channels, **_pool_attributes(win, list(win.padding) * 2))


@exports(AP.AdaptiveAvgPool)
def adaptive_avg_pool2d(g: Graph, call: Call) -> str:
    """``GlobalAveragePool`` to 1×1, ``AveragePool`` by tiles where the sizes divide, else
    A_h · X · A_wᵀ with the averaging matrices."""
    x, out = call.args[:2]
    _batched(call, x)
    (h, w), xn = x.shape[2:], g.name_of(x)
    if tuple(out) == (1, 1):
        return g.node("GlobalAveragePool", [xn])
    if h % out[0] == 0 and w % out[1] == 0:
        tile = [h // out[0], w // out[1]]
        return g.node("AveragePool", [xn], kernel_shape=tile, strides=tile)
    rows = g.const(adaptive_average_matrix(h, out[0]), "rows")
    cols = g.const(adaptive_average_matrix(w, out[1]).T, "cols")
    return g.node("MatMul", [rows, g.node("MatMul", [xn, cols])])


@exports(AP.AdaptiveMaxPool)
def adaptive_max_pool2d(g: Graph, call: Call) -> str:
    """``MaxPool`` by tiles where the sizes divide, else the separable max: over each row
    window (``Slice`` + ``ReduceMax``), then over each column window."""
    x, out = call.args[:2]
    if len(call.args) > 2 and call.args[2]:
        raise _refuse(call, "return_indices: ONNX's indices count differently")
    _batched(call, x)
    (h, w), y = x.shape[2:], g.name_of(x)
    if h % out[0] == 0 and w % out[1] == 0:
        tile = [h // out[0], w // out[1]]
        return g.node("MaxPool", [y], kernel_shape=tile, strides=tile)
    for axis, (n, m) in ((2, (h, out[0])), (3, (w, out[1]))):
        starts, ends = adaptive_bounds(n, m)
        parts = [g.reduce("ReduceMax", g.node("Slice", [y, g.ints([s]), g.ints([e]),
                                                        g.ints([axis])]), [axis])
                 for s, e in zip(starts, ends, strict=True)]
        y = parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=axis)
    return y
