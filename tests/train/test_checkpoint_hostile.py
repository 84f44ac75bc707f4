"""Hostile checkpoints: every bad metadata field, weights that do not fit their model, a model
larger than its file, and the commands that load them -- each one UserError naming the file (the
CLI: one line, exit 2), quickly and without a large allocation."""

import copy
import dataclasses
import json
import os
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from striate import models
from striate.cli import main
from striate.data import Normalizer
from striate.errors import UserError
from striate.interop.safetensors import load_file, save_file
from striate.train.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from striate.train.checkpoint_meta import validate_meta
from striate.train.config import TrainConfig
from striate.train.model_args import check_model_args
from striate.train.restore import model_from_checkpoint

DELETE = object()


def lenet_meta() -> dict:
    """What ``striate train`` writes for LeNet-5 on 28×28 grey images of 10 classes."""
    images = np.arange(4 * 28 * 28, dtype=np.uint8).reshape(4, 1, 28, 28)
    return {"format": FORMAT, "version": VERSION,
            "model": {"name": "lenet5", "num_classes": 10, "in_channels": 1, "input_size": 28,
                      "args": {}},
            "dataset": "mnist", "classes": [f"class {i}" for i in range(10)],
            "image_shape": [1, 28, 28], "normalizer": Normalizer().fit(images).state_dict(),
            "config": dataclasses.asdict(TrainConfig(model="lenet5", dataset="mnist")),
            "epoch": 1, "stale_epochs": 0, "best_accuracy": 0.5,
            "history": [{"epoch": 1, "train_loss": 0.7, "val_acc": None}],
            "loader_rng": {"generator": np.random.default_rng(0).bit_generator.state,
                           "batches_done": 0},
            "global_rng": np.random.default_rng(1).bit_generator.state, "scheduler": None}


def lenet_weights() -> dict[str, np.ndarray]:
    return models.get_model("lenet5", generator=np.random.default_rng(0)).state_dict()


def write(path, meta_text: str, weights=None, extra=None):
    """A checkpoint file of raw metadata text, LeNet-5's weights and any ``extra`` tensors."""
    weights = lenet_weights() if weights is None else weights
    tensors = {f"model.{k}": v for k, v in weights.items()} | (extra or {})
    return save_file(tensors, path, {"striate": meta_text})


def changed(meta: dict, key: str, value) -> dict:
    """A copy of ``meta`` with the dotted ``key`` set to ``value`` (or deleted)."""
    meta = copy.deepcopy(meta)
    *parents, last = key.split(".")
    node = meta
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return meta


def with_args(meta: dict, args: dict) -> dict:
    """``meta`` for the same model with other builder arguments (in model and config)."""
    return changed(changed(meta, "model.args", args), "config.model_args", args)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def load_error(path) -> str:
    with pytest.raises(UserError) as e:
        load_checkpoint(path)
    message = str(e.value)
    assert str(path) in message and "\n" not in message
    return message


def test_a_valid_checkpoint_loads_and_restores_the_same_model(tmp_path):
    meta = lenet_meta()
    path = write(tmp_path / "ok.safetensors", json.dumps(meta))
    checkpoint = load_checkpoint(path)
    assert checkpoint.path == path and checkpoint.meta["model"] == meta["model"]
    model = model_from_checkpoint(checkpoint)
    assert not model.training
    for key, value in lenet_weights().items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


def test_the_checkpoint_train_writes_passes(trained):
    load_checkpoint(trained)  # the real thing, optimizer state and all


