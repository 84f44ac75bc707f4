"""Function: the protocol every differentiable op follows.

An op is a subclass of :class:`Function` with two static methods on raw arrays::

    forward(ctx, *args, **kwargs) -> array            # may save what backward needs on ctx
    backward(ctx, grad) -> tuple of arrays or None     # one gradient per positional argument

``Function.apply`` unwraps :class:`~striate.tensor.Tensor` arguments, runs ``forward``, and, when
gradients are wanted, records a :class:`Context` in the graph.  The engine in ``tensor.py`` calls
``backward`` in reverse topological order and sums gradients over broadcast axes in one place, so
an op's backward may return a gradient of the broadcast shape.

Ops save raw arrays, not tensors, so the version check (see ``tensor.py``) works from memory: a
context that saved arrays records the versions of the op's inputs and output at forward, and
before its backward runs, a tensor whose version has moved since fails it only if one of the
saved arrays views that tensor's memory.  An input the op did not save may change freely, as in
PyTorch; an op that keeps an input only as a private copy (or in another attribute) is not
checked, and needs not be, since that copy has not changed.  The context also notes the
process-wide count of in-place writes, so that the usual backward, with no write since its
forward, costs one comparison per op.
"""

from __future__ import annotations

from typing import Any

from . import profiling
from .backend import ARRAY_TYPES
from .tensor import Tensor, is_grad_enabled, write_clock


class Context:
    """What one call of an op remembers for its backward pass.

    ``needs_input_grad[i]`` says whether positional argument ``i`` wants a gradient, so a backward
    can skip work nobody asked for.  ``grad_writable`` is True while the backward runs if nothing
    but the engine refers to the gradient it is given: the backward may then write into it (a
    rectifier's mask does), instead of allocating another array of the output's size.  Ops may
    also set any attribute (``ctx.stride = ...``).
    """

    def __init__(self, fn: type[Function], parents: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.requires_grad = any(needs_input_grad)
        self.saved_tensors: tuple = ()
        self.released = False
        self.grad_writable = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def check_saved_versions(self, output: Tensor) -> None:
        """Raise PyTorch's error if an input or the output whose array this op saved has been
        written in place since the forward: its backward would silently use the new values."""
        if not self.saved_tensors or self.clock == write_clock[0]:
            return  # no tensor at all was written in place since the forward
        saved = {id(_memory_owner(a)) for a in self.saved_tensors}
        for t, version in zip((output, *self.parents), self.versions, strict=True):
            if t is not None and t._version != version and id(_memory_owner(t.data)) in saved:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [Tensor of shape {tuple(t.shape)}, {t.dtype}] is at "
                    f"version {t._version}; expected version {version} instead. Hint: "
                    f"{self.fn.op_name()} saved it for its backward; write to it after "
                    "backward(), or write to a clone()")

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
        first = Tensor(out[0] if isinstance(out, tuple) else out, requires_grad=track,
                       _ctx=ctx if track else None)
        if first.data.base is not None:
            _share_counter_if_view(first, args)
        if track and ctx.saved_tensors:
            ctx.clock = write_clock[0]  # and each version, for the check and its message
            ctx.versions = (first._version_counter[0],
                            *[0 if p is None else p._version_counter[0] for p in parents])
        if isinstance(out, tuple):
            return (first, *(Tensor(o) for o in out[1:]))
        return first


def _memory_owner(a: Any) -> Any:
    """The array that owns ``a``'s memory (NumPy and CuPy point a view's ``base`` straight at
    it), or ``a`` itself: two arrays with the same owner may see each other's writes."""
    base = getattr(a, "base", None)
    return a if base is None else base


def _share_counter_if_view(out: Tensor, args: tuple) -> None:
    """An op's output that views an input's memory (reshape, basic indexing, permute) is a view
    of that input, so it shares the input's version counter, as PyTorch's views do: a write
    through either is a write to both."""
    owner = out.data.base
    for a in args:
        if isinstance(a, Tensor) and _memory_owner(a.data) is owner:
            out._version_counter = a._version_counter
            return


def _raise_mixed_float_dtypes(fn: type[Function], dtypes: set) -> None:
    """Mixed float dtypes are a user error (as in PyTorch's layers), never a silent promotion."""
    names = ", ".join(sorted(str(d) for d in dtypes))
    raise TypeError(
        f"{fn.op_name()}: inputs have different dtypes ({names}); "
        "convert them to one with .float() or .double()"
    )
