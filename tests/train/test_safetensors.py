"""safetensors files: round trip, compatibility with the reference layout, corruption errors, and
hostile files (malformed headers, FIFOs, devices), each one clear error."""

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from striate.interop.safetensors import SafetensorsError, load_file, save_file


def test_round_trip_keeps_dtypes_shapes_values_and_metadata(tmp_path):
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4),
              "b": np.array([1.5, -2.0]), "n": np.array(7, dtype=np.int64),
              "mask": np.array([True, False]), "empty": np.zeros((0, 3), np.float32)}
    path = save_file(arrays, tmp_path / "a.safetensors", {"note": "hello"})
    loaded, meta = load_file(path)
    assert meta == {"note": "hello"}
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(loaded[k], v)


def test_bf16_is_read_as_float32(tmp_path):
    """A bfloat16 is the high half of a float32: the widening is exact, NaN and ±inf included."""
    values = np.array([1.0, -2.5, 3.140625, -0.0, np.inf, np.nan], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}})
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + raw)
    arrays, _ = load_file(path)
    assert arrays["x"].dtype == np.float32 and arrays["x"].shape == (2, 3)
    np.testing.assert_array_equal(arrays["x"].reshape(-1).view(np.uint32),
                                  values.view(np.uint32))


def test_layout_is_the_reference_format(tmp_path):
    path = save_file({"x": np.array([1.0, 2.0], np.float32)}, tmp_path / "x.safetensors")
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert header["x"] == {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    assert (8 + n) % 8 == 0
    assert np.frombuffer(data[8 + n:], "<f4").tolist() == [1.0, 2.0]


def test_reads_files_written_by_the_safetensors_package_when_installed(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    st_numpy.save_file({"a": np.ones((2, 2), np.float32)}, str(tmp_path / "ref.safetensors"))
    loaded, _ = load_file(tmp_path / "ref.safetensors")
    np.testing.assert_array_equal(loaded["a"], np.ones((2, 2)))


@pytest.mark.parametrize("cut", [4, 20, -3])
def test_truncated_file_gives_a_clear_error(tmp_path, cut):
    path = save_file({"x": np.ones(10, np.float32)}, tmp_path / "x.safetensors")
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(SafetensorsError, match="truncated|too short"):
        load_file(path)


def test_garbage_header_and_missing_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 4) + b"nope")
    with pytest.raises(SafetensorsError, match="JSON"):
        load_file(path)
    with pytest.raises(SafetensorsError, match="no such file"):
        load_file(tmp_path / "missing.safetensors")


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = save_file({"x": np.ones(3, np.float32)}, tmp_path / "x.safetensors")
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_file({"x": np.array(["text"])}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.safetensors"]


# --- hostile files: one SafetensorsError naming the file, never a hang or a big allocation ---


def raw_file(path, header, body=b"", length=None):
    """A file of an arbitrary header (a dict, or raw JSON bytes) and body."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head) if length is None else length) + head + body)
    return path


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize("header,body,message", [
    (b"[1, 2]", b"", "not a JSON object"),
    (b'"text"', b"", "not a JSON object"),
    (b"", b"", "not valid JSON"),
    (b"\xff\xfe{}", b"", "not UTF-8"),
    (b'{"a": 1, "a": 2}', b"", "repeats the key 'a'"),
    (b'{"x": ' + b"[" * 65 + b"]" * 65 + b"}", b"", "nests deeper than 64"),
    (b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"", "nests deeper than 64"),
    (b'{"x": ' + b"1" * 5000 + b"}", b"", "not valid JSON"),
    ({"x": [1, 2]}, b"", "exactly dtype, shape and data_offsets"),
    ({"x": {**entry(), "extra": 1}}, bytes(8), "exactly dtype, shape and data_offsets"),
    ({"x": entry(dtype="F8_E5M2", shape=(8,))}, bytes(8), r"F8_E5M2 \(float8 e5m2\) cannot be"),
    ({"x": entry(dtype="F128")}, bytes(8), "unknown dtype 'F128'"),
    ({"x": entry(dtype=4)}, bytes(8), "unknown dtype 4"),
    ({"x": entry(shape=(-2,))}, bytes(8), "non-negative integers"),
    ({"x": entry(shape=(2.0,))}, bytes(8), "non-negative integers"),
    ({"x": entry(shape=(True, 2))}, bytes(8), "non-negative integers"),
    ({"x": {**entry(), "shape": "2"}}, bytes(8), "non-negative integers"),
    ({"x": entry(shape=[1] * 65)}, bytes(4), "at most 64"),
    ({"x": entry(shape=(2**62, 4))}, bytes(8), "too large"),
    ({"x": entry(shape=(0, 2**62))}, b"", "too large"),
    ({"x": entry(shape=(3,))}, bytes(8), "takes 12 bytes but its data_offsets span 8"),
    ({"x": entry(offsets=(8, 0))}, bytes(8), "0 <= begin <= end"),
    ({"x": entry(offsets=(-8, 0))}, bytes(8), "0 <= begin <= end"),
    ({"x": entry(offsets=(0, 8, 16))}, bytes(16), "pair of integers"),
    ({"x": entry(offsets=(0.0, 8.0))}, bytes(8), "pair of integers"),
    ({"x": entry(), "y": entry(offsets=(4, 12))}, bytes(12), "overlaps"),
    ({"x": entry(), "y": entry(offsets=(0, 8))}, bytes(16), "overlaps"),
    ({"x": entry(offsets=(8, 16))}, bytes(16), "unaccounted"),
    ({"x": entry()}, bytes(4), "truncated"),
    ({"x": entry()}, bytes(12), "trailing bytes"),
    ({"x": entry(offsets=(2**64, 2**64 + 8))}, bytes(8), "unaccounted"),
    ({"__metadata__": {"a": 1}}, b"", "not a string"),
    ({"__metadata__": ["a"]}, b"", "__metadata__ is not a JSON object"),
])
def test_malformed_headers_give_one_clear_error(tmp_path, header, body, message):
    path = raw_file(tmp_path / "bad.safetensors", header, body)
    with pytest.raises(SafetensorsError, match=message) as e:
        load_file(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("length,message", [(2**64 - 1, "over the limit"),
                                            (10**8 + 1, "over the limit"),
                                            (5000, "exceeds the file")])
def test_header_length_is_capped_and_checked_against_the_file(tmp_path, length, message):
    path = raw_file(tmp_path / "bad.safetensors", b"{}", length=length)
    with pytest.raises(SafetensorsError, match=message):
        load_file(path)


def test_bool_bytes_other_than_0_and_1_read_as_true(tmp_path):
    path = raw_file(tmp_path / "b.safetensors", {"m": entry("BOOL", (3,), (0, 3))}, b"\x00\x07\x01")
    assert load_file(path)[0]["m"].tolist() == [False, True, True]


def test_header_order_of_tensors_is_kept_whatever_their_offsets(tmp_path):
    header = {"late": entry(offsets=(8, 16)), "early": entry(offsets=(0, 8))}
    body = np.array([1, 2, 3, 4], "<f4").tobytes()
    arrays, _ = load_file(raw_file(tmp_path / "o.safetensors", header, body))
    assert list(arrays) == ["late", "early"] and arrays["late"].tolist() == [3.0, 4.0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_directory_fifo_device_and_socket_are_refused_before_reading(tmp_path):
    import socket

    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    cases = [(tmp_path, "is a directory"), (fifo, "FIFO")]
    if Path("/dev/zero").exists():
        cases.append((Path("/dev/zero"), "character device"))
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.bind(str(tmp_path / "s.sock"))
            cases.append((tmp_path / "s.sock", "socket"))
        except OSError:  # a temporary folder path too long for a socket
            pass
        for path, message in cases:
            error = error_within(path, seconds=10)
            assert message in error and str(path) in error


def error_within(path, seconds: float) -> str:
    """The message ``load_file(path)`` fails with, run in a daemon thread (one that hangs cannot
    keep the test process alive) that must end in time."""
    import threading

    found: list[str] = []

    def error() -> None:
        try:
            load_file(path)
            found.append("no error")
        except SafetensorsError as e:
            found.append(str(e))

    reader = threading.Thread(target=error, daemon=True)
    reader.start()
    reader.join(timeout=seconds)
    assert not reader.is_alive(), f"reading {path} hangs"
    return found[0]


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    target = save_file({"x": np.ones(2, np.float32)}, tmp_path / "x.safetensors")
    (tmp_path / "link.safetensors").symlink_to(target)
    assert load_file(tmp_path / "link.safetensors")[0]["x"].tolist() == [1.0, 1.0]


def test_unreadable_file_is_one_error(tmp_path):
    path = save_file({"x": np.ones(2, np.float32)}, tmp_path / "x.safetensors")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything
        pytest.skip("running as root")
    with pytest.raises(SafetensorsError, match="cannot open"):
        load_file(path)


def test_unsigned_dtypes_round_trip(tmp_path):
    arrays = {k: np.array([0, 2**bits - 1], dtype) for k, dtype, bits in
              (("a", np.uint16, 16), ("b", np.uint32, 32), ("c", np.uint64, 64))}
    loaded, _ = load_file(save_file(arrays, tmp_path / "u.safetensors"))
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].tolist() == v.tolist()