# (dotted key, value, part of the message)
BAD_FIELDS = [
    ("model.input_size", 60000, "model.input_size must be an integer from 1 to 4096, got 60000"),
    ("model.num_classes", 1e9, "num_classes must be an integer from 1 to 100000, got 1000000000.0"),
    ("model.num_classes", 10**9, "num_classes must be an integer from 1 to 100000"),
    ("model.num_classes", True, "num_classes must be an integer"),
    ("model.num_classes", 0, "num_classes must be an integer from 1"),
    ("model.num_classes", DELETE, "model.num_classes is missing"),
    ("model.in_channels", 5000, "in_channels must be an integer from 1 to 4096"),
    ("model.input_size", None, "input_size must be an integer"),
    ("model.name", "nope", "unknown model 'nope'; choose from alexnet"),
    ("model.name", 7, "unknown model 7"),
    ("model.args", {"foo": 1}, "lenet5 takes no argument 'foo'; it takes activation, "),
    ("model.args", {"activation": 3}, "activation must be a string"),
    ("model.args", {"padding": 1.5}, "padding must be an integer from 0 to 4096, got 1.5"),
    ("model.args", {"padding": 10**6}, "padding must be an integer from 0 to 4096"),
    ("model.args", {"generator": None}, "argument generator cannot be given as JSON"),
    ("model.args", {"num_classes": 10}, "model.args repeats num_classes"),
    ("model.args", [], "model.args must be a JSON object"),
    ("model", DELETE, "model is missing"),
    ("model", "lenet5", "model must be a JSON object"),
    ("classes", [str(i) for i in range(9)], "classes lists 9 names for 10 classes"),
    ("classes", list(range(10)), "class name 0 is not a printable string"),
    ("classes", ["a\nb"] * 10, "class name 'a\\nb' is not a printable string"),
    ("classes", ["x" * 300] * 10, "at most 256 characters"),
    ("classes", DELETE, "classes is missing"),
    ("image_shape", [1, 28, 29], "image_shape [1, 28, 29] does not match"),
    ("image_shape", "1x28x28", "image_shape must be a list"),
    ("normalizer.std", [-1.0], "normalizer.std has a negative value"),
    ("normalizer.min_std", 0, "normalizer.min_std must be a positive finite number"),
    ("normalizer.mean", [float("nan")], "normalizer.mean holds a number that is not finite"),
    ("normalizer.std", [float("inf")], "normalizer.std holds a number that is not finite"),
    ("normalizer.mean", [10**400], "normalizer.mean holds a number that is not finite"),
    ("normalizer.mean", ["0.5"], "normalizer.mean must hold numbers only"),
    ("normalizer.mean", [[0.5]], "normalizer.mean must hold numbers only"),
    ("normalizer.mean", [0.5, 0.5], "shape [1]"),
    ("normalizer.mode", "pixel", "normalizer.mean must be nested lists of shape [1, 28, 28]"),
    ("normalizer.mode", "nope", "normalizer.mode must be one of channel, pixel"),
    ("normalizer.dtype", "V1000000000", "normalizer.dtype must be one of float32, float64"),
    ("normalizer.scale", None, "normalizer.scale must be a positive finite number"),
    ("normalizer.standardize", "yes", "normalizer.standardize must be true or false"),
    ("normalizer", DELETE, "normalizer is missing"),
    ("dataset", 5, "dataset must be a string"),
    ("config.epochs", "x", "config.epochs must be an integer from 1"),
    ("config.bogus", 1, "config has unknown fields"),
    ("config.model", "resnet20", "config.model and config.model_args differ"),
    ("config.image_size", 32, "config.image_size 32 differs from model.input_size 28"),
    ("config.lr", float("nan"), "config.lr must be a finite number"),
    ("config", [], "config must be a JSON object"),
    ("epoch", "3", "epoch must be an integer from 0 to 1000000"),
    ("epoch", -1, "epoch must be an integer from 0"),
    ("stale_epochs", 1.5, "stale_epochs must be an integer"),
    ("best_accuracy", float("nan"), "best_accuracy must be a finite number"),
    ("history", {"a": 1}, "history must be a list"),
    ("history", [[1]], "history must be a list of JSON objects"),
    ("loader_rng.batches_done", -1, "loader_rng.batches_done must be an integer"),
    ("loader_rng.generator", {"bit_generator": "Evil"}, "is for bit generator 'Evil'"),
    ("global_rng.state", {"state": "x", "inc": 1}, "global_rng is not a valid PCG64 state"),
    ("global_rng", [], "global_rng must be a JSON object"),
    ("scheduler", {"step": 1}, "scheduler state would replace the methods ['step']"),
    ("scheduler", [1], "scheduler must be a JSON object"),
    ("scheduler", {"mode": "up", "best": 1.0}, "scheduler.mode must be 'min' or 'max'"),
    ("scheduler", {"best": "0.5"}, "scheduler.best must be a number"),
    ("scheduler", {"best": float("nan")}, "scheduler.best must be a number"),
    ("scheduler", {"num_bad_epochs": -2}, "scheduler.num_bad_epochs must be an integer >= 0"),
    ("scheduler", {"factor": 2.0}, "scheduler.factor must be a number in [0, 1)"),
    ("scheduler", {"threshold_mode": None}, "scheduler.threshold_mode must be 'rel' or 'abs'"),
    ("scheduler", {"min_lrs": ["0"]}, "scheduler.min_lrs must be a list of numbers"),
    ("scheduler", {"last_epoch": 0.5}, "scheduler.last_epoch must be an integer"),
    ("config.accumulate", 0, "config.accumulate must be an integer from 1 to 1000000"),
    ("config.accumulate", 2.0, "config.accumulate must be an integer"),
    ("config.clip_grad_norm", -1.0, "config.clip_grad_norm must be a finite number from 0"),
    ("config.clip_grad_norm", "1", "config.clip_grad_norm must be a finite number"),
    ("config.label_smoothing", 1.5, "config.label_smoothing must be a finite number from 0 to 1"),
    ("config.augment", "flip+evil", "config.augment 'flip+evil' has an unknown augmentation"),
    ("config.augment", "mixup+mixup", "config.augment 'mixup+mixup' repeats 'mixup'"),
    ("config.augment", 3, "config.augment must be a string"),
    ("config.mixup_alpha", 0.0, "config.mixup_alpha must be a finite number from 0.001 to 1000"),
    ("config.cutmix_alpha", 1e9, "config.cutmix_alpha must be a finite number from 0.001"),
    ("config.sync_bn", "yes", "config.sync_bn must be"),
    ("optimizer_state", {"state": {}}, "optimizer_state.param_groups is missing"),
    ("optimizer_state", {"state": {"x": {}}, "param_groups": []}, "optimizer_state.state['x']"),
    ("optimizer_state", {"state": {}, "param_groups": [{"params": [-1]}]}, "parameter indices"),
]


