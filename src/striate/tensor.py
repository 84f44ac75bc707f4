"""Tensor and the backward engine.

A :class:`Tensor` wraps an array (NumPy or CuPy).  A tensor produced by an op that needs gradients
keeps the op's :class:`~striate.function.Context` in ``_ctx``; the contexts form a directed acyclic
graph whose leaves are the tensors created by the user.  ``backward`` walks that graph once in
reverse topological order, so fan-out, residual additions, shared weights and concatenation all
reduce to one rule: the gradient reaching a node is the sum of what each of its consumers sends.

Every tensor has a version counter, as in PyTorch: each in-place write (``t[...] = v``,
``zero_()``, an optimiser's update, an initialiser) adds one to it.  An op that saved a tensor's
array for its backward remembers the version it saw, and ``backward`` refuses to use an array
that has been written since (it would give wrong gradients without a word).  A view shares its
base's counter (``detach()``, and an op's output that views its input's memory: reshape, basic
indexing, permute); writing through ``.data`` (the raw array) bumps nothing: it is the escape
hatch, as ``.data`` is in PyTorch.

This module is the engine and imports no op.  The methods that are ops (``a + b``, ``x.sum()``,
``x.reshape(...)``, ``clone``, ``to``) are attached to :class:`Tensor` by ``ops/methods.py``
when the ``ops`` package is imported (``import striate`` does it).
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import compile_cycles, profiling
from .backend import array_module, device_of, is_array, to_device, to_numpy

_state = threading.local()

#: ``[n]``: the in-place writes made so far, to all tensors together.  A backward whose op saw the
#: same count at its forward knows at once that nothing it saved can have changed.
write_clock = [0]


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


def _set_grad_mode(mode: bool) -> None:
    _state.grad_enabled = bool(mode)


class set_grad_enabled:
    """Record gradients or not, as ``torch.set_grad_enabled``: called, from now on in this
    thread; as a context manager (``with st.set_grad_enabled(training):``), within the block,
    the mode before the call restored after it."""

    def __init__(self, mode: bool) -> None:
        self.previous, self.mode = is_grad_enabled(), bool(mode)
        _set_grad_mode(self.mode)

    def __enter__(self) -> None:
        _set_grad_mode(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad_mode(self.previous)


@contextmanager
def no_grad():
    """Within this block, ops record nothing for backward (inference, optimiser updates)."""
    previous = is_grad_enabled()
    _set_grad_mode(False)
    try:
        yield
    finally:
        _set_grad_mode(previous)
        compile_cycles.collect()


class inference_mode:
    """``no_grad`` under PyTorch's other name: a context manager (``with st.inference_mode():``)
    and a decorator (``@st.inference_mode()`` or bare ``@st.inference_mode``).

    PyTorch's inference mode also marks the tensors it makes as unusable in autograd, to save the
    bookkeeping; striate records nothing for backward outside training anyway, so here it is
    exactly ``no_grad``.  ``mode=False`` turns recording back on inside, as PyTorch's does (even
    within ``no_grad``).
    """

    def __new__(cls, mode: Any = True):
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(is_grad_enabled())
        _set_grad_mode(not self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad_mode(self._previous.pop())
        compile_cycles.collect()

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(self.mode):
                return fn(*args, **kwargs)

        return wrapper


@contextmanager
def enable_grad():
    previous = is_grad_enabled()
    _set_grad_mode(True)
    try:
        yield
    finally:
        _set_grad_mode(previous)


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting stretched to reach ``shape``.

    The one place where broadcasting is undone: if y = f(broadcast(x)), then dL/dx is dL/dy summed
    over every axis that broadcasting added or expanded from length 1.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(axis=axes).reshape(shape)


class Tensor:
    """An n-dimensional array that can record the ops applied to it and run them backwards."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retain_grad", "_version_counter",
                 "__weakref__")
    # Tensors compare element-wise (like PyTorch) yet stay hashable by identity.
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, _ctx: Any = None):
        if isinstance(data, Tensor):
            data = data.data
        if not is_array(data):
            data = np.asarray(data)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = _ctx
        self._retain_grad = False
        self._version_counter = [0]  # one cell, shared by this tensor and its views

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has had (PyTorch's ``t._version``)."""
        return self._version_counter[0]

    # --- description ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return None if self._ctx is None else self._ctx.fn

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != np.float32 else ""
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.fn.__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        return f"tensor({body}{extra})"

    # --- conversion ----------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (a view on the CPU, a copy from the GPU)."""
        return to_numpy(self.data)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph; a view, so it shares the version counter."""
        out = Tensor(self.data)
        out._version_counter = self._version_counter
        return out

    def requires_grad_(self, mode: bool = True) -> Tensor:
        if mode and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = bool(mode)
        return self

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        self._retain_grad = True

    def long(self) -> Tensor:
        return Tensor(self.data.astype(np.int64))

    def bool(self) -> Tensor:
        return Tensor(self.data.astype(bool))

    def zero_(self) -> Tensor:
        self[...] = 0
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                "in-place assignment to a tensor that requires grad would break backward; "
                "assign under st.no_grad() or to .detach()"
            )
        self.data[unwrap(index)] = unwrap(value)
        increment_version(self)

    # --- the backward engine ------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · gradient into ``.grad`` of every leaf that requires grad.

        ``gradient`` defaults to 1 for a one-element tensor.  Gradients add up over several calls,
        as in PyTorch; ``retain_graph=True`` keeps what the ops saved so the same graph can be
        differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of its graph "
                "has requires_grad=True (or it was computed under no_grad)"
            )
        xp = array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element output, got shape "
                    f"{self.shape}; pass gradient= of that shape or reduce first (e.g. .sum())"
                )
            gradient = xp.ones_like(self.data)
        else:
            gradient = xp.asarray(unwrap(gradient), dtype=self.dtype)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(): gradient shape {gradient.shape} != {self.shape}")

        grads: dict[int, Any] = {id(self): gradient}
        for node in _topological_order(self):
            grad = grads.pop(id(node), None)
            if grad is None:
                continue
            if node._ctx is None or node._retain_grad:
                if node.grad is not None:
                    node.grad = node.grad + grad
                else:  # an op's backward below may write into the gradient it is given
                    leaf_owns = node._ctx is None and _unshared(grad)
                    node.grad = grad if leaf_owns else grad.copy(order="K")
            if node._ctx is None:
                continue
            ctx = node._ctx
            if ctx.released:
                raise RuntimeError(
                    "backward through a graph a second time: its saved values were freed; "
                    "call backward(retain_graph=True) the first time"
                )
            ctx.check_saved_versions(node)
            ctx.grad_writable = _unshared(grad)
            if profiling.profiler is None:
                input_grads = ctx.fn.backward(ctx, grad)
            else:
                started = time.perf_counter()
                input_grads = ctx.fn.backward(ctx, grad)
                profiling.profiler.on_backward(ctx, time.perf_counter() - started)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, g in zip(ctx.parents, input_grads, strict=False):
                if parent is None or g is None or not parent.requires_grad:
                    continue
                g = unbroadcast(g, parent.shape)
                key = id(parent)
                grads[key] = g if key not in grads else grads[key] + g
            input_grads = g = None  # only `grads` holds them now, so a leaf can take its own
            if not retain_graph:
                ctx.release()
        compile_cycles.collect()


def _unshared(a: Any) -> bool:
    """True when nothing but the caller's one name refers to ``a``, and ``a`` owns its memory or
    is a view of all of an array nothing else refers to (a convolution's NCHW view of its
    (C, N, H, W) output): then ``.grad`` can take it without a copy (PyTorch's AccumulateGrad
    steals such a gradient too), and a backward may write into it (``ctx.grad_writable``)."""
    # the references: the caller's name, this argument and getrefcount's own
    if sys.getrefcount(a) > 3:
        return False
    base = a.base
    if base is None:
        return True
    # base's: a's, this name and getrefcount's
    return base.base is None and base.size == a.size and sys.getrefcount(base) <= 3


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors of root's graph, each before all the tensors it was computed from."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order


def increment_version(tensor: Tensor) -> None:
    """Record an in-place write to ``tensor``'s memory, as PyTorch's in-place ops do, so that a
    backward that saved the old values refuses to run.  ``t[...] = v`` calls it; code that writes
    a tensor's ``.data`` on its behalf (optimisers, initialisers, ``load_state_dict``) must."""
    tensor._version_counter[0] += 1
    write_clock[0] += 1


def unwrap(value: Any) -> Any:
    """The array inside a tensor, or the value itself."""
    return value.data if isinstance(value, Tensor) else value


def as_array(value: Any) -> Any:
    """The array behind a striate tensor, a NumPy or CuPy array, or a torch tensor (as NumPy);
    anything else unchanged.  Lets state dicts from either library load."""
    if isinstance(value, Tensor):
        return value.data
    if is_array(value):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def as_tensor_like(value: Any, like: Tensor) -> Tensor:
    """Wrap a scalar or array as a constant tensor with ``like``'s dtype and device."""
    if isinstance(value, Tensor):
        return value
    xp = array_module(like.data)
    arr = xp.asarray(value)
    if arr.dtype.kind in "biuf" and like.dtype.kind == "f":
        arr = arr.astype(like.dtype, copy=False)
    if device_of(arr) != like.device:
        arr = to_device(arr, like.device)
    return Tensor(arr)
