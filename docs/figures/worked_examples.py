"""Read the worked examples out of the theory pages.

A worked example is a fenced ``python`` block in ``docs/theory/*.md`` whose first line is
``# example: NAME``, followed by assignments of literal numbers (lists, floats, ints)::

    # example: conv2d
    x = [[1, 2, 0], [3, -1, 1], [0, 2, 2]]
    k = [[1, 0], [2, -1]]

``tests/test_docs_examples.py`` recomputes each example with the library and
``make_figures.py`` draws some of them, so the page, the figures and the test read the same numbers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

THEORY = Path(__file__).resolve().parent.parent / "theory"
BLOCK = re.compile(r"^```python[^\n]*\n# example: ([\w-]+)\n(.*?)^```", re.S | re.M)


def parse_block(name: str, body: str) -> dict:
    """The block's ``name = literal`` assignments as a dict (anything else is an error)."""
    values = {}
    for stmt in ast.parse(body).body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"example {name}: only 'name = literal' lines, got "
                             f"{ast.unparse(stmt)!r}")
        values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return values


def load_examples(folder: Path = THEORY) -> dict[str, tuple[Path, dict]]:
    """Every worked example of the theory pages: name → (page, values)."""
    found: dict[str, tuple[Path, dict]] = {}
    for page in sorted(folder.glob("*.md")):
        for name, body in BLOCK.findall(page.read_text(encoding="utf-8")):
            if name in found:
                raise ValueError(f"example {name} appears twice ({found[name][0]}, {page})")
            found[name] = (page, parse_block(name, body))
    return found
