"""The gradient-check table: every ``CASES`` list in ``striate.testing.cases`` (one module
a family)."""

from __future__ import annotations

import importlib
import pkgutil

from . import cases as _cases
from .gradcheck import Case


def all_cases() -> list[Case]:
    found: list[Case] = []
    for info in sorted(pkgutil.iter_modules(_cases.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{_cases.__name__}.{info.name}")
        found.extend(getattr(module, "CASES", []))
    return found
