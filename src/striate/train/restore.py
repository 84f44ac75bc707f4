"""The model a checkpoint describes, rebuilt with its weights, for ``evaluate`` and ``predict``.

:func:`model_from_checkpoint` validates the metadata, builds the model within a budget, and loads
the weights only if they fit it exactly: the same keys and shapes, a float array for every float
slot, all finite.  F16 and F64 weights are converted to the model's float32 (widening F16 is
exact; F64 is rounded, as ``torch``'s ``load_state_dict`` does); integer or boolean data in a
float slot is refused.  Every mismatch is one :class:`UserError` naming the file and the first few
keys.

The budget: metadata can describe a model far larger than the weights the file holds, within
every per-argument bound (``jarrett`` with 100,000 classes at input size 256 has 26 G weights).
Every builder draws each weight's initial values from the ``generator`` it is given, and the
draw is the first time the weight's memory is written.  So the build gets a generator that counts
what it is asked for and stops the build, before the memory is touched, once that exceeds
:data:`DRAWS_PER_VALUE` times the number of values in the file (builders draw a weight at most
twice: the layer's own initialisation, then the model's).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UserError
from ..interop.safetensors import short_repr
from ..nn import Module
from ..nn.utils import fuse
from .checkpoint import Checkpoint
from .checkpoint_meta import validate_meta
from .model_args import MODEL_SIZE_ARGS

DRAWS_PER_VALUE = 4
SHOWN_KEYS = 3  # keys named in a mismatch message


def model_from_checkpoint(checkpoint: Checkpoint) -> Module:
    """Validate, rebuild and load the model ``checkpoint`` describes; fused (``nn.utils.fuse``)
    and in eval mode."""
    where = checkpoint.path or "checkpoint"
    validate_meta(checkpoint.meta, where)
    info = checkpoint.meta["model"]
    name = info["name"]
    kwargs = {**info.get("args", {}), **{key: info[key] for key in MODEL_SIZE_ARGS}}
    held = sum(int(np.size(v)) for v in checkpoint.model_state.values())
    model = _build(name, kwargs, DRAWS_PER_VALUE * held, f"{where}: its metadata")
    model.load_state_dict(_fitting_state(model, checkpoint.model_state, f"{where}: the weights "
                                         f"do not fit the {name} its metadata describes"))
    return fuse(model).eval()


class _OverBudget(Exception):
    pass


class _CountingGenerator(np.random.Generator):
    """A generator that raises :class:`_OverBudget` once ``limit`` values have been asked of
    ``random`` and ``standard_normal`` (what ``nn.init`` draws with) before drawing them."""

    def __init__(self, bit_generator: np.random.BitGenerator, limit: int):
        super().__init__(bit_generator)
        self.limit: int | None = limit

    def _take(self, size: Any) -> None:
        if self.limit is not None:
            self.limit -= 1 if size is None else math.prod(np.atleast_1d(size).tolist())
            if self.limit < 0:
                raise _OverBudget

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        self._take(size)
        return super().random(size, dtype, out)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        self._take(size)
        return super().standard_normal(size, dtype, out)


def _build(name: str, kwargs: dict[str, Any], limit: int, where: str) -> Module:
    """``get_model(name, **kwargs)`` that draws at most ``limit`` initial values; the builder's
    own refusals (an impossible combination of arguments) become UserErrors too."""
    from .. import models

    generator = _CountingGenerator(np.random.PCG64(0), limit)
    try:
        model = models.get_model(name, generator=generator, **kwargs)
    except (_OverBudget, MemoryError):
        raise UserError(f"{where} describes a {name} with more weights than the file holds; "
                        "refusing to build it") from None
    except (TypeError, ValueError) as e:
        raise UserError(f"{where} describes a {name} that cannot be built "
                        f"({short_repr(str(e), 200)})") from None
    generator.limit = None  # dropout layers keep the generator
    return model


def _castable(source: np.dtype, target: np.dtype) -> bool:
    """Float slots take any float; integer slots integers; boolean slots booleans."""
    kinds = {"f": "f", "i": "iu", "u": "iu", "b": "b"}
    return source.kind in kinds.get(target.kind, target.kind)


def _fitting_state(model: Module, state: dict[str, Any], problem: str) -> dict[str, np.ndarray]:
    """``state`` converted to the model's dtypes, if it fits the model exactly."""
    own = model.state_dict()
    shared = [k for k in own if k in state]
    problems = {
        "missing": [short_repr(k) for k in own if k not in state],
        "unexpected": [short_repr(k) for k in state if k not in own],
        "wrong shape": [f"{short_repr(k)} {tuple(np.shape(state[k]))} for "
                        f"{tuple(own[k].shape)}" for k in shared
                        if tuple(np.shape(state[k])) != tuple(own[k].shape)],
        "wrong dtype": [f"{short_repr(k)} {np.asarray(state[k]).dtype} for {own[k].dtype}"
                        for k in shared
                        if not _castable(np.asarray(state[k]).dtype, own[k].dtype)],
    }
    if not any(problems.values()):
        with np.errstate(over="ignore"):  # an F64 beyond float32's range: refused just below
            converted = {k: np.asarray(state[k]).astype(own[k].dtype, copy=False) for k in own}
        problems["not finite"] = [short_repr(k) for k, v in converted.items()
                                  if v.dtype.kind == "f" and not np.isfinite(v).all()]
        if not problems["not finite"]:
            return converted
    raise UserError(f"{problem}: " + "; ".join(
        f"{label} {_first(items)}" for label, items in problems.items() if items))


def _first(items: list[str]) -> str:
    more = len(items) - SHOWN_KEYS
    return ", ".join(items[:SHOWN_KEYS]) + (f" and {more} more" if more > 0 else "")
