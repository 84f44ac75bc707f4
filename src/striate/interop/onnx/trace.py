"""Tracing: run a model once and record every op it calls.

Every differentiable op is a :class:`~striate.function.Function` and goes through
``Function.apply``, so wrapping that one class method sees the whole computation, whatever the
model's ``forward`` looks like (residual sums, concatenations, a weight masked by a buffer).  Each
record keeps the op's class, its arguments and keyword arguments exactly as passed (tensors,
arrays, settings) and its outputs; ``Module.__call__`` is wrapped too, so each record also knows
the qualified name of the innermost module that called it (its *scope*, e.g. ``layer1.0.conv1``).

The wrappers are installed only while :func:`recording` is open, under a lock, and record only
in the thread that opened it; other threads run the ops as usual meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...function import Function
from ...nn.module import Module


@dataclass
class Call:
    """One op call: ``fn.apply(*args, **kwargs)`` returned ``outputs``, inside module ``scope``."""

    fn: type[Function]
    args: tuple
    kwargs: dict
    outputs: tuple
    scope: str


class _State(threading.local):
    calls: list[Call] | None = None
    scopes: list[str] | None = None


_state = _State()
_LOCK = threading.Lock()


@contextlib.contextmanager
def recording(model: Module) -> Iterator[list[Call]]:
    """Within the block, every op that this thread runs is appended to the yielded list."""
    names = {id(m): name for name, m in model.named_modules()}
    saved_apply, original_call = Function.__dict__["apply"], Module.__dict__["__call__"]
    original_apply = saved_apply.__func__

    def apply(cls: type[Function], *args: Any, **kwargs: Any) -> Any:
        out = original_apply(cls, *args, **kwargs)
        if _state.calls is not None:
            outputs = out if isinstance(out, tuple) else (out,)
            _state.calls.append(Call(cls, args, kwargs, outputs, _state.scopes[-1]))
        return out

    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        name = names.get(id(self))
        if _state.calls is None or name is None:
            return original_call(self, *args, **kwargs)
        _state.scopes.append(name)
        try:
            return original_call(self, *args, **kwargs)
        finally:
            _state.scopes.pop()

    with _LOCK:
        calls: list[Call] = []
        Function.apply = classmethod(apply)
        Module.__call__ = call
        _state.calls, _state.scopes = calls, [""]
        try:
            yield calls
        finally:
            _state.calls = _state.scopes = None
            Function.apply = saved_apply
            Module.__call__ = original_call
