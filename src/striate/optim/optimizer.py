"""Optimizer: the base class of every optimiser, with PyTorch's param groups and state_dict.

An optimiser holds ``param_groups`` (a list of dicts, each with ``'params'`` and its own
hyper-parameters such as ``'lr'``) and ``state`` (a dict per parameter: momentum buffers, moment
estimates, step counts).  Subclasses implement ``step()``, which updates ``p.data`` in place so
the arrays a model holds stay the same objects (views, buffers and the model all see the update),
and bumps each updated parameter's version (``tensor.increment_version``) once per in-place
write, as PyTorch's in-place updates do: a backward that saved a parameter before the step then
refuses to run instead of using the new values.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import device_of, is_array, to_device
from ..tensor import Tensor, as_array, enable_grad


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Parameters (or of ``(name, Parameter)`` pairs, as
    ``named_parameters()`` yields), or of dicts that each define a param group with its own
    options; options a group leaves out are taken from ``defaults``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor) or is_array(params):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items())
                      if k not in ("params", "param_names")]
        return "\n".join(lines) + "\n)"

    # --- groups -----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to optimise from now on."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; "
                            "use a list instead")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names; "
                                 "some param names are missing")
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, "
                                f"but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        if group.get("lr", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']} in "
                             f"param group {len(self.param_groups)}: must be >= 0")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # --- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``None``, or zeros kept in place with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    @staticmethod
    def _closure_loss(closure: Callable[[], Any] | None) -> Any:
        """Re-evaluate the model with gradients on, as ``step(closure)`` asks."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        Parameters are referred to by their position over all groups, as in PyTorch; the state
        arrays are copies, so the snapshot does not change as training goes on.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: _copy_value(v) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (ours or torch.optim's), to resume exactly.

        Saved parameters are matched to this optimiser's by position; state arrays are copied
        and cast to each parameter's dtype and device (the step count stays a number).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        for i, (ours, theirs) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(f"loaded state dict's parameter group {i} has "
                                 f"{len(theirs['params'])} parameters, the optimizer's has "
                                 f"{len(ours['params'])}")
        params_of = {
            saved: p
            for ours, theirs in zip(self.param_groups, saved_groups, strict=True)
            for saved, p in zip(theirs["params"], ours["params"], strict=True)
        }
        self.state = defaultdict(dict)
        for key, entries in state_dict["state"].items():
            if isinstance(key, str) and key.isdigit():  # indices that went through JSON
                key = int(key)
            if key in params_of:
                p = params_of[key]
                self.state[p] = {k: _cast_state(k, v, p.data) for k, v in entries.items()}
        new_groups = []
        for ours, theirs in zip(self.param_groups, saved_groups, strict=True):
            group = {k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"}
            group["params"] = ours["params"]
            if "param_names" in ours and "param_names" not in theirs:
                group["param_names"] = ours["param_names"]
            new_groups.append(group)
        self.param_groups = new_groups


def _copy_value(value: Any) -> Any:
    return value.copy() if is_array(value) else copy.deepcopy(value)


def _cast_state(key: str, value: Any, like: Any) -> Any:
    """A copy of one saved state entry, matched to the parameter array ``like``."""
    value = as_array(value)
    if not is_array(value):
        return copy.deepcopy(value)
    if key == "step":  # a count, kept as a Python number whatever dtype it was saved in
        return float(value)
    value = to_device(value, device_of(like))
    return value.astype(like.dtype if value.dtype.kind == "f" else value.dtype, copy=True)

