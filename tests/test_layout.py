"""The package's layout rules that an import can check (docs/contributing.md, DESIGN.md).

- The engine (``tensor.py``, ``function.py``) imports no op: the ops import the engine, and the
  operators are attached to Tensor where the ops package is put together (``ops/methods.py``).
- ``backend.py`` is the array backend only (NumPy or CuPy): random state lives in ``random.py``,
  thread control elsewhere.
- The library imports torch only where a user asks for interop or a comparison with PyTorch.

Each import check runs in a fresh interpreter, since this process has imported everything.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import striate
import striate.backend as backend

PACKAGE = Path(striate.__file__).parent
ENGINE = ("tensor.py", "function.py")


def _fresh(code: str) -> list[str]:
    """Run ``code`` in a new interpreter; the sorted names of the modules it left imported."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_engine_imports_no_op():
    # A bare ``striate`` package (its __init__, which assembles everything, not run), so that
    # what is imported is what tensor.py and function.py need and nothing else.
    modules = _fresh(
        "import sys, types\n"
        f"package = types.ModuleType('striate'); package.__path__ = [{str(PACKAGE)!r}]\n"
        "sys.modules['striate'] = package\n"
        "import striate.tensor, striate.function\n"
    )
    assert "striate.tensor" in modules and "striate.function" in modules
    ops = [m for m in modules if m == "striate.ops" or m.startswith("striate.ops.")]
    assert not ops, f"importing the engine imported {ops}"
    fronts = [m for m in modules if m.startswith("striate.")
              and m.split(".")[1] in ("nn", "kernels", "models", "train")]
    assert not fronts, f"importing the engine imported {fronts}"


def _imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at the top or inside a function, as an absolute name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "striate" if node.level else ""
            name = ".".join(p for p in (base, node.module or "") if p)
            found.append(name)
            found += [f"{name}.{alias.name}" for alias in node.names]
    return found


def test_engine_source_has_no_deferred_op_import():
    # The fresh import above cannot see an import inside a method (``from .ops.shape import``
    # in ``Tensor.to`` was one): read the source for those.
    for name in ENGINE:
        imported = _imported_modules(PACKAGE / name)
        ops = [m for m in imported if m == "striate.ops" or m.startswith("striate.ops.")]
        assert not ops, f"{name} imports {ops}"


def test_operators_are_attached_once_the_package_is_imported():
    x = striate.tensor([1.0, -2.0], requires_grad=True)
    y = (x * 2 + 1).to(np.float64).abs().sum()
    y.backward()
    assert y.item() == 6.0
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


RANDOM_OR_THREADS = ("seed", "generator", "rng", "random", "thread")


def test_backend_holds_only_the_array_backend():
    functions = [name for name, fn in inspect.getmembers(backend, inspect.isfunction)
                 if fn.__module__ == backend.__name__]
    assert "array_module" in functions and "to_device" in functions
    stray = [f for f in functions if any(word in f.lower() for word in RANDOM_OR_THREADS)]
    assert not stray, f"striate.backend defines {stray}: random state and threads live elsewhere"
    for name in ("manual_seed", "default_generator", "resolve_generator", "set_num_threads",
                 "get_num_threads"):
        assert not hasattr(backend, name), f"striate.backend still has {name}"
    generators = [name for name, value in vars(backend).items()
                  if isinstance(value, np.random.Generator)]
    assert not generators, f"striate.backend holds random state: {generators}"


def test_manual_seed_reseeds_the_global_generator():
    from striate.random import default_generator, resolve_generator

    assert striate.manual_seed is striate.random.manual_seed
    striate.manual_seed(3)
    first = striate.randn(4).numpy()
    assert resolve_generator(None) is default_generator()
    striate.manual_seed(3)
    np.testing.assert_array_equal(first, striate.randn(4).numpy())
    own = np.random.default_rng(0)
    assert resolve_generator(own) is own


def test_the_library_imports_no_torch():
    modules = _fresh(
        "import striate, striate.nn, striate.models, striate.train, striate.data\n"
        "import striate.nn.functional, striate.optim, striate.interop, striate.bench\n"
    )
    assert "striate.models" in modules
    torch = [m for m in modules if m == "torch" or m.startswith("torch.")]
    assert not torch, "importing the library imported torch"
