"""Each supported ONNX operator as striate ops: one builder per ``op_type``.

A builder reads a node's attributes once, when the file is loaded (so an attribute striate
cannot honour fails the load, naming the node), and returns the function that runs the node:
it takes the node's input values and returns its outputs.  A value is a
:class:`~striate.tensor.Tensor` (data: differentiable through the striate ops) or a NumPy
array (shapes, axes, pads and other integer side computations, done in NumPy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...nn import functional as F
from ...ops import elementwise as E
from ...ops import reduce as R
from ...ops import shape as S
from ...ops.local_norm import ChannelWindowNorm
from ...tensor import Tensor

Runner = Callable[[Any, list], Any]  # (the model, the inputs) -> output or tuple of outputs


class Unsupported(Exception):
    """A node striate cannot run; the loader adds the file and node to the message."""


class Node:
    """What a builder reads of an ONNX node: type, name, inputs, outputs, attributes, opset."""

    def __init__(self, proto: Any, opset: int):
        from onnx import helper

        self.op_type, self.name, self.opset = proto.op_type, proto.name, opset
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        self.attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}

    def get(self, name: str, default: Any = None) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value

    def only(self, name: str, allowed: Sequence[Any], default: Any) -> Any:
        """The attribute, refused unless it is one of ``allowed``."""
        value = self.get(name, default)
        if value not in allowed:
            raise Unsupported(f"attribute {name}={value!r} is not supported")
        return value


BUILDERS: dict[str, Callable[[Node], Runner]] = {}


def builds(*op_types: str) -> Callable:
    def register(builder: Callable[[Node], Runner]) -> Callable[[Node], Runner]:
        for op_type in op_types:
            BUILDERS[op_type] = builder
        return builder
    return register


def _ints(value: Any) -> list[int]:
    return [int(v) for v in np.asarray(value.data if isinstance(value, Tensor) else value
                                       ).reshape(-1)]


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _tensor_like(value: Any, like: Tensor) -> Any:
    """A constant operand as a tensor in ``like``'s dtype (a NumPy array or scalar)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value, dtype=like.dtype))


def _spatial_pads(node: Node, x: Any, kernel: Sequence[int], strides: Sequence[int],
                  dilations: Sequence[int]) -> list[int]:
    """[top, left, bottom, right] from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd
    extra at the end, SAME_LOWER at the start), for the input's size."""
    mode = node.get("auto_pad", "NOTSET")
    if mode in ("NOTSET", "VALID"):
        return [0, 0, 0, 0] if mode == "VALID" else list(node.get("pads", [0, 0, 0, 0]))
    begin, end = [], []
    for n, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        small, large = total // 2, total - total // 2
        begin.append(small if mode == "SAME_UPPER" else large)
        end.append(large if mode == "SAME_UPPER" else small)
    return begin + end


