"""Module and Parameter: PyTorch's model-building interface over striate tensors."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ..backend import is_array, normalize_device, to_device
from ..function import Context, Function
from ..tensor import Tensor, as_array, increment_version, is_grad_enabled, no_grad


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, like PyTorch's ``_IncompatibleKeys``."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Parameter(Tensor):
    """A tensor that a Module learns: registered in ``parameters()``, requires grad by default."""

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Attributes that are Parameters or Modules are registered automatically; arrays that are state
    but not learned (BatchNorm's running statistics) are registered with ``register_buffer``.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        if isinstance(value, (Parameter, Module)):
            # Drop the name from the other tables only, so that re-assigning an entry (tying a
            # weight, swapping a layer) keeps its place in state_dict order, as in PyTorch.
            target = self._parameters if isinstance(value, Parameter) else self._modules
            self.__dict__.pop(name, None)
            for table in (self._parameters, self._buffers, self._modules):
                if table is not target:
                    table.pop(name, None)
            self._non_persistent.discard(name)
            target[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "submodule"
                raise TypeError(f"cannot assign {type(value).__name__} to {kind} {name!r}: "
                                "use nn.Parameter / an nn.Module, or None")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        elif name in self._buffers:
            self._buffers[name] = value.data if isinstance(value, Tensor) else value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: parameters, buffers and submodules live in
        # their tables (read on every layer call, so no loop over the table names).
        d = self.__dict__
        if "_modules" in d:  # else __init__ has not run yet
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._parameters[name] = param

    def register_buffer(self, name: str, array: Any, persistent: bool = True) -> None:
        """State saved in ``state_dict`` but not learned (an ndarray, or None)."""
        self._buffers[name] = array.data if isinstance(array, Tensor) else array
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # --- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set | None = None
                      ) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules, each once (under its first name), as in PyTorch."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, table: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """Each learned parameter once (shared weights are listed under their first name)."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- state -------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> OrderedDict[str, Any]:
        """Parameters and persistent buffers under PyTorch's dotted key names, as arrays."""
        out: OrderedDict[str, Any] = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p.data
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b
        for name, child in self._modules.items():
            if child is not None:
                out.update(child.state_dict(prefix=f"{prefix}{name}."))
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True):
        """Copy arrays (NumPy, CuPy, striate or torch tensors) into this module's state in place.

        With ``strict``, any missing key, unexpected key or shape mismatch raises one error that
        lists them all (a shape mismatch raises whatever ``strict`` says).  Returns the named
        pair ``(missing_keys, unexpected_keys)``.
        """
        own = self._state_slots()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        values = {}
        for key, (_, _, current) in own.items():
            if key not in state_dict:
                continue
            value = as_array(state_dict[key])
            value = value if is_array(value) else np.asarray(value)
            if tuple(value.shape) != tuple(current.shape):
                mismatched.append(
                    f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(current.shape)}")
            else:
                values[key] = value
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if mismatched or (strict and problems):
            raise RuntimeError(
                f"load_state_dict for {type(self).__name__} failed:\n  " + "\n  ".join(problems))
        for key, value in values.items():
            module, name, current = own[key]
            current[...] = to_device(value.astype(current.dtype, copy=False), _device(current))
            if name in module._parameters:  # written in place, as PyTorch's copy_ does
                increment_version(module._parameters[name])
        return IncompatibleKeys(missing, unexpected)

    def _state_slots(self, prefix: str = "") -> dict[str, tuple[Module, str, Any]]:
        """key -> (owning module, attribute name, current array) for everything in state_dict.

        Walks the tree exactly as ``state_dict`` does, without merging a submodule registered
        under two names, so that every key ``state_dict`` writes can be loaded back.
        """
        slots = {}
        for name, p in self._parameters.items():
            if p is not None:
                slots[prefix + name] = (self, name, p.data)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                slots[prefix + name] = (self, name, b)
        for name, child in self._modules.items():
            if child is not None:
                slots.update(child._state_slots(f"{prefix}{name}."))
        return slots

    # --- modes, moves, gradients ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, device: Any = None, dtype: Any = None) -> Module:
        """Move parameters and buffers to a device (``'cpu'``/``'cuda'``) and/or float dtype."""
        if device is not None and not isinstance(device, str):
            device, dtype = None, device
        target = normalize_device(device) if device is not None else None
        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is not None:
                        p.data = _convert(p.data, target, dtype)
                        if p.grad is not None:
                            p.grad = _convert(p.grad, target, dtype)
                for name, b in m._buffers.items():
                    if b is not None:
                        float_dtype = dtype if b.dtype.kind == "f" else None
                        m._buffers[name] = _convert(b, target, float_dtype)
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def cuda(self) -> Module:
        return self.to("cuda")

    def cpu(self) -> Module:
        return self.to("cpu")

    # --- calling ---------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]):
        """Call ``hook(module, inputs, output)`` after each forward (a non-None result replaces
        the output); the returned handle has ``remove()``."""
        return _HookHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], Any]):
        """Call ``hook(module, inputs)`` before each forward; the handle has ``remove()``."""
        return _HookHandle(self._forward_pre_hooks, hook)

    def register_full_backward_hook(self, hook: Callable[[Module, tuple, tuple], Any]):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's inputs have been computed in backward, as PyTorch does.

        ``grad_output`` holds the gradient of each tensor output, ``grad_input`` that of each
        tensor positional input (None for one that needs none), all as Tensors; a returned
        tuple replaces ``grad_input`` (with several inputs needing a gradient, PyTorch's case of
        a multi-output node, only None may be returned).  A module none of whose inputs needs a
        gradient (the first layer) gets its call when ``grad_output`` is known, with
        ``grad_input`` all None.  The handle has ``remove()``.  Inputs and outputs pass through
        an identity op that reports their gradients, so a hooked layer runs unfused.
        """
        return _HookHandle(self._backward_hooks, hook)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks):
            return self.forward(*args, **kwargs)  # the usual case, at once
        for hook in list(self._forward_pre_hooks.values()):
            hook(self, args)
        backward_hooks = None
        if self._backward_hooks and is_grad_enabled():
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        if backward_hooks is not None:
            out = backward_hooks.wrap_outputs(out)
        return out

    # --- printing ---------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)`` for a leaf, else one indented line per entry."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


class _ReportGradient(Function):
    """y = x;  ∂L/∂x = r(g), where r is the report of a module's backward hooks: it records g
    and returns it, or what a hook put in its place."""

    @staticmethod
    def forward(ctx: Context, x, report=None, index=0):
        ctx.report, ctx.index = report, index
        return x.view()  # a view, so the output shares the input's version counter

    @staticmethod
    def backward(ctx: Context, g):
        return ctx.report(ctx.index, g)


class _BackwardHooks:
    """One forward call's bookkeeping for ``register_full_backward_hook``: the gradients of the
    outputs as they arrive, then those of the inputs, then the hooks, once per backward."""

    def __init__(self, module: Module):
        self.module = module
        self.n_inputs = self.n_outputs = self.inputs_wanted = self.outputs_wanted = 0
        self._reset()

    def _reset(self) -> None:
        self.grad_inputs = [None] * self.n_inputs
        self.grad_outputs = [None] * self.n_outputs
        self.inputs_seen = self.outputs_seen = 0

    def wrap_inputs(self, args: tuple) -> tuple:
        wrapped, index = [], 0
        for a in args:
            if isinstance(a, Tensor):
                if a.requires_grad:
                    a = _ReportGradient.apply(a, report=self._on_input, index=index)
                    self.inputs_wanted += 1
                index += 1
            wrapped.append(a)
        self.n_inputs = index
        self._reset()
        return tuple(wrapped)

    def wrap_outputs(self, out: Any) -> Any:
        items = out if isinstance(out, tuple) else (out,)
        wrapped = []
        for index, t in enumerate(items):
            if isinstance(t, Tensor) and t.requires_grad:
                t = _ReportGradient.apply(t, report=self._on_output, index=index)
                self.outputs_wanted += 1
            wrapped.append(t)
        self.n_outputs = len(items)
        self._reset()
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]

    def _on_output(self, index: int, g: Any) -> Any:
        self.grad_outputs[index] = g
        self.outputs_seen += 1
        if self.inputs_wanted == 0 and self.outputs_seen == self.outputs_wanted:
            if any(r is not None and any(x is not None for x in r) for r in self._call()):
                raise RuntimeError("Backward hook for Modules where no input requires gradient "
                                   "should always return None or None for all gradients.")
            self._reset()
        return g

    def _on_input(self, index: int, g: Any) -> Any:
        self.grad_inputs[index] = g
        self.inputs_seen += 1
        if self.inputs_seen == self.inputs_wanted:  # the last input's gradient: run the hooks
            self._call()
            g = self.grad_inputs[index]
            self._reset()
        return g

    def _call(self) -> list[tuple | None]:
        """Call each hook with the current gradients (as Tensors), a returned ``grad_input``
        replacing them for the next hook and for backward; return what each returned."""
        results = []
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module,
                          tuple(None if g is None else Tensor(g) for g in self.grad_inputs),
                          tuple(None if g is None else Tensor(g) for g in self.grad_outputs))
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if self.inputs_wanted:
                    if len(result) != self.n_inputs:
                        raise RuntimeError(f"backward hook returned {len(result)} gradients, "
                                           f"expected {self.n_inputs}")
                    if self.inputs_wanted > 1:
                        raise RuntimeError("a backward hook can replace grad_input only for a "
                                           "module with one input that requires a gradient")
                    self.grad_inputs = [None if r is None else as_array(r) for r in result]
            results.append(result)
        return results


class _HookHandle:
    """Keeps a hook registered until ``remove()``."""

    def __init__(self, hooks: OrderedDict, hook: Callable):
        self._hooks, self._key = hooks, object()
        hooks[self._key] = hook

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


def _device(array: Any) -> str:
    return "cpu" if isinstance(array, np.ndarray) else "cuda"


def _convert(array: Any, device: str | None, dtype: Any) -> Any:
    if dtype is not None and array.dtype.kind == "f":
        array = array.astype(np.dtype(dtype), copy=False)
    if device is not None:
        array = to_device(array, device)
    return array

