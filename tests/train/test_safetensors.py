"""safetensors files: round trip, compatibility with the reference layout, corruption errors."""

import json
import struct

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
