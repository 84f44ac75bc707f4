"""Every op's docstring gives its forward and its backward formula."""

import importlib
import pkgutil

import pytest

import striate.ops
from striate.function import Function


def all_functions() -> list[type[Function]]:
    for info in pkgutil.iter_modules(striate.ops.__path__):
        importlib.import_module(f"striate.ops.{info.name}")
    found, stack = [], list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted({c for c in found if c.__module__.startswith("striate.ops")},
                  key=lambda c: c.__qualname__)


@pytest.mark.parametrize("fn", all_functions(), ids=lambda c: c.__qualname__)
def test_docstring_states_forward_and_backward(fn):
    own = [c for c in fn.__mro__ if issubclass(c, Function) and c is not Function]
    doc = "".join((c.__doc__ or "") for c in own) + (fn.forward.__doc__ or "") \
        + (fn.backward.__doc__ or "")  # a subclass that only renames an op inherits its formulas
    assert "=" in doc, f"{fn.__qualname__}: no forward formula"
    assert "∂" in doc or "grad" in doc.lower() or "backward" in doc.lower(), \
        f"{fn.__qualname__}: no backward formula"