def _window_attributes(node: Node, rank: int = 2) -> tuple[list[int], list[int], list[int]]:
    kernel = list(node.get("kernel_shape", []))
    if len(kernel) != rank:
        raise Unsupported(f"only 2-D windows are supported, got kernel_shape {kernel}")
    node.only("auto_pad", ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"), "NOTSET")
    return kernel, list(node.get("strides", [1, 1])), list(node.get("dilations", [1, 1]))


# --- convolutions and matrix products --------------------------------------------------------


@builds("Conv")
def conv(node: Node) -> Runner:
    """conv2d; pads unequal at the two ends are a zero ``F.pad`` first."""
    strides, dilations = list(node.get("strides", [1, 1])), list(node.get("dilations", [1, 1]))
    node.only("auto_pad", ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"), "NOTSET")
    group = node.get("group", 1)

    def run(model: Any, inputs: list) -> Any:
        x, weight = inputs[0], inputs[1]
        bias = inputs[2] if len(inputs) > 2 else None
        if weight.ndim != 4:
            raise ValueError(f"{node.name}: only 2-D convolutions are supported")
        pads = _spatial_pads(node, x, weight.shape[2:], strides, dilations)
        if pads[:2] != pads[2:]:
            x, pads = F.pad(x, (pads[1], pads[3], pads[0], pads[2])), [0, 0]
        return F.conv2d(x, weight, bias, tuple(strides), tuple(pads[:2]), tuple(dilations),
                        group)
    return run


@builds("ConvTranspose")
def conv_transpose(node: Node) -> Runner:
    """conv_transpose2d; ``output_shape`` becomes the output padding that reaches it."""
    node.only("auto_pad", ("NOTSET",), "NOTSET")
    strides, dilations = list(node.get("strides", [1, 1])), list(node.get("dilations", [1, 1]))
    pads, group = list(node.get("pads", [0, 0, 0, 0])), node.get("group", 1)
    output_padding = list(node.get("output_padding", [0, 0]))
    output_shape = node.get("output_shape")
    if pads[:2] != pads[2:]:
        raise Unsupported(f"pads {pads} differ at the two ends")

    def run(model: Any, inputs: list) -> Any:
        x, weight = inputs[0], inputs[1]
        bias = inputs[2] if len(inputs) > 2 else None
        extra = output_padding
        if output_shape is not None:
            extra = [o - ((n - 1) * s - 2 * p + d * (k - 1) + 1) for o, n, s, p, d, k in zip(
                list(output_shape)[-2:], x.shape[2:], strides, pads, dilations,
                weight.shape[2:], strict=True)]
        return F.conv_transpose2d(x, weight, bias, tuple(strides), tuple(pads[:2]),
                                  tuple(extra), group, tuple(dilations))
    return run


@builds("Gemm")
def gemm(node: Node) -> Runner:
    """Y = α · A' B' + β · C: ``F.linear`` for the usual x Wᵀ + b."""
    alpha, beta = node.get("alpha", 1.0), node.get("beta", 1.0)
    trans_a, trans_b = node.get("transA", 0), node.get("transB", 0)

    def run(model: Any, inputs: list) -> Any:
        a, b = inputs[0], inputs[1]
        c = inputs[2] if len(inputs) > 2 else None
        if trans_a:
            a = a.T
        if trans_b and alpha == 1 and beta == 1 and (c is None or c.ndim == 1):
            return F.linear(a, b, c)
        y = a @ (b.T if trans_b else b)
        y = y if alpha == 1 else y * alpha
        return y if c is None else y + (c if beta == 1 else c * beta)
    return run


@builds("MatMul")
def matmul(node: Node) -> Runner:
    return lambda model, inputs: _tensor_like(inputs[0], inputs[1]) @ inputs[1] \
        if not isinstance(inputs[0], Tensor) else inputs[0] @ _tensor_like(inputs[1], inputs[0])


# --- element-wise ------------------------------------------------------------------------------


def _binary(method: str) -> Callable[[Node], Runner]:
    def build(node: Node) -> Runner:
        def run(model: Any, inputs: list) -> Any:
            a, b = inputs
            if not isinstance(a, Tensor) and not isinstance(b, Tensor):
                return getattr(np.asarray(a), method)(np.asarray(b))  # shape arithmetic
            if not isinstance(a, Tensor):
                a = _tensor_like(a, b)
            return getattr(a, method)(_tensor_like(b, a))
        return run
    return build


for _op, _method in (("Add", "__add__"), ("Sub", "__sub__"), ("Mul", "__mul__"),
                     ("Div", "__truediv__")):
    BUILDERS[_op] = _binary(_method)


def _unary(fn: Callable[..., Any], **attributes: Any) -> Callable[[Node], Runner]:
    def build(node: Node) -> Runner:
        values = {k: node.get(name, default) for k, (name, default) in attributes.items()}
        return lambda model, inputs: fn(inputs[0], **values)
    return build


BUILDERS.update({
    "Relu": _unary(F.relu), "Sigmoid": _unary(F.sigmoid), "Tanh": _unary(F.tanh),
    "Abs": _unary(F.rectify), "Exp": _unary(E.exp), "Log": _unary(E.log),
    "Sqrt": _unary(E.sqrt), "Neg": _unary(lambda x: -x), "Softplus": _unary(F.softplus),
    "LeakyRelu": _unary(F.leaky_relu, negative_slope=("alpha", 0.01)),
    "Elu": _unary(F.elu, alpha=("alpha", 1.0)),
})


@builds("Pow")
def power(node: Node) -> Runner:
    def run(model: Any, inputs: list) -> Any:
        x, p = inputs
        if isinstance(p, Tensor) and p.requires_grad:
            return x ** p
        return x ** float(_array(p).reshape(-1)[0]) if _array(p).size == 1 else x ** p
    return run


@builds("Max", "Min")
def extremum(node: Node) -> Runner:
    """The element-wise max (min) of the inputs, as ``where``: the gradient goes to the
    larger (smaller) operand, the first on ties."""
    pick_first = (lambda a, b: a >= b) if node.op_type == "Max" else (lambda a, b: a <= b)

    def run(model: Any, inputs: list) -> Any:
        like = next(v for v in inputs if isinstance(v, Tensor))
        out = _tensor_like(inputs[0], like)
        for other in inputs[1:]:
            other = _tensor_like(other, like)
            out = E.where(pick_first(out.data, other.data), out, other)
        return out
    return run


@builds("Clip")
def clip(node: Node) -> Runner:
    low, high = node.get("min"), node.get("max")  # attributes before opset 11

    def run(model: Any, inputs: list) -> Any:
        lo = float(_array(inputs[1])) if len(inputs) > 1 and inputs[1] is not None else low
        hi = float(_array(inputs[2])) if len(inputs) > 2 and inputs[2] is not None else high
        return E.clamp(inputs[0], lo, hi)
    return run


@builds("Softmax", "LogSoftmax")
def softmax(node: Node) -> Runner:
    """Along ``axis`` (opset 13+); before 13, over the input flattened to 2-D at ``axis``."""
    fn = F.softmax if node.op_type == "Softmax" else F.log_softmax
    axis = node.get("axis", -1 if node.opset >= 13 else 1)

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        if node.opset >= 13 or axis % x.ndim == x.ndim - 1:
            return fn(x, dim=axis)
        shape = x.shape
        return fn(x.reshape(math.prod(shape[:axis % x.ndim]), -1), dim=1).reshape(shape)
    return run


# --- pooling and normalisation ------------------------------------------------------------------


def _pool_padding(node: Node, x: Any, kernel: list[int], strides: list[int],
                  dilations: list[int], fill: float) -> tuple[Any, tuple[int, int]]:
    """The symmetric padding the striate op takes, after padding the input with ``fill``
    where the two ends differ."""
    pads = _spatial_pads(node, x, kernel, strides, dilations)
    if pads[:2] == pads[2:] and all(p <= k // 2 for p, k in zip(pads[:2], kernel, strict=True)):
        return x, (pads[0], pads[1])
    return F.pad(x, (pads[1], pads[3], pads[0], pads[2]), value=fill), (0, 0)


@builds("MaxPool")
def max_pool(node: Node) -> Runner:
    kernel, strides, dilations = _window_attributes(node)
    ceil_mode = bool(node.get("ceil_mode", 0))
    node.only("storage_order", (0,), 0)
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("the Indices output is not supported")

    def run(model: Any, inputs: list) -> Any:
        x, padding = _pool_padding(node, inputs[0], kernel, strides, dilations, -np.inf)
        return F.max_pool2d(x, tuple(kernel), tuple(strides), padding, tuple(dilations),
                            ceil_mode=ceil_mode)
    return run


@builds("AveragePool")
def average_pool(node: Node) -> Runner:
    kernel, strides, dilations = _window_attributes(node)
    if dilations != [1, 1]:
        raise Unsupported(f"dilations {dilations} are not supported")
    ceil_mode = bool(node.get("ceil_mode", 0))
    include_pad = bool(node.get("count_include_pad", 0))

    def run(model: Any, inputs: list) -> Any:
        x, padding = _pool_padding(node, inputs[0], kernel, strides, dilations, 0.0)
        if padding == (0, 0) and x is not inputs[0] and not include_pad:
            raise ValueError(f"{node.name}: count_include_pad=0 with unequal pads is not "
                             "supported")
        return F.avg_pool2d(x, tuple(kernel), tuple(strides), padding, ceil_mode, include_pad)
    return run


@builds("GlobalAveragePool", "GlobalMaxPool")
def global_pool(node: Node) -> Runner:
    fn = F.adaptive_avg_pool2d if node.op_type == "GlobalAveragePool" else F.adaptive_max_pool2d
    return lambda model, inputs: fn(inputs[0], 1)


@builds("BatchNormalization")
def batch_norm(node: Node) -> Runner:
    """``F.batch_norm`` with the running statistics; in training mode (``model.train()``)
    with the batch's, moving the running ones by 1 − ONNX's momentum."""
    node.only("training_mode", (0,), 0)
    node.only("spatial", (1,), 1)
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("the running-statistics outputs (training mode) are not supported")
    eps, momentum = node.get("epsilon", 1e-5), node.get("momentum", 0.9)

    def run(model: Any, inputs: list) -> Any:
        x, scale, bias, mean, var = inputs
        return F.batch_norm(x, _array(mean), _array(var), scale, bias, model.training,
                            1.0 - momentum, eps)
    return run


@builds("LRN")
def lrn(node: Node) -> Runner:
    """y = x / (bias + α/n · Σ x²)^β over ⌊(n−1)/2⌋ maps before and ⌈(n−1)/2⌉ after."""
    size = node.get("size")
    alpha, beta, bias = node.get("alpha", 1e-4), node.get("beta", 0.75), node.get("bias", 1.0)
    return lambda model, inputs: ChannelWindowNorm.apply(
        inputs[0], before=(size - 1) // 2, after=size // 2, scale=alpha / size, beta=beta,
        k=bias)


@builds("Dropout")
def dropout(node: Node) -> Runner:
    """The identity in evaluation mode; inverted dropout by ``ratio`` in training."""
    if len([o for o in node.outputs if o]) > 1:
        raise Unsupported("the mask output is not supported")
    default = node.get("ratio", 0.5)

    def run(model: Any, inputs: list) -> Any:
        ratio = float(_array(inputs[1])) if len(inputs) > 1 and inputs[1] is not None \
            else default
        return F.dropout(inputs[0], ratio, model.training)
    return run


@builds("Identity")
def identity(node: Node) -> Runner:
    return lambda model, inputs: inputs[0]


# --- reductions -----------------------------------------------------------------------------------


@builds("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin")
def reduce(node: Node) -> Runner:
    """Over ``axes`` (an attribute, or the second input from opset 13/18); none: every axis,
    unless ``noop_with_empty_axes``."""
    fn = {"ReduceSum": R.sum, "ReduceMean": R.mean, "ReduceMax": R.amax,
          "ReduceMin": R.amin}[node.op_type]
    keepdims, noop = bool(node.get("keepdims", 1)), bool(node.get("noop_with_empty_axes", 0))

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        axes = node.get("axes")
        if len(inputs) > 1 and inputs[1] is not None:
            axes = _ints(inputs[1])
        if not axes:
            if noop:
                return x
            axes = list(range(x.ndim))
        axes = tuple(int(a) % x.ndim for a in axes)
        if not isinstance(x, Tensor):
            numpy_fn = {"ReduceSum": np.sum, "ReduceMean": np.mean, "ReduceMax": np.max,
                        "ReduceMin": np.min}[node.op_type]
            return numpy_fn(x, axis=axes, keepdims=keepdims)
        return fn(x, axes, keepdims)
    return run


# --- shapes -------------------------------------------------------------------------------------


@builds("Flatten")
def flatten(node: Node) -> Runner:
    axis = node.get("axis", 1)

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        a = axis % x.ndim if x.ndim else 0
        return _reshaped(x, (math.prod(x.shape[:a]), -1))
    return run


@builds("Reshape")
def reshape(node: Node) -> Runner:
    """0 copies the input's dim (unless ``allowzero``), −1 is inferred."""
    allow_zero = bool(node.get("allowzero", 0))

    def run(model: Any, inputs: list) -> Any:
        x, shape = inputs[0], _ints(inputs[1])
        if not allow_zero:
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return _reshaped(x, shape)
    return run


@builds("Transpose")
def transpose(node: Node) -> Runner:
    perm = node.get("perm")

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        axes = tuple(perm) if perm is not None else tuple(reversed(range(x.ndim)))
        return S.permute(x, axes) if isinstance(x, Tensor) else np.transpose(x, axes)
    return run


def _reshaped(x: Any, shape: Any) -> Any:
    """x in ``shape``: a recorded op on a tensor, a plain reshape on a constant array."""
    return S.reshape(x, tuple(shape)) if isinstance(x, Tensor) else np.reshape(x, shape)


def _axes_of(node: Node, inputs: list) -> list[int] | None:
    if len(inputs) > 1 and inputs[1] is not None:
        return _ints(inputs[1])
    axes = node.get("axes")
    return None if axes is None else list(axes)


@builds("Squeeze")
def squeeze(node: Node) -> Runner:
    def run(model: Any, inputs: list) -> Any:
        x, axes = inputs[0], _axes_of(node, inputs)
        axes = [a % x.ndim for a in axes] if axes is not None else \
            [i for i, n in enumerate(x.shape) if n == 1]
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
        return _reshaped(x, shape)
    return run


@builds("Unsqueeze")
def unsqueeze(node: Node) -> Runner:
    def run(model: Any, inputs: list) -> Any:
        x, axes = inputs[0], _axes_of(node, inputs)
        rank = x.ndim + len(axes)
        rest = iter(x.shape)
        axes = {a % rank for a in axes}
        shape = [1 if i in axes else next(rest) for i in range(rank)]
        return _reshaped(x, shape)
    return run


@builds("Concat")
def concat(node: Node) -> Runner:
    axis = node.get("axis")

    def run(model: Any, inputs: list) -> Any:
        if not any(isinstance(v, Tensor) for v in inputs):
            return np.concatenate([np.asarray(v) for v in inputs], axis=axis)
        like = next(v for v in inputs if isinstance(v, Tensor))
        return F.cat([_tensor_like(v, like) for v in inputs], axis)
    return run


@builds("Slice")
def slice_(node: Node) -> Runner:
    """x[starts:ends:steps] along ``axes`` (inputs from opset 10, attributes before)."""
    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        if node.opset >= 10:
            starts, ends = _ints(inputs[1]), _ints(inputs[2])
            axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None \
                else list(range(len(starts)))
            steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None \
                else [1] * len(starts)
        else:
            starts, ends = list(node.get("starts")), list(node.get("ends"))
            axes = list(node.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        index = [slice(None)] * x.ndim
        for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
            n = x.shape[axis]
            end = None if step < 0 and end < -n else end  # "before the first element"
            index[axis % x.ndim] = slice(start, end, step)
        return x[tuple(index)] if isinstance(x, Tensor) else np.asarray(x)[tuple(index)]
    return run


@builds("Pad")
def pad(node: Node) -> Runner:
    """Constant padding (negative widths crop); ``pads`` an input from opset 11."""
    node.only("mode", ("constant",), "constant")

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        pads = _ints(inputs[1]) if node.opset >= 11 else list(node.get("pads"))
        value = node.get("value", 0.0)
        if len(inputs) > 2 and inputs[2] is not None and _array(inputs[2]).size:
            value = float(_array(inputs[2]).reshape(-1)[0])
        axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None \
            else list(range(x.ndim))
        half = len(pads) // 2
        widths = [(0, 0)] * x.ndim
        for i, axis in enumerate(axes):
            widths[axis % x.ndim] = (pads[i], pads[half + i])
        torch_order = [w for pair in reversed(widths) for w in pair]
        return F.pad(x, torch_order, value=value)
    return run


@builds("Shape")
def shape(node: Node) -> Runner:
    start, end = node.get("start", 0), node.get("end")
    return lambda model, inputs: np.array(inputs[0].shape[start:end], dtype=np.int64)


@builds("Gather")
def gather(node: Node) -> Runner:
    axis = node.get("axis", 0)

    def run(model: Any, inputs: list) -> Any:
        x, indices = inputs[0], _array(inputs[1]).astype(np.int64)
        if not isinstance(x, Tensor):
            return np.take(np.asarray(x), indices, axis=axis)
        return x[(slice(None),) * (axis % x.ndim) + (indices,)]
    return run


@builds("Cast")
def cast(node: Node) -> Runner:
    from onnx import helper

    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(node.get("to")))

    def run(model: Any, inputs: list) -> Any:
        x = inputs[0]
        if isinstance(x, Tensor) and dtype.kind == "f":
            return x.to(dtype=dtype)
        return _array(x).astype(dtype)
    return run


@builds("Expand")
def expand(node: Node) -> Runner:
    def run(model: Any, inputs: list) -> Any:
        x, shape = inputs[0], _ints(inputs[1])
        target = np.broadcast_shapes(tuple(x.shape), tuple(shape))
        if not isinstance(x, Tensor):
            return np.broadcast_to(x, target)
        if x.ndim < len(target):
            x = S.reshape(x, (1,) * (len(target) - x.ndim) + tuple(x.shape))
        return S.expand(x, target)
    return run


@builds("Constant")
def constant(node: Node) -> Runner:
    from onnx import numpy_helper

    kinds = [k for k in node.attrs if k.startswith("value")]
    if len(kinds) != 1 or kinds[0] in ("value_string", "value_strings", "sparse_value"):
        raise Unsupported(f"a Constant given as {kinds} is not supported")
    raw = node.attrs[kinds[0]]
    value = numpy_helper.to_array(raw) if kinds[0] == "value" else np.asarray(
        raw, dtype=np.float32 if kinds[0].startswith("value_float") else np.int64)
    out = Tensor(value) if value.dtype.kind == "f" else value
    return lambda model, inputs: out


@builds("ConstantOfShape")
def constant_of_shape(node: Node) -> Runner:
    from onnx import numpy_helper

    raw = node.attrs.get("value")
    fill = numpy_helper.to_array(raw).reshape(-1) if raw is not None else np.zeros(1, np.float32)

    def run(model: Any, inputs: list) -> Any:
        out = np.full(_ints(inputs[0]), fill[0], dtype=fill.dtype)
        return Tensor(out) if out.dtype.kind == "f" else out
    return run


@builds("Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual")
def compare(node: Node) -> Runner:
    """A boolean array (no gradient flows through a comparison)."""
    fn = {"Greater": np.greater, "Less": np.less, "Equal": np.equal,
          "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal}[node.op_type]
    return lambda model, inputs: fn(_array(inputs[0]), _array(inputs[1]))


@builds("Where")
def where(node: Node) -> Runner:
    def run(model: Any, inputs: list) -> Any:
        cond, a, b = inputs
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            return np.where(_array(cond), a, b)
        like = a if isinstance(a, Tensor) else b
        return E.where(_array(cond), _tensor_like(a, like), _tensor_like(b, like))
    return run
