"""st.save / st.load: exact round trips of tensors, arrays and state dicts (an optimiser resumes
step for step), the files other tools write (safetensors, .npz, PyTorch's .pt), and one clear
error for every file that cannot be read."""

import json
import math
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

import striate as st
import striate.nn as nn
import striate.nn.functional as F
from striate import optim
from striate.interop.safetensors import SafetensorsError, load_file, save_file
from striate.serialization import TREE_KEY, LoadError


def roundtrip(obj, tmp_path, name="x.safetensors"):
    path = tmp_path / name
    st.save(obj, path)
    return st.load(path)


def assert_same(a, b):
    """Equal values, dtypes and containers, recursively (Tensors: requires_grad too)."""
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    if isinstance(a, st.Tensor):
        assert a.requires_grad == b.requires_grad
        a, b = a.data, b.data
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int32,
                                   np.uint8, np.bool_])
def test_arrays_and_tensors_come_back_exactly(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    assert_same(roundtrip(array, tmp_path), array)
    assert_same(roundtrip(st.tensor(array), tmp_path), st.tensor(array))
    assert_same(roundtrip(array[0, 0, 0], tmp_path), array[0, 0, 0])  # a NumPy scalar


def test_edge_shapes_and_gradients(tmp_path):
    for value in (np.zeros((0, 3), np.float32), np.array(2.5), np.arange(6.0).reshape(2, 3).T,
                  st.randn(2, 3, requires_grad=True)):
        assert_same(roundtrip(value, tmp_path), value)


def test_a_nested_state_dict_keeps_its_structure(tmp_path):
    tree = {"weights": {"conv.weight": np.ones((2, 1, 3, 3), np.float32),
                        "bn.num_batches_tracked": np.array(4)},
            "state": {0: {"step": 3.0, "buf": st.zeros(2)}, 1: {}},
            "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "name": None,
                        "nesterov": True}],
            "epoch": 7, "loss": float("nan"), "big": 2**70, "note": "ünïcode",
            "odd keys": {None: 1, True: 2, 2.5: 3, "__array__": 4}}
    assert_same(roundtrip(tree, tmp_path), tree)