@pytest.mark.parametrize("key,value,message", BAD_FIELDS,
                         ids=[f"{k}={str(v)[:20]}" for k, v, _ in BAD_FIELDS])
def test_every_bad_metadata_field_is_refused_at_load(tmp_path, key, value, message):
    path = write(tmp_path / "bad.safetensors", json.dumps(changed(lenet_meta(), key, value)))
    error = load_error(path)
    assert "bad checkpoint metadata" in error and message in error, error


@pytest.mark.parametrize("text,message", [
    ("{", "striate metadata is not valid JSON"),
    ('{"format": 1, "format": 2}', "repeats the key 'format'"),
    ('{"a": ' + nested(65) + "}", "nests deeper than 64"),
    ('{"a": ' + nested(100_000) + "}", "nests deeper than 64"),
    ('{"a": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[1, 2]", "unknown checkpoint format [1, 2]"),
    ('"text"', "unknown checkpoint format 'text'"),
    ('{"format": "other"}', "unknown checkpoint format 'other'"),
    (json.dumps(changed(lenet_meta(), "version", 2)), "checkpoint version 2"),
    (json.dumps(changed(lenet_meta(), "version", True)), "checkpoint version True"),
    (json.dumps(changed(lenet_meta(), "version", DELETE)), "checkpoint version None"),
])
def test_malformed_metadata_text_is_refused(tmp_path, text, message):
    error = load_error(write(tmp_path / "bad.safetensors", text))
    assert message in error, error


def test_a_file_without_striate_metadata_or_with_non_string_metadata(tmp_path):
    plain = save_file({"w": np.ones(2, np.float32)}, tmp_path / "plain.safetensors")
    assert "not a striate checkpoint" in load_error(plain)
    head = json.dumps({"__metadata__": {"striate": {"format": FORMAT}}}).encode()
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(struct.pack("<Q", len(head)) + head)
    assert "cannot read checkpoint" in load_error(odd) and "not a string" in load_error(odd)


def test_a_deep_but_allowed_field_loads(tmp_path):
    meta = changed(lenet_meta(), "unknown_future_field", json.loads(nested(60)))
    load_checkpoint(write(tmp_path / "ok.safetensors", json.dumps(meta)))


@pytest.mark.parametrize("meta", [
    changed(lenet_meta(), "normalizer.std", [0.0]),
    with_args(lenet_meta(), {"pool": "avg", "activation": "tanh"}),
    changed(lenet_meta(), "scheduler", {"last_epoch": 3, "_last_lr": [0.1]}),
    changed(changed(lenet_meta(), "config", DELETE), "history", DELETE),
    changed(changed(changed(lenet_meta(), "config.schedule", "plateau"), "config.accumulate", 4),
            "scheduler", {"mode": "min", "best": float("inf"), "mode_worse": float("inf"),
                          "num_bad_epochs": 0, "min_lrs": [0], "default_min_lr": 0}),
], ids=["std 0", "model args", "scheduler", "no config or history", "plateau before epoch 1"])
def test_legitimate_values_load(tmp_path, meta):
    """σ = 0 is what fit() gives a pixel constant over the training set (MNIST's corners): the
    normaliser divides by max(σ, min_std), and min_std must be positive."""
    load_checkpoint(write(tmp_path / "ok.safetensors", json.dumps(meta)))


def test_optimizer_state_must_refer_to_the_files_optimizer_tensors(tmp_path):
    optimizer = {"state": {0: {"momentum_buffer": np.zeros(3, np.float32), "step": 1}},
                 "param_groups": [{"lr": 0.1, "betas": [0.9, 0.99], "params": [0]}]}
    path = save_checkpoint(tmp_path / "ok.safetensors", lenet_weights(), lenet_meta(), optimizer)
    checkpoint = load_checkpoint(path)
    assert checkpoint.optimizer_state["state"]["0"]["momentum_buffer"].shape == (3,)
    arrays, metadata = load_file(path)
    meta = json.loads(metadata["striate"])
    ref = meta["optimizer_state"]["state"]["0"]["momentum_buffer"]
    for name, text, tensors in [
        ("missing", json.dumps(meta).replace(ref["__array__"], "optimizer.nope"), arrays),
        ("model", json.dumps(meta).replace(ref["__array__"], "model.fc1.bias"), arrays),
        ("twice", json.dumps(changed(meta, "optimizer_state.state.0.step", ref)), arrays),
        ("unused", json.dumps(meta), arrays | {"junk": np.zeros(1, np.float32)}),
    ]:
        bad = save_file(tensors, tmp_path / f"{name}.safetensors", {"striate": text})
        message = load_error(bad)
        assert ("not an optimizer tensor" in message or "twice" in message
                or "unexpected tensors ['junk']" in message), message


# --- the weights must fit the model the metadata describes -----------------------------------


def restore_error(path) -> str:
    with pytest.raises(UserError) as e:
        model_from_checkpoint(load_checkpoint(path))
    message = str(e.value)
    assert str(path) in message and "\n" not in message
    return message


def test_weights_of_another_shape_missing_or_extra_keys(tmp_path):
    meta = json.dumps(with_args(lenet_meta(), {"padding": 0}))
    message = restore_error(write(tmp_path / "shape.safetensors", meta))
    assert "wrong shape 'fc1.weight' (120, 400) for (120, 256)" in message
    weights = lenet_weights()
    del weights["fc3.bias"]
    weights["extra"] = np.zeros(2, np.float32)
    message = restore_error(write(tmp_path / "keys.safetensors", json.dumps(lenet_meta()),
                                  weights))
    assert "missing 'fc3.bias'" in message and "unexpected 'extra'" in message


def test_another_models_checkpoint_is_refused(tmp_path):
    resnet = models.get_model("resnet20", in_channels=1).state_dict()
    meta = json.dumps(lenet_meta())
    message = restore_error(write(tmp_path / "resnet.safetensors", meta, resnet))
    assert "do not fit the lenet5 its metadata describes: missing 'conv1.bias'" in message
    assert "more; unexpected 'bn1.weight'" in message


@pytest.mark.parametrize("dtype,message", [(np.int32, "wrong dtype 'conv1.weight' int32"),
                                           (np.bool_, "wrong dtype")])
def test_integer_or_boolean_weights_are_refused(tmp_path, dtype, message):
    weights = lenet_weights()
    weights["conv1.weight"] = weights["conv1.weight"].astype(dtype)
    assert message in restore_error(write(tmp_path / "w.safetensors",
                                          json.dumps(lenet_meta()), weights))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_f16_and_f64_weights_are_converted_to_float32(tmp_path, dtype):
    weights = {k: v.astype(dtype) for k, v in lenet_weights().items()}
    model = model_from_checkpoint(load_checkpoint(write(tmp_path / "h.safetensors",
                                                        json.dumps(lenet_meta()), weights)))
    for key, value in weights.items():
        assert model.state_dict()[key].dtype == np.float32
        np.testing.assert_array_equal(model.state_dict()[key], value.astype(np.float32))


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e300])
def test_non_finite_weights_are_refused(tmp_path, value):
    weights = {k: v.astype(np.float64) for k, v in lenet_weights().items()}
    weights["fc2.weight"][0, 0] = value
    assert "not finite 'fc2.weight'" in restore_error(
        write(tmp_path / "n.safetensors", json.dumps(lenet_meta()), weights))


