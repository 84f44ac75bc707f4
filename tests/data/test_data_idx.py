"""IDX reader: round trips for every element type, and clear errors for damaged files."""

import gzip
import hashlib

import numpy as np
import pytest

from striate.data import DatasetError, read_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_round_trip(tmp_path, write_idx, dtype, name):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    out = read_idx(write_idx(tmp_path / name, a))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, a)


def test_labels_one_dim_and_gzip_detected_by_content(tmp_path, write_idx, idx_bytes):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    # gzip content under a plain name is still recognised
    (tmp_path / "labels").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


def test_sha256_checked(tmp_path, write_idx, idx_bytes):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_idx(tmp_path / "a.gz", a)
    good = hashlib.sha256(idx_bytes(a)).hexdigest()
    np.testing.assert_array_equal(read_idx(path, expected_sha256=good), a)
    with pytest.raises(DatasetError, match=r"a\.gz.*SHA-256.*expected 00"):
        read_idx(path, expected_sha256="00" * 32)


def _bad(tmp_path, content: bytes, name="bad.idx"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, idx_bytes, gz):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10]
    path = _bad(tmp_path, gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=r"bad\.idx.*truncated.*\(4, 28, 28\).*3136.*3126"):
        read_idx(path)


def test_truncated_header(tmp_path, idx_bytes):
    path = _bad(tmp_path, idx_bytes(np.zeros((4, 5), np.uint8))[:6])
    with pytest.raises(DatasetError, match="truncated inside its header"):
        read_idx(path)
    with pytest.raises(DatasetError, match="too short"):
        read_idx(_bad(tmp_path, b"\x00\x00"))


@pytest.mark.parametrize(
    "header", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"\x00\x00\x08\x20"]
)
def test_wrong_magic(tmp_path, header):
    path = _bad(tmp_path, header + b"\x00" * 64)
    with pytest.raises(DatasetError, match=r"bad\.idx.*not an IDX file.*magic number") as info:
        read_idx(path)
    assert "download it again" in str(info.value)


def test_png_is_not_idx(tmp_path):
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(_bad(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\x00" * 32))


@pytest.mark.parametrize("gz", [False, True])
def test_dims_disagree_with_payload(tmp_path, idx_bytes, gz):
    data = bytearray(idx_bytes(np.zeros((2, 3), np.uint8)))
    data[7] = 9  # first dim says 9 rows, payload holds 2
    with pytest.raises(DatasetError, match=r"truncated.*\(9, 3\)"):
        read_idx(_bad(tmp_path, gzip.compress(bytes(data)) if gz else bytes(data)))
    data[4:8] = b"\xff\xff\xff\xff"  # absurd size: refused before allocating memory
    expected = "more than the file can hold" if gz else "but only 6 bytes follow"
    with pytest.raises(DatasetError, match=rf"\(4294967295, 3\).*{expected}"):
        read_idx(_bad(tmp_path, gzip.compress(bytes(data)) if gz else bytes(data)))
    with pytest.raises(DatasetError, match=r"data after the 6 payload bytes of \(2, 3\)"):
        read_idx(_bad(tmp_path, idx_bytes(np.zeros((2, 3), np.uint8)) + b"\x01"))


def test_bad_gzip(tmp_path, idx_bytes):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    with pytest.raises(DatasetError, match=r"bad\.idx\.gz.*cannot be read or decompressed"):
        read_idx(_bad(tmp_path, bytes(packed[: len(packed) // 2]), "bad.idx.gz"))
    packed[-6] ^= 0xFF  # break the CRC
    with pytest.raises(DatasetError, match=r"cannot be read or decompressed.*CRC"):
        read_idx(_bad(tmp_path, bytes(packed), "bad.idx.gz"))
    with pytest.raises(DatasetError, match="cannot be read or decompressed"):
        read_idx(_bad(tmp_path, b"\x1f\x8b" + b"garbage" * 10, "bad.idx.gz"))


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")
