"""Deconvnet checkpoints: a round trip keeps everything; every bad field, tensor or file is one
UserError naming the file; an interrupted save keeps the last good file."""

import copy
import json

import numpy as np
import pytest

import striate.interop.safetensors as safetensors
from striate.commands.deconvnet import NORMALIZATION
from striate.deconvnet import DeconvLayer, DeconvNet
from striate.deconvnet.checkpoint import FILE_NAME, load_deconvnet, save_deconvnet
from striate.errors import UserError
from striate.interop.safetensors import save_file
from striate.train.checkpoint import FORMAT, VERSION

DELETE = object()


def tiny_net() -> DeconvNet:
    layers = [DeconvLayer(1, 3, 3, beta_schedule=(1.0, 10.0), seed=1),
              DeconvLayer(3, 4, 3, connectivity="random_doubles", beta_schedule=(1.0,), seed=2)]
    return DeconvNet(layers, pool=2)


def run_meta() -> dict:
    return {"image_shape": [1, 8, 8], "dataset": "mnist", "normalization": dict(NORMALIZATION),
            "costs": [[3.5, 2.25], []], "epochs_done": [1, 0],
            "train": {"epochs": 1, "batch_size": 4, "limit": 16, "seed": 0, "data_dir": None}}


def full_meta(net: DeconvNet) -> dict:
    return {**run_meta(), "format": FORMAT, "version": VERSION, "kind": "deconvnet",
            "net": net.config()}


def filters(net: DeconvNet) -> dict:
    return {f"layer{i}.filters": layer.filters for i, layer in enumerate(net.layers)}


def changed(meta: dict, key: str, value) -> dict:
    """A copy of ``meta`` with the dotted ``key`` (list indices as numbers) set or deleted."""
    meta = copy.deepcopy(meta)
    *path, last = key.split(".")
    node = meta
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        del node[last]
    else:
        node[last] = value
    return meta