def test_a_combination_the_builder_refuses(tmp_path):
    meta = changed(changed(lenet_meta(), "model.name", "densenet_bc"), "config.model",
                   "densenet_bc")
    meta = with_args(meta, {"depth": 11})
    message = restore_error(write(tmp_path / "d.safetensors", json.dumps(meta)))
    assert "cannot be built" in message and "depth must be 6n + 4" in message


def huge(name: str, **model) -> dict:
    """LeNet-5's metadata turned into a description of a much larger model."""
    meta = changed(lenet_meta(), "model", {"name": name, "num_classes": 10, "in_channels": 1,
                                            "input_size": 28, "args": {}} | model)
    info = meta["model"]
    meta["classes"] = [str(i) for i in range(info["num_classes"])]
    meta["image_shape"] = [info["in_channels"], info["input_size"], info["input_size"]]
    meta["config"].update(model=name, model_args=info["args"])
    return meta


HUGE = {  # within every per-argument bound, each far larger than the file
    "jarrett 100k classes at 256": huge("jarrett", num_classes=100_000, input_size=256),
    "lenet5 at 4096": huge("lenet5", input_size=4096),
    "jarrett 4096-wide": huge("jarrett", args={"channels": [4096, 4096]}),
    "vgg16": huge("vgg16", input_size=32),
}