def test_a_model_state_dict_is_a_plain_safetensors_state_dict(tmp_path):
    """What st.save writes of a flat state dict names each tensor by its key: PyTorch's
    safetensors.torch.load_file reads it as a state dict, as load_file does here."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3))
    state = model.state_dict()
    st.save(state, tmp_path / "m.safetensors")
    arrays, metadata = load_file(tmp_path / "m.safetensors")
    assert list(arrays) == list(state) and set(metadata) == {TREE_KEY}
    for k, v in state.items():
        np.testing.assert_array_equal(arrays[k], v)
    other = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3))
    other.load_state_dict(st.load(tmp_path / "m.safetensors"))
    assert_same(other.state_dict(), state)


def test_colliding_paths_get_distinct_tensor_names(tmp_path):
    tree = {"a.b": np.zeros(1), "a": {"b": np.ones(1)}}
    assert_same(roundtrip(tree, tmp_path), tree)


def small_net(seed):
    generator = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, generator=generator), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3, generator=generator))


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
], ids=["sgd-momentum", "adam"])
def test_an_optimiser_resumes_exactly(tmp_path, make):
    rng = np.random.default_rng(1)
    batches = [(st.tensor(rng.standard_normal((6, 2, 5, 5))), st.tensor(rng.integers(0, 3, 6)))
               for _ in range(6)]

    def step(model, opt, x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    model = small_net(0).to(np.float64)
    opt = make(model.parameters())
    for x, y in batches[:3]:
        step(model, opt, x, y)
    st.save(opt.state_dict(), tmp_path / "opt.safetensors")
    st.save(model.state_dict(), tmp_path / "model.safetensors")

    resumed = small_net(5).to(np.float64)
    resumed.load_state_dict(st.load(tmp_path / "model.safetensors"))
    opt2 = make(resumed.parameters())
    loaded = st.load(tmp_path / "opt.safetensors")
    assert_same(loaded, opt.state_dict())  # integer keys and tuples included
    opt2.load_state_dict(loaded)
    for x, y in batches[3:]:
        step(model, opt, x, y)
        step(resumed, opt2, x, y)
        for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
            np.testing.assert_array_equal(a.data, b.data)


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "x.safetensors"
    st.save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot store set at w\.0"):
        st.save({"w": [{1, 2}]}, path)
    with pytest.raises(TypeError, match="save its state_dict"):
        st.save(nn.Linear(2, 2), path)
    with pytest.raises(TypeError, match="cannot store the key"):
        st.save({(1, 2): np.ones(1)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.safetensors"]


def test_save_refuses_what_load_would_refuse(tmp_path):
    with pytest.raises(ValueError, match="name it 'model.safetensors'"):
        st.save({"w": np.ones(1)}, tmp_path / "model.pt")
    deep = np.ones(1)
    for _ in range(70):
        deep = [deep]
    with pytest.raises(ValueError, match="nests deeper than 64 levels"):
        st.save(deep, tmp_path / "deep.safetensors")
    assert not os.listdir(tmp_path)


# --- files from elsewhere ----------------------------------------------------------------------


def raw_safetensors(path, entries, body, metadata=None):
    """A safetensors file of hand-written header entries {name: (dtype, shape)} and body."""
    header, offset = {}, 0
    for name, (dtype, shape, size) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + body)
    return path


def test_a_plain_safetensors_file_is_a_dict_of_tensors_with_half_floats_widened(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, -np.inf], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()  # exact in bfloat16
    f16 = values.astype("<f2").tobytes()
    ints = np.arange(3, dtype="<i8").tobytes()
    path = raw_safetensors(tmp_path / "other.safetensors",
                           {"b": ("BF16", [2, 2], 8), "h": ("F16", [4], 8), "i": ("I64", [3], 24)},
                           bf16 + f16 + ints, {"format": "pt"})
    loaded = st.load(path)
    assert list(loaded) == ["b", "h", "i"] and all(isinstance(v, st.Tensor) for v in
                                                   loaded.values())
    assert loaded["b"].dtype == np.float32 and loaded["h"].dtype == np.float32
    np.testing.assert_array_equal(loaded["b"].data, values.reshape(2, 2))
    np.testing.assert_array_equal(loaded["h"].data, values.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(loaded["i"].data, np.arange(3))


def test_npz_is_a_dict_of_tensors(tmp_path):
    arrays = {"w": np.random.default_rng(0).standard_normal((2, 3)), "n": np.arange(4),
              "h": np.ones(2, np.float16)}
    np.savez_compressed(tmp_path / "a.npz", **arrays)
    loaded = st.load(tmp_path / "a.npz")
    assert list(loaded) == ["w", "n", "h"]
    assert_same(loaded["w"], st.tensor(arrays["w"]))
    assert_same(loaded["n"], st.tensor(arrays["n"]))
    assert loaded["h"].dtype == np.float32


def test_pt_files_load_through_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    state = {"conv.weight": torch.randn(2, 1, 3, 3, dtype=torch.float64),
             "half": torch.tensor([1.5, -2.0], dtype=torch.float16),
             "bf": torch.tensor([1.5, 3.0], dtype=torch.bfloat16),
             "steps": torch.tensor(4), "nested": {"list": [torch.ones(1)], "size": (2, 3)},
             "param": torch.nn.Parameter(torch.zeros(2))}
    torch.save(state, tmp_path / "w.pth")
    loaded = st.load(tmp_path / "w.pth")
    np.testing.assert_array_equal(loaded["conv.weight"].data, state["conv.weight"].numpy())
    assert loaded["conv.weight"].dtype == np.float64
    assert loaded["half"].dtype == loaded["bf"].dtype == np.float32
    np.testing.assert_array_equal(loaded["bf"].data, [1.5, 3.0])
    assert loaded["steps"].data == 4 and loaded["steps"].dtype == np.int64
    assert isinstance(loaded["nested"]["list"][0], st.Tensor) and loaded["nested"]["size"] == (2, 3)
    assert loaded["param"].requires_grad and not loaded["half"].requires_grad


def test_a_torch_model_state_dict_loads_into_the_striate_model(tmp_path):
    torch = pytest.importorskip("torch")
    from striate.bench.torch_twins import build

    ours = st.models.get_model("lenet5", generator=np.random.default_rng(0))
    twin = build("lenet5").to_empty(device="cpu")
    for p in twin.parameters():
        torch.nn.init.normal_(p)
    torch.save(twin.state_dict(), tmp_path / "lenet.pth")
    ours.load_state_dict(st.load(tmp_path / "lenet.pth"))
    for k, v in twin.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy())


# --- what cannot be read: one clear error naming the file -------------------------------------


class Opaque:
    """An object only a full unpickle can rebuild."""


def write_bad_pt(path):
    torch = pytest.importorskip("torch")
    torch.save({"model": Opaque()}, path)
    return path


def write_huge_npz(path):
    """An .npz whose array header claims far more data than the archive holds."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (1 << 40,)
    with zipfile.ZipFile(path, "w") as archive, archive.open("big.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(8))
    return path


def write_object_npz(path):
    np.savez(path, a=np.array([{"x": 1}, None], dtype=object))
    return path


def tampered(path, change):
    """A file st.save wrote, with its structure JSON changed by ``change``."""
    st.save({"a": np.zeros(2), "b": [np.ones(1)]}, path)
    arrays, metadata = load_file(path)
    text = change(metadata[TREE_KEY])
    return save_file(arrays, path, {TREE_KEY: text}) if isinstance(text, str) else save_file(
        {**arrays, **text}, path, metadata)


BAD_FILES = {
    "unknown suffix": (lambda p: (p.with_suffix(".bin").write_bytes(b"x"), p.with_suffix(
        ".bin"))[1], LoadError, "unknown file type '.bin'"),
    "folder": (lambda p: (p.mkdir(), p)[1], LoadError, "is a directory"),
    "corrupt safetensors": (lambda p: (p.write_bytes(b"\x10" + bytes(7) + b"{"), p)[1],
                            SafetensorsError, "truncated or corrupt"),
    "reference to nothing": (lambda p: tampered(p, lambda t: t.replace('"b.0"', '"zz"')),
                             LoadError, "refers to 'zz', which is not a tensor of the file"),
    "reference twice": (lambda p: tampered(p, lambda t: t.replace('"b.0"', '"a"')),
                        LoadError, "refers to 'a' twice"),
    "unreferenced tensor": (lambda p: tampered(p, lambda t: {"extra": np.ones(1)}),
                            LoadError, "tensors ['extra'] are in the file but not"),
    "malformed marker": (lambda p: tampered(p, lambda t: t.replace('"__array__":"a"',
                                                                   '"__tuple__":"a"')),
                         LoadError, "malformed __tuple__"),
    "not JSON": (lambda p: tampered(p, lambda t: t[:-1]), SafetensorsError, "not valid JSON"),
    "corrupt npz": (lambda p: (p.with_suffix(".npz").write_bytes(b"PK\x03\x04junk"),
                               p.with_suffix(".npz"))[1], LoadError, "not a readable .npz"),
    "npz claiming too much": (lambda p: write_huge_npz(p.with_suffix(".npz")), LoadError,
                              "more than its"),
    "npz of objects": (lambda p: write_object_npz(p.with_suffix(".npz")), LoadError,
                       "holds Python objects"),
    "pickle-only pt": (lambda p: write_bad_pt(p.with_suffix(".pt")), LoadError,
                       "only a full unpickle"),
    "corrupt pt": (lambda p: (p.with_suffix(".pt").write_bytes(b"garbage" * 10),
                              p.with_suffix(".pt"))[1], LoadError, "not a PyTorch file"),
}


@pytest.mark.parametrize("make,error,message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_unreadable_files_raise_one_clear_error(tmp_path, make, error, message):
    path = make(tmp_path / "bad.safetensors")
    with pytest.raises(error) as e:
        st.load(path)
    assert isinstance(e.value, ValueError)
    text = str(e.value)
    assert message in text and str(path) in text and "\n" not in text, text


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        st.load(tmp_path / "nope.safetensors")
    assert str(tmp_path / "nope.safetensors") in str(e.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    for suffix in (".safetensors", ".npz", ".pt"):
        fifo = tmp_path / f"pipe{suffix}"
        os.mkfifo(fifo)
        with pytest.raises(LoadError, match="FIFO"):
            st.load(fifo)


def test_pt_without_torch_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    path.write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(LoadError, match="needs torch: pip install torch"):
        st.load(path)
