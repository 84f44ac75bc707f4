"""The training report: one self-contained HTML page next to the run's plots.

No scripts and no external resources: the page is inline CSS plus ``<img>`` tags and links pointing
at the run's files by relative path, so the run directory can be copied, zipped or served as is.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from urllib.parse import quote

from ..fileio import atomic_write

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a;
       background: #f6f7f9; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.8em; }
h2 { font-size: 1.15em; margin: 1.8em 0 0.6em; border-bottom: 1px solid #dde1e6;
     padding-bottom: 4px; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
th, td { padding: 5px 12px; border-bottom: 1px solid #e8ebef; text-align: left;
         vertical-align: top; }
thead th { background: #eef1f5; font-weight: 600; }
table.summary th { color: #56606b; font-weight: 500; white-space: nowrap; }
table.summary td.num { text-align: left; }
dl.settings { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
              gap: 0 18px; margin: 0; background: #fff; padding: 8px 12px;
              box-shadow: 0 1px 2px rgba(0,0,0,.06); }
dl.settings div { display: flex; justify-content: space-between; gap: 10px;
                  border-bottom: 1px solid #e8ebef; padding: 3px 0; }
dl.settings dt { color: #56606b; font-family: ui-monospace, Menlo, Consolas, monospace;
                 font-size: 0.88em; }
dl.settings dd { margin: 0; text-align: right; word-break: break-all; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em;
                word-break: break-all; }
figure { background: #fff; margin: 0 0 22px; padding: 12px; display: inline-block;
         max-width: 100%; box-sizing: border-box; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #56606b; font-size: 0.9em; margin-top: 6px; }
pre { background: #fff; padding: 10px 14px; overflow-x: auto; font-size: 0.85em;
      box-shadow: 0 1px 2px rgba(0,0,0,.06); }
ul.files { columns: 2; padding-left: 1.2em; }
""".strip()

_CODE_KEYS = ("command", "path", "dir")  # summary values shown in monospace

Image = str | os.PathLike[str] | tuple[str | os.PathLike[str], str]
Table = tuple[str, Sequence[Sequence[object]], Sequence[str]]
Text = tuple[str, str]  # (heading, preformatted text)
Settings = tuple[str, Mapping[str, object]]  # (heading, name → value)


def write_report(
    run_dir: str | os.PathLike[str],
    title: str,
    summary: Mapping[str, object],
    images: Sequence[Image],
    tables: Sequence[Table] | None = None,
    *,
    settings: Sequence[Settings] = (),
    texts: Sequence[Text] = (),
    files: bool = False,
) -> Path:
    """Write ``run_dir/index.html`` atomically and return its path.

    ``summary`` maps labels to values (model, dataset, epochs, accuracies, time, command line)
    and becomes a two-column table in its order. ``images`` are PNG paths, or ``(path, caption)``
    pairs (default caption: the file name without extension); they are linked by their path
    relative to ``run_dir`` (a relative path is looked up under ``run_dir`` first, then from the
    current directory, so both ``"curves.png"`` and ``run_dir / "curves.png"`` work).
    ``tables`` are optional ``(name, rows, header)`` triples shown after the figures,
    ``settings`` ``(heading, {name: value})`` pairs shown before them in a compact grid
    (hyperparameters), ``texts`` ``(heading, text)`` pairs
    shown preformatted after the tables (a model summary), and ``files`` adds a list of links to
    every file in ``run_dir`` with its size.  Every piece of text is HTML-escaped; floats are
    printed with 4 significant digits, None as a dash.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_esc(title)}</h1>",
    ]
    if summary:
        parts.append('<table class="summary">')
        for key, value in summary.items():
            mono = any(word in str(key).lower() for word in _CODE_KEYS)
            parts.append(f"<tr><th>{_esc(key)}</th>{_cell(value, mono)}</tr>")
        parts.append("</table>")
    for heading, values in settings:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        parts.append('<dl class="settings">' + "".join(
            f"<div><dt>{_esc(k)}</dt><dd>{_esc(_format(v))}</dd></div>"
            for k, v in values.items()) + "</dl>")
    if images:
        parts.append("<h2>Figures</h2>")
        parts.extend(_figure(run_dir, item) for item in images)
    for name, rows, header in tables or ():
        parts.append(f"<h2>{_esc(name)}</h2>")
        parts.append(_table(rows, header))
    for heading, text in texts:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        parts.append(f"<pre>{_esc(text)}</pre>")
    if files:
        parts.append("<h2>Files</h2>")
        parts.append(_file_list(run_dir))
    parts += ["</main>", "</body>", "</html>", ""]

    path = run_dir / "index.html"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path


def _figure(run_dir: Path, item: Image) -> str:
    if isinstance(item, tuple):
        file, caption = item
    else:
        file, caption = item, Path(item).stem.replace("_", " ")
    href = _esc(quote(_relative(run_dir, Path(file)).as_posix()))
    return (f'<figure><a href="{href}"><img src="{href}" alt="{_esc(caption)}"></a>'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _file_list(run_dir: Path) -> str:
    """Links to every file under ``run_dir`` (but the page itself), with their sizes."""
    found = sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != "index.html"
                   and not p.name.startswith("."))
    items = [f'<li><a href="{_esc(quote(p.relative_to(run_dir).as_posix()))}">'
             f"{_esc(p.relative_to(run_dir).as_posix())}</a> ({_size(p.stat().st_size)})</li>"
             for p in found]
    return "\n".join(['<ul class="files">', *items, "</ul>"])


def _size(n: float) -> str:
    """A byte count as people read it: 812 B, 14.2 kB, 3.1 MB."""
    unit = "B"
    for bigger in ("kB", "MB", "GB"):
        if n < 1000:
            break
        n, unit = n / 1000, bigger
    return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"


def _relative(run_dir: Path, file: Path) -> Path:
    """``file`` relative to ``run_dir``; a relative ``file`` is sought there, then in the cwd."""
    if not file.is_absolute():
        if (run_dir / file).exists() or not file.exists():
            return file
    return Path(os.path.relpath(file.resolve(), run_dir.resolve()))


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    lines = ["<table>"]
    if header:
        lines.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header)
                     + "</tr></thead>")
    lines.append("<tbody>")
    lines += ["<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows]
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _cell(value: object, mono: bool = False) -> str:
    """A ``<td>``: numbers right-aligned, code-like text (command lines, paths) in monospace."""
    if isinstance(value, Real) and not isinstance(value, bool):
        return f'<td class="num">{_esc(_format(value))}</td>'
    css = ' class="mono"' if mono else ""
    return f"<td{css}>{_esc(_format(value))}</td>"


def _format(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return f"{float(value):.4g}"
    return str(value)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)
