"""Layers and models: Module, Parameter, containers, and one layer class per functional op."""

from . import functional, init  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .module import Module, Parameter  # noqa: F401

# --- conv ---
# --- pool ---
# --- norm ---
# --- activation, linear, dropout, loss ---
