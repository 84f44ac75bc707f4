"""Crash-safe file writing: a file is either its old self or completely new, never half written.

    with atomic_write("run/checkpoint.npz") as f:
        np.savez(f, **state)

The body writes to a temporary file in the target's directory (same file system, so the final
``os.replace`` is an atomic rename). On normal exit the data is flushed and fsynced, the temporary
file replaces the target, and the directory entry is fsynced too. If the body raises, the temporary
file is removed, any existing target is left untouched, and the exception propagates.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_WRITE_MODES = {"w": "", "wt": "", "wb": "b"}


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
    fsync: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that atomically replaces ``path`` when the block ends.

    ``mode`` is ``"wb"`` (default), ``"w"`` or ``"wt"``; text mode defaults to UTF-8. A new file
    gets the usual permissions (0o666 minus the umask); a replaced file keeps its permission bits.
    ``fsync=False`` skips the two fsyncs (faster, still atomic but not durable across power loss).
    The parent directory must exist. A symlink at ``path`` is replaced, not written through.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(f"atomic_write: mode must be one of {sorted(_WRITE_MODES)}, got {mode!r}")
    binary = _WRITE_MODES[mode] == "b"
    if binary and (encoding is not None or newline is not None):
        raise ValueError("atomic_write: encoding and newline apply to text mode only")
    target = Path(path)
    directory = _directory_of(target, "atomic_write")
    tmp, fd = _create_temp(target)
    try:
        with contextlib.suppress(FileNotFoundError):
            # Keep the permissions of the file being replaced (mkstemp-style 0o600 would not).
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        kwargs = {} if binary else {"encoding": encoding or "utf-8", "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as f:
            fd = -1  # the file object owns the descriptor now
            yield f
            if not f.closed:
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_directory(directory)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """A temporary path next to ``path`` for writers that take a file name, not a file object;
    when the block ends, the file written there atomically replaces ``path``.

    As with :func:`atomic_write`, if the block raises, the temporary file is removed and ``path``
    is left as it was; the parent directory must exist.
    """
    target = Path(path)
    directory = _directory_of(target, "atomic_path")
    tmp, fd = _create_temp(target)
    os.close(fd)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_directory(directory)


def _directory_of(target: Path, caller: str) -> Path:
    """The directory ``target`` will be written in, which must exist."""
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"{caller}: directory {str(directory)!r} does not exist")
    return directory


def _create_temp(target: Path) -> tuple[Path, int]:
    """Create a hidden, uniquely named file next to ``target``; returns its path and descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
        except FileExistsError:
            continue


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