def refused(path) -> str:
    with pytest.raises(UserError) as caught:
        load_deconvnet(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_net_survives_the_round_trip(tmp_path):
    net = tiny_net()
    written = save_deconvnet(tmp_path / FILE_NAME, net, run_meta())
    loaded = load_deconvnet(tmp_path)  # the run folder finds its file
    assert loaded.path == written
    assert loaded.net.config() == net.config()
    assert {k: v for k, v in loaded.meta.items()} == full_meta(net)
    for old, new in zip(net.layers, loaded.net.layers, strict=True):  # the setter renormalises
        np.testing.assert_allclose(new.filters, old.filters, rtol=0, atol=1e-15)
    z = np.random.default_rng(0).standard_normal((2, 3, 10, 10))
    np.testing.assert_allclose(loaded.net.reconstruct(0, z), net.reconstruct(0, z), atol=1e-13)


BAD_FIELDS = {
    "trainer checkpoint": ("kind", DELETE, "kind is None, not 'deconvnet'"),
    "version": ("version", 2, "version 2"),
    "format": ("format", "other", "unknown checkpoint format"),
    "no net": ("net", DELETE, "net is missing"),
    "no layers": ("net.layers", [], "1 to 16 layers"),
    "layer not object": ("net.layers.0", [1], "net.layers[0] must be a JSON object"),
    "unknown layer field": ("net.layers.0.bogus", 1, "unknown field 'bogus'"),
    "kernel as text": ("net.layers.0.kernel_size", "3", "kernel_size must be an integer"),
    "kernel bool": ("net.layers.0.kernel_size", True, "kernel_size must be an integer"),
    "zero maps": ("net.layers.0.num_maps", 0, "num_maps must be a positive integer"),
    "kernel vs filters": ("net.layers.0.kernel_size", 5, "layer0.filters has shape"),
    "lam nan": ("net.layers.0.lam", float("nan"), "lam must be a finite number"),
    "lam zero": ("net.layers.0.lam", 0.0, "net: lam must be a positive number"),
    "p above 1": ("net.layers.0.p", 2.0, "p must satisfy 0 < p <= 1"),
    "schedule text": ("net.layers.0.beta_schedule", [1, "x"], "beta_schedule must be a list"),
    "schedule huge": ("net.layers.0.beta_schedule", [1e300], "beta_schedule must be a list"),
    "dtype": ("net.layers.0.dtype", "float16", "net: dtype must be 'float64' or 'float32'"),
    "connectivity name": ("net.layers.1.connectivity", "some", "connectivity must be one of"),
    "connectivity 2": ("net.layers.0.connectivity", [[1, 2, 1]], "3 0s and 1s"),
    "connectivity text": ("net.layers.0.connectivity", [["1", 1, 1]], "3 0s and 1s"),
    "chain": ("net.layers.1.in_channels", 2, "previous layer's num_maps 3"),
    "pool text": ("net.pool", "2", "net.pool must be an integer"),
    "unknown net field": ("net.depth", 3, "net has unknown field 'depth'"),
    "image channels": ("image_shape", [3, 8, 8], "image_shape must be [C, H, H]"),
    "image size": ("image_shape", [1, 0, 8], "image_shape must be [C, H, H]"),
    "not square": ("image_shape", [1, 8, 9], "image_shape must be [C, H, H]"),
    "dataset": ("dataset", 5, "dataset must be a string"),
    "normalization": ("normalization.mode", "pixel", "normalization.mode must be one of"),
    "scale": ("normalization.scale", 0, "normalization.scale must be a positive"),
    "local window": ("normalization", {"mode": "local", "scale": 255.0, "min_std": 1e-3,
                                       "window": 4}, "normalization.window must be a positive odd"),
    "costs per layer": ("costs", [[1.0]], "costs must be 2 lists"),
    "cost text": ("costs.0.0", "x", "costs must be 2 lists"),
    "cost inf": ("costs.0.0", float("inf"), "costs must be 2 lists"),
    "epochs done": ("epochs_done", [1, -1], "epochs_done must be 2 integers"),
    "train epochs": ("train.epochs", 0, "train.epochs must be an integer from 1"),
    "train field": ("train.bogus", 1, "train has unknown field 'bogus'"),
}


@pytest.mark.parametrize("key,value,message", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_every_bad_field_is_one_line_naming_the_file(tmp_path, key, value, message):
    net = tiny_net()
    path = save_file(filters(net), tmp_path / FILE_NAME,
                     {"striate": json.dumps(changed(full_meta(net), key, value))})
    assert message in refused(path)


@pytest.mark.parametrize("change,message", [
    (lambda t: t.update({"layer1.filters": np.full(t["layer1.filters"].shape, np.nan)}),
     "layer1.filters holds a value that is not finite"),
    (lambda t: t.update({"layer0.filters": t["layer0.filters"].astype(np.int32)}),
     "layer0.filters holds int32"),
    (lambda t: t.update({"extra": np.zeros(2)}), "are not the filters of 2 layers"),
    (lambda t: t.pop("layer1.filters"), "are not the filters of 2 layers"),
], ids=["nan", "int", "extra", "missing"])
def test_bad_tensors_are_refused(tmp_path, change, message):
    net = tiny_net()
    tensors = filters(net)
    change(tensors)
    path = save_file(tensors, tmp_path / FILE_NAME, {"striate": json.dumps(full_meta(net))})
    assert message in refused(path)


def test_files_that_are_not_deconvnet_checkpoints(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    assert "cannot read checkpoint" in refused(garbage)
    plain = save_file({"w": np.zeros(3)}, tmp_path / "plain.safetensors")
    assert "no striate metadata" in refused(plain)
    assert "not valid JSON" in refused(save_file({}, tmp_path / "j.safetensors",
                                                 {"striate": "{"}))
    with pytest.raises(UserError, match="no deconvnet.safetensors"):
        load_deconvnet(tmp_path)
    with pytest.raises(UserError, match="no such deconvnet checkpoint"):
        load_deconvnet(tmp_path / "missing")


def test_an_interrupted_save_keeps_the_last_good_file(tmp_path, monkeypatch):
    net = tiny_net()
    path = save_deconvnet(tmp_path / FILE_NAME, net, run_meta())
    before = path.read_bytes()

    class Interrupted:
        @staticmethod
        def pack(*args):
            raise KeyboardInterrupt

    monkeypatch.setattr(safetensors, "struct", Interrupted)
    net.layers[0].filters = np.ones_like(net.layers[0].filters)
    with pytest.raises(KeyboardInterrupt):
        save_deconvnet(path, net, run_meta())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]
