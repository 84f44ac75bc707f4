"""Where datasets are looked for, in order, and where downloads go.

A dataset called ``name`` (e.g. ``"fashion-mnist"``) is looked for, first match wins, in

1. ``data_dir`` and ``data_dir/name`` when a ``data_dir`` is given;
2. ``$STRIATE_DATA`` and ``$STRIATE_DATA/name`` when that variable is set;
3. system directories that OS packages install into (Debian's ``dataset-fashion-mnist`` puts
   its four files in ``/usr/share/datasets/fashion-mnist/``);
4. the user cache ``$XDG_CACHE_HOME/striate/name`` (default ``~/.cache/striate/name``).

A download goes to ``data_dir/name`` if a ``data_dir`` was given, else ``$STRIATE_DATA/name`` if
set, else the user cache, so the next call finds it without configuration.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ENV_VAR = "STRIATE_DATA"


def cache_root() -> Path:
    """The user cache directory for striate's datasets."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "striate"


def candidate_dirs(
    name: str, data_dir: str | os.PathLike | None, system_dirs: Sequence[str] = ()
) -> list[Path]:
    """The directories searched for dataset ``name``, in priority order, without duplicates."""
    dirs: list[Path] = []
    for root in (data_dir, os.environ.get(ENV_VAR) or None):
        if root is not None:
            root = Path(root).expanduser().absolute()
            dirs += [root, root / name]
    dirs += [Path(d) for d in system_dirs]
    dirs.append(cache_root() / name)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def download_dir(name: str, data_dir: str | os.PathLike | None) -> Path:
    """Where a download of dataset ``name`` is stored."""
    root = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or None
    return Path(root).expanduser().absolute() / name if root is not None else cache_root() / name


def find_file(directory: Path, filename: str) -> Path | None:
    """``directory/filename``, or its uncompressed twin when ``filename`` ends in ``.gz``."""
    for candidate in (filename, filename.removesuffix(".gz")):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def find_files(dirs: Sequence[Path], filenames: Sequence[str]) -> list[Path] | None:
    """The first directory of ``dirs`` holding all of ``filenames``; their paths, or None."""
    for d in dirs:
        found = [find_file(d, f) for f in filenames]
        if all(p is not None for p in found):
            return found  # type: ignore[return-value]
    return None


def describe_search(dirs: Sequence[Path], filenames: Sequence[str]) -> str:
    """A few lines listing what was looked for and where (for a not-found message)."""
    where = "\n".join(f"  - {d}" for d in dirs)
    return f"looked for {', '.join(filenames)} (or their uncompressed versions) in:\n{where}"
