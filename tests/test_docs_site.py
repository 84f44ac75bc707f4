"""The documentation site builds with ``mkdocs build --strict``, and its generated parts are true.

Strict mode turns every warning into a failure: a broken link or anchor, a page missing from the
navigation, a cross-reference to an object the API pages do not document, a snippet whose file is
gone. The other tests check what mkdocs cannot: that every documented object has a docstring, that
every layer and functional op has an API entry, and that the zoo's parameter counts are the
models'.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                          "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_site_builds_strict_with_maths_and_api(site):
    theory = (site / "theory" / "convolution" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in theory  # formulas left for KaTeX to typeset
    assert "conv_forward.png" in theory
    api = (site / "api" / "nn" / "index.html").read_text(encoding="utf-8")
    assert 'id="striate.nn.Conv2d"' in api
    tutorial = (site / "tutorials" / "new-layer" / "index.html").read_text(encoding="utf-8")
    assert "SoftsignFunction" in tutorial  # the script, included by pymdownx.snippets
    assert not (site / "figures" / "make_figures.py").exists()


def api_identifiers() -> list[str]:
    found = []
    for page in sorted((DOCS / "api").glob("*.md")):
        found += re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
    return found


def resolve(identifier: str):
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(identifier)


def test_every_documented_object_has_a_docstring():
    identifiers = api_identifiers()
    assert len(identifiers) > 100
    missing = [i for i in identifiers if not (inspect.getdoc(resolve(i)) or "").strip()]
    assert not missing, f"API entries without a docstring: {missing}"


def test_every_layer_and_functional_op_has_an_api_entry():
    import striate.nn as nn
    import striate.nn.functional as F

    documented = set(api_identifiers())
    layers = {f"striate.nn.{n}" for n, obj in vars(nn).items()
              if inspect.isclass(obj) and not n.startswith("_")}
    ops = {f"striate.nn.functional.{n}" for n, obj in vars(F).items()
           if callable(obj) and not n.startswith("_") and not inspect.ismodule(obj)}
    assert not layers - documented, f"layers missing from docs/api/nn.md: {layers - documented}"
    assert not ops - documented, f"ops missing from docs/api/functional.md: {ops - documented}"


def zoo_counts() -> dict[str, int]:
    rows = re.findall(r"^\| \[`(\w+)`\]\(#[\w-]+\) \| ([\d,]+) \|",
                      (DOCS / "zoo.md").read_text(encoding="utf-8"), flags=re.M)
    return {name: int(count.replace(",", "")) for name, count in rows}


def test_zoo_lists_every_model_with_its_parameter_count():
    import striate.models as M
    import striate.nn.utils as nn_utils
    from striate.nn.utils import count_parameters

    counts = zoo_counts()
    assert sorted(counts) == M.list_models()
    # the models.md table (which tests/models/test_models_api.py checks against the models)
    table = {m: int(c.replace(",", "")) for m, c in re.findall(
        r"^\| `(\w+)` \|.*\| ([\d,]+) \|$", (DOCS / "models.md").read_text(encoding="utf-8"),
        flags=re.M)}
    assert {m: counts[m] for m in table} == table
    # and the models built here: all of them where nn.utils.skip_init leaves the weights undrawn,
    # else the small ones (drawing the VGGs' weights alone would take a minute)
    skip_init = getattr(nn_utils, "skip_init", None)
    for name, count in counts.items():
        if skip_init is not None:
            assert count_parameters(skip_init(M.get_model, name)) == count, name
        elif count < 2_000_000:
            assert count_parameters(M.get_model(name)) == count, name
