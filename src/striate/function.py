"""Function: the protocol every differentiable op follows.

An op is a subclass of :class:`Function` with two static methods on raw arrays::

    forward(ctx, *args, **kwargs) -> array            # may save what backward needs on ctx
    backward(ctx, grad) -> tuple of arrays or None     # one gradient per positional argument

``Function.apply`` unwraps :class:`~striate.tensor.Tensor` arguments, runs ``forward``, and, when
gradients are wanted, records a :class:`Context` in the graph.  The engine in ``tensor.py`` calls
``backward`` in reverse topological order and sums gradients over broadcast axes in one place, so
an op's backward may return a gradient of the broadcast shape.
"""

from __future__ import annotations

from typing import Any

from . import profiling
from .backend import ARRAY_TYPES
from .tensor import Tensor, is_grad_enabled


class Context:
    """What one call of an op remembers for its backward pass.

    ``needs_input_grad[i]`` says whether positional argument ``i`` wants a gradient, so a backward
    can skip work nobody asked for.  Ops may also set any attribute (``ctx.stride = ...``).
    """

    def __init__(self, fn: type[Function], parents: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.requires_grad = any(needs_input_grad)
        self.saved_tensors: tuple = ()
        self.released = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def release(self) -> None:
        """Drop everything saved, once backward has run and the graph is not retained."""
        saved = {"fn", "parents", "needs_input_grad", "requires_grad", "released"}
        for key in [k for k in vars(self) if k not in saved]:
            delattr(self, key)
        self.saved_tensors = ()
        self.released = True


class Function:
    """Base class of every op with a hand-written backward."""

    #: Name used in error messages; defaults to the class name in lower case.
    name: str | None = None

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        return cls.name or cls.__name__.lower()

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op on tensors (or arrays, scalars, None) and record it for backward.

        ``forward`` may return a tuple: its first item is the differentiable output and the rest
        (indices, statistics) come back as tensors that carry no gradient.
        """
        arrays, needs, float_dtypes = [], [], set()
        for a in args:  # one pass: the arrays, who wants a gradient, the float dtypes met
            wants = False
            if isinstance(a, Tensor):
                wants, a = a.requires_grad, a.data
            if isinstance(a, ARRAY_TYPES) and a.dtype.kind == "f":
                float_dtypes.add(a.dtype)
            arrays.append(a)
            needs.append(wants)
        if len(float_dtypes) > 1:
            _raise_mixed_float_dtypes(cls, float_dtypes)
        track = any(needs) and is_grad_enabled()
        parents = tuple(a if isinstance(a, Tensor) else None for a in args) if track else ()
        ctx = Context(cls, parents, tuple(needs) if track else (False,) * len(args))
        if profiling.profiler is not None and track:
            profiling.profiler.on_record(ctx)
        out = cls.forward(ctx, *arrays, **kwargs)
        if isinstance(out, tuple):
            first = Tensor(out[0], requires_grad=track, _ctx=ctx if track else None)
            return (first, *(Tensor(o) for o in out[1:]))
        return Tensor(out, requires_grad=track, _ctx=ctx if track else None)


def _raise_mixed_float_dtypes(fn: type[Function], dtypes: set) -> None:
    """Mixed float dtypes are a user error (as in PyTorch's layers), never a silent promotion."""
    names = ", ".join(sorted(str(d) for d in dtypes))
    raise TypeError(
        f"{fn.op_name()}: inputs have different dtypes ({names}); "
        "convert them to one with .float() or .double()"
    )
