"""docs/contributing.md's checklist for a layer, enforced.

For every public function of ``striate.nn.functional`` that is backed by an op (its body calls a
``Function``'s ``apply``), there must be

1. a gradient-check case in the table (``striate.testing.cases``, matched by ``Case.op``),
2. a layer class in ``striate.nn`` that calls it (``relu`` → ``ReLU``, ``max_pool2d`` →
   ``MaxPool2d``, ``mse_loss`` → ``MSELoss``, ``batch_norm`` → ``BatchNorm2d``), unless exempted
   below with its reason,
3. a PyTorch parity test: the name appears in a ``tests/test_<family>.py`` that uses torch.

A public function that is not backed by an op must be listed in ``COMPOSITIONS``, so that a new
function cannot skip the checklist by being missed.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import striate.nn as nn
import striate.nn.functional as F
from striate.testing.table import all_cases

TESTS = Path(__file__).resolve().parent

# Public functions that are compositions of other ops rather than an op of their own; they still
# need a gradient-check case (the table's own guard), but no layer or parity test of their own.
COMPOSITIONS = {
    "flatten",  # a reshape: its backward is reshape's
}

# Ops with no layer class, and why.
NO_MODULE = {
    "cat": "joins a list of tensors; PyTorch has no layer for it either",
    "pad": "layers take padding= themselves; PyTorch's ZeroPad2d family is not in the interface",
}

# Layer names that the naming rule (the name without underscores, plus "loss", "1d" or "2d",
# compared without case) does not find.
MODULE_NAMES = {
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
}

# These files use torch but are not parity tests of an op.
NOT_PARITY = {"test_contributing.py", "test_layout.py", "test_gradcheck.py"}


def public_functions() -> dict[str, object]:
    return {name: value for name, value in vars(F).items()
            if not name.startswith("_") and inspect.isfunction(value)}


def is_backed_by_op(fn: object) -> bool:
    """True when ``fn``'s own body calls ``SomeFunction.apply(...)``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "apply" for node in ast.walk(tree))


def layer_classes() -> dict[str, type]:
    return {name: value for name, value in vars(nn).items()
            if inspect.isclass(value) and issubclass(value, nn.Module) and value is not nn.Module}


def layer_for(name: str, layers: dict[str, type]) -> type | None:
    """The layer class of the functional ``name``, by the naming rule or ``MODULE_NAMES``."""
    if name in MODULE_NAMES:
        return layers.get(MODULE_NAMES[name])
    base = name.replace("_", "")
    wanted = {base, base + "loss", base + "1d", base + "2d"}
    found = [cls for cls_name, cls in layers.items() if cls_name.lower() in wanted]
    return found[0] if found else None


def calls(cls: type, name: str) -> bool:
    """True when ``cls`` or one of its striate base classes mentions ``name`` as a call."""
    pattern = re.compile(rf"\b{re.escape(name)}\(")
    return any(pattern.search(inspect.getsource(base)) for base in cls.__mro__
               if base.__module__.startswith("striate.nn.") and base is not nn.Module)


def parity_texts() -> dict[str, str]:
    """The text of each parity test file: a ``tests/**/test_*.py`` that uses torch."""
    texts = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.name in NOT_PARITY:
            continue
        text = path.read_text()
        if re.search(r"\btorch\.", text):
            texts[str(path.relative_to(TESTS))] = text
    return texts


def missing_parts(functions: dict[str, object], case_ops: set[str], layers: dict[str, type],
                  texts: dict[str, str]) -> list[str]:
    """One line per checklist item an op lacks; empty when every op has them all."""
    problems = []
    for name, fn in sorted(functions.items()):
        if name in COMPOSITIONS:
            if is_backed_by_op(fn):
                problems.append(f"{name}: listed as a composition but calls a Function's apply")
            if name not in case_ops:
                problems.append(f"{name}: no gradient-check case in striate.testing.cases")
            continue
        if not is_backed_by_op(fn):
            problems.append(f"{name}: calls no Function's apply; make it an op or list it in "
                            "COMPOSITIONS")
            continue
        if name not in case_ops:
            problems.append(f"{name}: no gradient-check case in striate.testing.cases")
        if name not in NO_MODULE:
            layer = layer_for(name, layers)
            if layer is None:
                problems.append(f"{name}: no layer class in striate.nn")
            elif not calls(layer, name):
                problems.append(f"{name}: striate.nn.{layer.__name__} does not call {name}")
        if not any(re.search(rf"\b{re.escape(name)}\b", text) for text in texts.values()):
            problems.append(f"{name}: no PyTorch parity test names it (tests/test_<family>.py)")
    return problems


@pytest.fixture(scope="module")
def inventory():
    return public_functions(), {c.op for c in all_cases()}, layer_classes(), parity_texts()


def test_every_op_has_its_case_layer_and_parity_test(inventory):
    problems = missing_parts(*inventory)
    assert not problems, "see docs/contributing.md, 'Adding a layer':\n" + "\n".join(problems)


def test_exemptions_name_real_functions(inventory):
    functions = inventory[0]
    stale = sorted((COMPOSITIONS | set(NO_MODULE) | set(MODULE_NAMES)) - set(functions))
    assert not stale, f"exemptions for names striate.nn.functional does not have: {stale}"
    layers = inventory[2]
    assert all(layer_for(name, layers) is not None for name in MODULE_NAMES)


def test_the_interface_ops_are_checked(inventory):
    """The checks above see the ops of DESIGN.md: a rule that matched nothing would pass."""
    functions, _, layers, texts = inventory
    backed = {name for name, fn in functions.items() if is_backed_by_op(fn)}
    assert {"conv2d", "max_pool2d", "batch_norm", "relu", "cross_entropy", "smooth_abs"} <= backed
    assert layer_for("batch_norm", layers) in (nn.BatchNorm1d, nn.BatchNorm2d)
    assert layer_for("mse_loss", layers) is nn.MSELoss
    assert layer_for("conv_transpose2d", layers) is nn.ConvTranspose2d
    assert "test_activation.py" in texts and "test_conv.py" in texts


@pytest.mark.parametrize("removed", ["elu", "max_pool2d", "local_contrast_norm"])
def test_a_missing_part_is_reported(inventory, removed):
    functions, case_ops, layers, texts = inventory
    assert not [p for p in missing_parts(*inventory) if p.startswith(removed + ":")]

    without_case = missing_parts(functions, case_ops - {removed}, layers, texts)
    assert f"{removed}: no gradient-check case in striate.testing.cases" in without_case

    layer = layer_for(removed, layers)
    without_layer = {k: v for k, v in layers.items() if v is not layer}
    assert f"{removed}: no layer class in striate.nn" in missing_parts(
        functions, case_ops, without_layer, texts)

    pattern = re.compile(rf"\b{re.escape(removed)}\b")
    untested = {k: pattern.sub("x", v) for k, v in texts.items()}
    assert any(p.startswith(f"{removed}: no PyTorch parity test")
               for p in missing_parts(functions, case_ops, layers, untested))
