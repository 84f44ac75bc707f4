"""A run folder: what it holds, when a new run may use it, and which checkpoint resumes it.

A run folder belongs to one run. Training into a folder that already holds a run is refused
(two runs' epochs would interleave in ``metrics.csv``) unless the user asks to continue it
(``--resume``) or to start over (``--overwrite``, which deletes the old run's files and nothing
else). Checkpoints are written atomically through hidden ``.NAME.XXXXXXXX.tmp`` files; a run
killed mid-write leaves one behind, which the next start removes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import UserError

CHECKPOINTS = ("last.safetensors", "best.safetensors")
RUN_FILES = (*CHECKPOINTS, "metrics.csv", "metrics.jsonl", "summary.json")
REPORT_FILES = ("index.html", "curves.png", "confusion.png", "filters.png", "feature_maps.png",
                "misclassified.png")
_STALE_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # fileio.atomic_write's names


def prepare(run_dir: Path, *, overwrite: bool = False) -> None:
    """Make ``run_dir`` ready for a new run: refuse one that holds a run unless ``overwrite``."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir} is a file, not a folder; choose another --out")
    held = [name for name in RUN_FILES if (run_dir / name).exists()]
    if held and not overwrite:
        raise UserError(
            f"{run_dir} already holds a run ({', '.join(held)}); continue it with "
            f"--resume {run_dir}, start it over with --overwrite, or choose another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in (*RUN_FILES, *REPORT_FILES) if overwrite else ():
            (run_dir / name).unlink(missing_ok=True)
    except OSError as e:
        raise UserError(f"cannot use {run_dir} as the run folder: {e.strerror or e}") from None
    check_writable(run_dir)


def check_writable(run_dir: Path) -> None:
    """Fail before training, not after the first epoch, when checkpoints cannot be written."""
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to the run folder {run_dir} (permission denied); "
                        "choose another --out")
    remove_stale_temporaries(run_dir)


def remove_stale_temporaries(run_dir: Path) -> list[str]:
    """Delete the half-written temporary files a killed run left behind; return their names."""
    stale = [p for p in run_dir.iterdir() if _STALE_TEMPORARY.match(p.name) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return [p.name for p in stale]


def resume_source(path: str | Path) -> Path:
    """The checkpoint that continues a run: the newest state, ``last.safetensors``.

    ``best.safetensors`` is an older state whenever the validation accuracy fell after its epoch,
    and never holds the progress of an interrupted epoch, so it is taken only when it is alone.
    """
    path = Path(path)
    if path.is_dir():
        for name in CHECKPOINTS:
            if (path / name).is_file():
                return path / name
        raise UserError(f"{path}: the run folder has no {' or '.join(CHECKPOINTS)} to resume")
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint file or run folder to resume")
    return path
