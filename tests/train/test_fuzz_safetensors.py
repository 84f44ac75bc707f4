"""Fuzzing (hypothesis) of the safetensors reader and of checkpoint metadata: random headers,
mutated valid files, byte flips and truncations of a real checkpoint, random metadata fields.

The only outcomes allowed are a correct load or our one-line error (SafetensorsError from the
reader, UserError from checkpoints): no other exception, no hang, and no allocation beyond a
small multiple of the file's size (tracemalloc's peak).  Derandomized, so CI runs the same
examples every time; sized to run in a few seconds.
"""

import json
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# the valid LeNet-5 checkpoint the hostile-checkpoint tests start from (tests/train is on the path)
from test_checkpoint_hostile import DELETE, changed, lenet_meta, write

from striate.errors import UserError
from striate.interop.safetensors import DTYPES, SafetensorsError, load_file, save_file
from striate.train.checkpoint import load_checkpoint
from striate.train.restore import model_from_checkpoint

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALLOCATION_FACTOR, ALLOCATION_SLACK = 64, 1 << 20  # peak < 64 × file size + 1 MiB

json_scalars = (st.none() | st.booleans() | st.floats() | st.text(max_size=8)
                | st.integers(-3, 70) | st.sampled_from([2**31, 2**62, 2**63, 2**64, -2**63]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                           max_leaves=12)
sizes = st.integers(-3, 40) | st.sampled_from([2**31, 2**62, 2**63, 2**64, 2**64 + 8])
entries = st.fixed_dictionaries(
    {"dtype": st.sampled_from([*DTYPES, "BF16", "F8_E4M3", "C64", "f32"]) | json_scalars,
     "shape": st.lists(sizes, max_size=4) | json_values,
     "data_offsets": st.lists(sizes, min_size=2, max_size=3) | json_values},
    optional={"extra": json_scalars})
headers = (st.dictionaries(st.text(max_size=6), entries | json_values, max_size=4)
           | st.fixed_dictionaries({"__metadata__": json_values}) | json_values)


def outcome(load, path):
    """``load(path)``'s result, or None for our error; asserting the error's form and the
    allocation bound."""
    limit = ALLOCATION_FACTOR * path.stat().st_size + ALLOCATION_SLACK
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        return load(path)
    except (SafetensorsError, UserError) as e:
        assert str(path) in str(e) and "\n" not in str(e), str(e)
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < limit, f"{peak} bytes allocated reading a {path.stat().st_size}-byte file"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(header=headers, body=st.binary(max_size=64), length=st.none() | sizes)
def test_random_headers(folder, header, body, length):
    head = json.dumps(header).encode()
    path = folder / "random.safetensors"
    path.write_bytes(struct.pack("<Q", len(head) if length is None else length % 2**64)
                     + head + body)
    loaded = outcome(load_file, path)
    if loaded is not None:  # then it was a valid file: it survives a round trip
        arrays, metadata = loaded
        again, _ = load_file(save_file(arrays, folder / "again.safetensors", metadata))
        assert all(np.array_equal(again[k], v) for k, v in arrays.items())


def valid_file(path):
    return save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                      "n": np.arange(4, dtype=np.int64), "m": np.array([True, False]),
                      "e": np.zeros((0, 5), np.float16)}, path, {"note": "x"})


@FUZZ
@given(data=st.data())
def test_mutated_valid_headers(folder, data):
    path = valid_file(folder / "mutated.safetensors")
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from([*sorted(header), "new"]))
        change = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "entry", "drop"]))
        if change == "drop":
            header.pop(name, None)
        elif name == "__metadata__":
            header[name] = data.draw(json_values | st.dictionaries(st.text(max_size=4),
                                                                   st.text(max_size=4)))
        elif change == "entry" or not isinstance(header.get(name), dict):
            header[name] = data.draw(entries | json_values)
        elif change == "dtype":
            header[name]["dtype"] = data.draw(entries)["dtype"]
        else:  # one number of the shape or offsets, or a new list
            values = header[name].get(change)
            values = list(values) if isinstance(values, list) else []
            if values and data.draw(st.booleans()):
                values[data.draw(st.integers(0, len(values) - 1))] = data.draw(sizes)
            else:
                values = data.draw(st.lists(sizes, max_size=3))
            header[name][change] = values
    head = json.dumps(header).encode()
    body = raw[8 + n:]
    cut = data.draw(st.none() | st.integers(0, len(body) + 8))
    path.write_bytes(struct.pack("<Q", len(head)) + head + (body if cut is None else
                                                            (body + bytes(8))[:cut]))
    outcome(load_file, path)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A real small checkpoint's bytes and where its header ends."""
    path = write(tmp_path_factory.mktemp("real") / "c.safetensors", json.dumps(lenet_meta()))
    raw = path.read_bytes()
    return raw, 8 + struct.unpack("<Q", raw[:8])[0]


def restored(path):
    """Load and rebuild, as predict does; None for our error."""
    checkpoint = outcome(load_checkpoint, path)
    if checkpoint is None:
        return None
    try:
        return model_from_checkpoint(checkpoint)
    except UserError as e:
        assert str(path) in str(e) and "\n" not in str(e), str(e)
        return None


@FUZZ
@given(data=st.data())
def test_byte_flips_and_truncations_of_a_real_checkpoint(folder, real, data):
    raw, header_end = real
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        # mostly in the length and the header, where a flip changes meaning
        at = data.draw(st.integers(0, header_end + 16) | st.integers(0, len(raw) - 1))
        mutated[at] ^= data.draw(st.integers(1, 255))
    if data.draw(st.booleans()):
        mutated = mutated[:data.draw(st.integers(0, len(mutated)))]
    path = folder / "flipped.safetensors"
    path.write_bytes(bytes(mutated))
    restored(path)


FIELDS = sorted({*lenet_meta(), *(f"{top}.{key}" for top, section in lenet_meta().items()
                                   if isinstance(section, dict) for key in section)}
                - {"format", "version"})


@FUZZ
@given(key=st.sampled_from(FIELDS), value=st.just(DELETE) | json_values)
def test_random_metadata_fields(folder, key, value):
    path = write(folder / "meta.safetensors", json.dumps(changed(lenet_meta(), key, value)))
    restored(path)
