"""The ONNX graph under construction: nodes, initializers and the names of traced values.

:class:`Graph` gives every value of the trace an ONNX name: the graph's input, each op's
outputs, and the constants the ops read (a parameter or buffer is an initializer under its
``state_dict`` key, so ``conv1.weight`` keeps its name; any other constant gets a name of its
own).  It also hides the few operator signatures that changed between opsets (reduction axes,
``Squeeze``/``Unsqueeze`` axes) behind one helper each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import to_numpy
from ...tensor import Tensor

#: the opsets :func:`~striate.interop.onnx.export` writes (13: axes as inputs of ReduceSum,
#: Squeeze and Unsqueeze; the newest the installed ``onnx`` knows is checked at run time).
MIN_OPSET = 13


class Graph:
    """Nodes and initializers in the order they are made, plus the trace's name table."""

    def __init__(self, opset: int, dtype: np.dtype, state_names: dict[int, str]):
        self.opset, self.dtype = opset, np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.scope = ""
        self._state_names = state_names  # id(parameter tensor or buffer array) -> its key
        self._names: dict[int, str] = {}  # id(traced value) -> ONNX name
        self._keep: list[Any] = []  # keeps every named object alive, so its id stays unique
        self._taken: set[str] = set()
        self._cache: dict[Any, str] = {}
        self._dynamic: set[int] = set()

    # --- names -----------------------------------------------------------------------------------
    def unique(self, base: str) -> str:
        name, k = base, 0
        while name in self._taken:
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def bind(self, value: Any, name: str, dynamic: bool = True) -> None:
        """Give a traced value its ONNX name (``dynamic``: it depends on the graph's input)."""
        self._names[id(value)] = name
        self._keep.append(value)
        if dynamic:
            self._dynamic.add(id(value))

    def is_dynamic(self, value: Any) -> bool:
        return isinstance(value, Tensor) and id(value) in self._dynamic

    def state_name(self, value: Any) -> str | None:
        """The ``state_dict`` key of a parameter or buffer, else None."""
        return self._state_names.get(id(value))

    def name_of(self, value: Any, hint: str = "const") -> str:
        """The ONNX name of a traced value: a parameter or buffer becomes an initializer under
        its key on first use, any other constant a ``Constant`` node (a Python number one in
        the model's dtype)."""
        if id(value) in self._names:
            return self._names[id(value)]
        if isinstance(value, (bool, int, float, np.number)):
            return self.scalar(value)
        array = to_numpy(value.data if isinstance(value, Tensor) else value)
        key = self.state_name(value)
        name = self.initializer(array, key) if key is not None else self.constant(array, hint)
        self.bind(value, name, dynamic=False)
        return name

    # --- constants ---------------------------------------------------------------------------
    def initializer(self, array: Any, name: str) -> str:
        """A named initializer: the graph's state (what an importer may train)."""
        from onnx import numpy_helper

        name = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def constant(self, array: Any, hint: str) -> str:
        """A ``Constant`` node: a value the graph fixes (a window, a shape, a divisor)."""
        from onnx import numpy_helper

        tensor = numpy_helper.from_array(np.ascontiguousarray(array), f"{hint}_value")
        return self.node("Constant", [], value=tensor)

    def scalar(self, value: float, dtype: Any = None) -> str:
        """A 0-d constant (in the model's dtype unless told), one per value."""
        dtype = np.dtype(dtype or self.dtype)
        key = ("scalar", float(value), dtype.str)
        if key not in self._cache:
            self._cache[key] = self.constant(np.array(value, dtype=dtype), "scalar")
        return self._cache[key]

    def ints(self, values: Any) -> str:
        """A 1-d int64 constant (shapes, axes, pads), one per value list."""
        values = tuple(int(v) for v in values)
        key = ("ints", values)
        if key not in self._cache:
            self._cache[key] = self.constant(np.array(values, dtype=np.int64), "ints")
        return self._cache[key]

    def const(self, array: Any, hint: str) -> str:
        """A constant array (in the model's dtype when it is floating point)."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        return self.constant(array, hint)

    # --- nodes -------------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: Any
             ) -> Any:
        """Append a node; returns its output name (a list when ``outputs`` > 1).  ``None``
        attributes are left out; an empty input name is an omitted optional input."""
        from onnx import helper

        name = self.unique(f"/{self.scope.replace('.', '/')}/{op_type}" if self.scope
                           else f"/{op_type}")
        outs = [self.unique(f"{name}_output_{i}") for i in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs if outputs > 1 else outs[0]

    # --- opset-dependent signatures --------------------------------------------------------------
    def reduce(self, op_type: str, x: str, axes: Any, keepdims: bool = True) -> str:
        """ReduceSum/Mean/Max/Min over ``axes``: axes an input from opset 13 (ReduceSum) or
        18 (the others), an attribute before."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=axes, keepdims=int(keepdims))

    def squeeze(self, x: str, axes: Any) -> str:
        return self.node("Squeeze", [x, self.ints(axes)])

    def unsqueeze(self, x: str, axes: Any) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def channel_vector(self, array: Any, ndim: int, hint: str) -> str:
        """A per-channel (C,) array as a constant of shape (1, C, 1, …) for ``ndim`` dims."""
        array = np.asarray(array)
        return self.const(array.reshape((1, -1) + (1,) * (ndim - 2)), hint)
