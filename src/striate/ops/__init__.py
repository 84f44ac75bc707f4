"""Differentiable ops, one file per family; each op's forward and backward side by side.

Importing this package attaches Tensor's operators and op-backed methods (``a + b``, ``x.sum()``,
``x.to(...)``): the engine in ``tensor.py`` imports no op, so they are added here, once.
"""

from . import methods as _methods  # noqa: F401  (attaches Tensor's operators)
