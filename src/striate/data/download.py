"""Downloading and unpacking dataset files safely.

A download streams into a temporary file next to its destination and is renamed into place
(``os.replace``, atomic on one file system) only after its checks pass, so an interrupted or
corrupt download never leaves a file that a later run would trust. Archives are unpacked
member by member after checking that no member escapes the destination (absolute paths, ``..``,
links and device files are refused).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from .errors import DatasetError

_CHUNK = 1 << 20
# Python's own "data" filter (3.11.4+) re-checks every member on top of _checked_member.
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    verify: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` atomically.

    ``md5`` checks the downloaded bytes; ``verify(tmp_path)`` may check the content further and
    raise :class:`DatasetError`. On any failure the partial file is removed and a DatasetError
    naming the URL and the reason is raised.
    """
    dest = Path(dest)
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    ok = False
    try:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DatasetError(f"cannot download {url}: {exc}") from exc
        if md5 is not None and digest.hexdigest() != md5:
            raise DatasetError(
                f"download of {url} is corrupt: MD5 {digest.hexdigest()}, expected {md5}; "
                "try again later or fetch the file by hand"
            )
        if verify is not None:
            verify(tmp)
        os.replace(tmp, dest)
        ok = True
    finally:
        tmp.unlink(missing_ok=True)
        for folder in created if not ok else ():  # leave no empty folders behind a failure
            try:
                folder.rmdir()
            except OSError:
                break
    return dest


def extract_tar(archive: str | os.PathLike, dest_dir: str | os.PathLike, top: str) -> Path:
    """Unpack the tar ``archive`` whose content lies under folder ``top`` into ``dest_dir/top``.

    Members are checked first; the unpacking happens in a temporary folder that is renamed
    into place at the end, so a failure leaves no half-unpacked ``top``.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest_dir, prefix=".extract-"))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = [m for m in tar.getmembers() if _checked_member(archive, m)]
                tar.extractall(tmp, members=members, **_DATA_FILTER)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetError(
                f"archive {os.fspath(archive)!r} cannot be unpacked ({exc}); "
                "delete it and download it again"
            ) from exc
        if not (tmp / top).is_dir():
            raise DatasetError(
                f"archive {os.fspath(archive)!r} has no folder {top!r}; "
                "it is not the expected dataset archive: delete it and download it again"
            )
        target = dest_dir / top
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp / top, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _checked_member(archive: str | os.PathLike, member: tarfile.TarInfo) -> bool:
    """True for regular files and folders with a safe relative name; raise for anything else."""
    parts = PurePosixPath(member.name).parts
    if member.name.startswith(("/", "\\")) or ".." in parts or not parts:
        raise DatasetError(
            f"archive {os.fspath(archive)!r} has an unsafe member name {member.name!r} "
            "(absolute or leading outside the destination); refusing to unpack it"
        )
    if not (member.isfile() or member.isdir()):
        raise DatasetError(
            f"archive {os.fspath(archive)!r} has member {member.name!r} that is a link or "
            "special file; refusing to unpack it"
        )
    return True


def extract_zip_members(archive: str | os.PathLike, members: Mapping[str, Path]) -> None:
    """Copy the named members of the zip ``archive`` to the given paths, each atomically.

    Member names come from the caller (never from the archive), so they cannot escape.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            for name, dest in members.items():
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
                try:
                    with os.fdopen(fd, "wb") as out, zf.open(name) as src:
                        shutil.copyfileobj(src, out, _CHUNK)
                    os.replace(tmp_name, dest)
                finally:
                    Path(tmp_name).unlink(missing_ok=True)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise DatasetError(
            f"archive {os.fspath(archive)!r} cannot be unpacked ({exc}); "
            "delete it and download it again"
        ) from exc