@pytest.mark.parametrize("meta", HUGE.values(), ids=HUGE.keys())
def test_a_model_larger_than_its_file_is_refused_before_it_is_built(tmp_path, meta):
    started = time.perf_counter()
    message = restore_error(write(tmp_path / "big.safetensors", json.dumps(meta)))
    assert "more weights than the file holds" in message
    assert time.perf_counter() - started < 10


@pytest.mark.skipif(sys.platform != "linux", reason="peak memory read from /proc")
def test_refusing_huge_models_stays_small_in_memory(tmp_path):
    """In a fresh process (its peak resident memory is its own): every HUGE model refused."""
    paths = []
    for i, meta in enumerate(HUGE.values()):
        paths.append(str(write(tmp_path / f"{i}.safetensors", json.dumps(meta))))
    script = textwrap.dedent(f"""
        from striate.bench.throughput import peak_rss_mb
        from striate.errors import UserError
        from striate.train.checkpoint import load_checkpoint
        from striate.train.restore import model_from_checkpoint
        for path in {paths!r}:
            try:
                model_from_checkpoint(load_checkpoint(path))
            except UserError as e:
                assert "more weights than the file holds" in str(e), e
            else:
                raise AssertionError(path)
        print(peak_rss_mb())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) < 1000  # MiB: under 1 GB, where 8 GB+ was asked


# --- check_model_args: also --model-args ----------------------------------------------------------


@pytest.mark.parametrize("name,args", [
    ("lenet5", {}), ("lenet5", {"activation": "tanh", "pool": "avg", "padding": 0}),
    ("densenet_bc", {"depth": 40, "growth_rate": 12, "drop_rate": 0.2}),
    ("jarrett", {"channels": [16, 32], "paddings": None, "lcn_size": 5}),
    ("vgg16", {"input_size": None, "num_classes": 100_000, "dropout": 0}),
    ("resnet18", {"block_variant": "seed000", "zero_init_residual": True}),
    ("mobilenet_v1", {"width_mult": 0.5}),
])
def test_check_model_args_accepts_what_the_builders_take(name, args):
    check_model_args(name, args, where="--model-args")


@pytest.mark.parametrize("name,args,message", [
    ("lenet5", {"foo": 1}, "--model-args: lenet5 takes no argument 'foo'; it takes activation, "
                           "in_channels, input_size, num_classes, padding, pool"),
    ("lenet5", {"num_classes": 1_000_000_000},
     "--model-args: num_classes must be an integer from 1 to 100000, got 1000000000"),
    ("lenet5", {"input_size": None}, "input_size must be an integer from 1 to 4096, got None"),
    ("vgg16", {"input_size": 5000}, "input_size must be an integer from 1 to 4096 or null"),
    ("jarrett", {"channels": [16] * 65}, "channels must be a list of at most 64 items"),
    ("jarrett", {"channels": [16, 99999]}, "each an integer from 0 to 4096"),
    ("jarrett", {"channels": "16"}, "channels must be a list"),
    ("allconv", {"dropout": float("nan")}, "dropout must be a finite number from 0 to 1"),
    ("allconv", {"dropout": 2}, "dropout must be a finite number from 0 to 1, got 2"),
    ("allconv", {"final_relu": 1}, "final_relu must be true or false, got 1"),
    ("mobilenet_v1", {"width_mult": 1000.0}, "width_mult must be a finite number"),
    ("densenet121", {"block_config": [6, 12, 24, 16]}, "takes no argument 'block_config'"),
    ("densenet_bc", {"small_input": False}, "takes no argument 'small_input'"),
    ("resnet20", {"generator": None}, "generator cannot be given as JSON"),
    ("nope", {}, "unknown model 'nope'; choose from"),
    ("lenet5", [1], "--model-args must be a JSON object"),
])
def test_check_model_args_names_the_bad_argument_and_what_is_allowed(name, args, message):
    with pytest.raises(UserError) as e:
        check_model_args(name, args, where="--model-args")
    assert message in str(e.value), e.value


def test_validate_meta_works_on_a_dict_too():
    validate_meta(lenet_meta(), "x.safetensors")
    with pytest.raises(UserError, match="x.safetensors: bad checkpoint metadata: it is not a "
                                        "JSON object"):
        validate_meta([], "x.safetensors")


# --- the commands ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_fmnist, tmp_path_factory):
    """A real run's best checkpoint (with its optimizer state)."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "1",
                 "--batch-size", "64", "--out", str(out), "--no-progress", "--no-plots"]) == 0
    return out / "best.safetensors"


