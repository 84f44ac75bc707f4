"""atomic_write and atomic_path: the target is either untouched or wholly replaced; no temporary
files remain."""

import os
import stat

import pytest

from striate.fileio import atomic_path, atomic_write


def _leftovers(directory):
    return sorted(f for f in os.listdir(directory) if f.endswith(".tmp"))


def test_writes_new_binary_file(tmp_path):
    target = tmp_path / "a.bin"
    with atomic_write(target) as f:
        f.write(b"\x00\x01payload")
    assert target.read_bytes() == b"\x00\x01payload"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_text_mode_is_utf8_and_accepts_str_path(tmp_path):
    target = tmp_path / "t.txt"
    with atomic_write(str(target), "w") as f:
        f.write("café → ok\n")
    assert target.read_text(encoding="utf-8") == "café → ok\n"
    with atomic_write(target, "wt", encoding="latin-1") as f:
        f.write("café")
    assert target.read_bytes() == "café".encode("latin-1")


def test_target_keeps_old_content_until_the_block_ends(tmp_path):
    target = tmp_path / "ckpt"
    target.write_bytes(b"old")
    with atomic_write(target) as f:
        f.write(b"new")
        f.flush()
        assert target.read_bytes() == b"old"
        assert len(_leftovers(tmp_path)) == 1  # the work happens in a hidden sibling
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_leaves_old_file_and_no_temp(tmp_path, error):
    target = tmp_path / "ckpt"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_write(target) as f:
            f.write(b"half")
            raise error("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["ckpt"]


def test_exception_on_new_path_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match="boom"):
        with atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("x")
            raise ValueError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_replace_removes_temp(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("keep")
    with pytest.raises(OSError):
        with atomic_write(target) as f:  # cannot rename a file over a non-empty directory
            f.write(b"x")
    assert sorted(os.listdir(tmp_path)) == ["dir"]
    assert (target / "inside").read_text() == "keep"


def test_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "p"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with atomic_write(target) as f:
        f.write(b"new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_new_file_gets_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "n", fsync=False) as f:
            f.write(b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "n").st_mode) == 0o644


def test_closing_inside_the_block_still_commits(tmp_path):
    target = tmp_path / "c"
    with atomic_write(target) as f:
        f.write(b"done")
        f.close()
    assert target.read_bytes() == b"done"
    assert _leftovers(tmp_path) == []


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "ab"):
            pass
    with pytest.raises(ValueError, match="text mode"):
        with atomic_write(tmp_path / "x", "wb", encoding="utf-8"):
            pass
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_write(tmp_path / "missing" / "x"):
            pass
    assert os.listdir(tmp_path) == []


def test_atomic_path_replaces_the_target_with_what_was_written_there(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"new")  # a writer that takes a file name
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["model.onnx"]


def test_atomic_path_leaves_the_target_when_the_writer_fails(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.onnx"]
    with pytest.raises(FileNotFoundError, match="does not exist"), atomic_path(
            tmp_path / "missing" / "x"):
        pass