def edit(*pairs):
    """A change to metadata text: each dotted key set to its value."""
    def apply(text: str) -> str:
        meta = json.loads(text)
        for key, value in pairs:
            meta = changed(meta, key, value)
        return json.dumps(meta)
    return apply


WIDE = {"channels": [4096, 4096]}
CLI_CASES = {  # a change to a real checkpoint's metadata, and part of the message
    "input_size 60000": (edit(("model.input_size", 60000)), "input_size must be an integer"),
    "num_classes 1e9": (edit(("model.num_classes", 1e9)), "num_classes must be an integer"),
    "unknown model": (edit(("model.name", "nope")), "unknown model 'nope'"),
    "extra argument": (edit(("model.args", {"foo": 1})), "takes no argument 'foo'"),
    "classes of wrong length": (edit(("classes", ["a"])), "classes lists 1 names for 10"),
    "negative std": (edit(("normalizer.std", [-1.0])), "normalizer.std has a negative value"),
    "min_std 0": (edit(("normalizer.min_std", 0.0)), "min_std must be a positive finite"),
    "NaN mean": (edit(("normalizer.mean", [float("nan")])), "not finite"),
    "deep JSON": (lambda text: text.replace('"dataset": "mnist"', f'"dataset": {nested(200)}'),
                  "nests deeper than 64"),
    "other model's weights": (edit(("model.args", {"padding": 0}),
                                   ("config.model_args", {"padding": 0})),
                              "wrong shape 'fc1.weight'"),
    "model wider than the file": (edit(("model.name", "jarrett"), ("model.args", WIDE),
                                       ("config.model", "jarrett"),
                                       ("config.model_args", WIDE)),
                                  "more weights than the file holds"),
}


@pytest.mark.parametrize("change,message", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_predict_and_evaluate_exit_2_with_one_line(trained, tiny_fmnist, tmp_path, capsys,
                                                   change, message):
    arrays, metadata = load_file(trained)
    path = save_file(arrays, tmp_path / "hostile.safetensors",
                     {"striate": change(metadata["striate"])})
    image = tmp_path / "digit.npy"
    np.save(image, np.zeros((28, 28), np.uint8))
    for argv in (["predict", str(path), str(image)],
                 ["evaluate", str(path), "--data-dir", str(tiny_fmnist)]):
        started = time.perf_counter()
        assert main(argv) == 2
        assert time.perf_counter() - started < 30
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"striate {argv[0]}: error: ") and str(path) in err
        assert message in err, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_dev_zero_end_quickly_on_the_command_line(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    for path, message in ((fifo, "FIFO"), ("/dev/zero", "character device")):
        if not os.path.exists(path):
            continue
        proc = subprocess.run([sys.executable, "-m", "striate.cli", "evaluate", str(path)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and str(path) in lines[0]
