"""The command line as users expect it: ``train --config`` (and the run's ``config.toml``),
``evaluate``'s precision/recall/F1 and ``--json``, ``predict`` on folders with ``--json`` and its
warnings for images unlike the training set, ``summary --list PATTERN`` and ``--batch-size``."""

import json
import time
import tomllib

import numpy as np
import pytest

from striate.cli import main
from striate.train.checkpoint import load_checkpoint


def write_toml(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config_run(tiny_fmnist, tmp_path_factory):
    """A run trained from a config file, with ``--lr`` on the command line overriding it."""
    root = tmp_path_factory.mktemp("ux")
    config = write_toml(root / "run.toml", f"""
        dataset = "mnist"
        data-dir = "{tiny_fmnist}"
        epochs = 1
        batch_size = 32          # underscores work too
        lr = 0.5                 # overridden on the command line
        no-progress = true
        no_plots = true
        conv-plan = "rules"      # the same algorithms on every run: identical weights
        seed = 3
        [model-args]
    """.replace("\n        ", "\n"))
    assert main(["train", "--config", str(config), "--out", str(root / "a"), "--lr", "0.03"]) == 0
    return root / "a"


def test_config_file_sets_options_and_the_command_line_overrides_them(config_run):
    saved = load_checkpoint(config_run / "last.safetensors").meta["config"]
    assert (saved["lr"], saved["batch_size"], saved["epochs"], saved["seed"],
            saved["plots"], saved["progress"]) == (0.03, 32, 1, 3, False, False)


def test_the_run_folder_gets_its_resolved_options_as_config_toml(config_run, tiny_fmnist):
    text = (config_run / "config.toml").read_text()
    options = tomllib.loads(text)
    assert options["lr"] == 0.03 and options["batch-size"] == 32 and options["epochs"] == 1
    assert options["out"] == str(config_run) and options["data-dir"] == str(tiny_fmnist)
    assert options["no-plots"] is True and options["conv-plan"] == "rules"
    assert not {"config", "resume", "overwrite"} & set(options)
    assert not list(config_run.glob(".*.tmp"))  # written atomically, nothing left behind


def test_config_toml_repeats_the_run_to_the_same_weights(config_run, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--config", str(config_run / "config.toml"), "--out", str(again)]) == 0
    first = load_checkpoint(config_run / "last.safetensors").model_state
    second = load_checkpoint(again / "last.safetensors").model_state
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("text,message", [
    ("lrr = 0.1", "unknown key 'lrr'"),
    ("epochs = \"two\"", "epochs must be an integer"),
    ("epochs = 2.5", "epochs must be an integer"),
    ("lr = true", "lr must be a number"),
    ("no-plots = 1", "no-plots must be true or false"),
    ("optimizer = \"rmsprop\"", "optimizer must be one of sgd"),
    ("resume = \"runs/x\"", "unknown key 'resume'"),
    ("epochs = ", "not valid TOML"),
])
def test_a_bad_config_file_is_a_one_line_error(text, message, tmp_path, capsys):
    config = write_toml(tmp_path / "bad.toml", text + "\n")
    with pytest.raises(SystemExit) as e:
        main(["train", "--config", str(config)])
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("striate train: error: --config ")
    assert message in lines[0]


def test_a_missing_config_file_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--config", str(tmp_path / "none.toml")])
    assert e.value.code == 2 and "none.toml" in capsys.readouterr().err


def test_config_text_round_trips_every_kind_of_value(tmp_path):
    import argparse

    from striate.commands.config_file import read_defaults, toml_text

    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--name")
    parser.add_argument("--count", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--flag", action="store_true")
    parser.add_argument("--no-thing", dest="thing", action="store_false")
    values = argparse.Namespace(name='a "quoted" \\ name\n\t\x7f é', count=-3,
                                rate=float("inf"), flag=True, thing=False)
    text = toml_text(parser, values, header="two\nlines")
    assert text.startswith("# two\n# lines\n")
    assert read_defaults(parser, write_toml(tmp_path / "x.toml", text)) == vars(values)


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_prints_precision_recall_f1_and_macro_averages(config_run, capsys):
    assert main(["evaluate", str(config_run)]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "recall" in out and "f1" in out and "macro avg" in out
    assert "per-class accuracy" in out and "confusion matrix" in out


def test_evaluate_json_is_one_object_consistent_with_the_confusion_matrix(config_run, capsys):
    assert main(["evaluate", str(config_run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)  # nothing else on stdout
    assert report["checkpoint"] == str(config_run) and report["split"] == "test"
    assert report["model"] == "lenet5" and report["dataset"] == "mnist"
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["images"] == 80
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    per_class = [report["per_class"][c] for c in report["classes"]]
    for k, row in enumerate(per_class):
        tp = matrix[k, k]
        assert row["support"] == matrix[k].sum()
        assert row["recall"] == pytest.approx(tp / matrix[k].sum() if matrix[k].sum() else 0)
        assert row["precision"] == pytest.approx(tp / matrix[:, k].sum()
                                                 if matrix[:, k].sum() else 0)
        p, r = row["precision"], row["recall"]
        assert row["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0)
    for name in ("precision", "recall", "f1"):
        assert report["macro_avg"][name] == pytest.approx(np.mean([r[name] for r in per_class]))


# --- predict -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_images(tiny_fmnist):
    from striate.data import get_dataset

    return get_dataset("mnist", "test", data_dir=tiny_fmnist).images


def test_predict_json_on_a_folder_warns_of_an_inverted_image(config_run, test_images,
                                                             tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(test_images[0, 0]).save(folder / "b_plain.png")
    Image.fromarray(255 - test_images[1, 0]).save(folder / "a_inverted.png")  # white background
    np.save(folder / "c_unit_range.npy", test_images[2, 0] / 255.0)  # 0..1 for 0..255
    (folder / "notes.txt").write_text("not an image")
    assert main(["predict", str(config_run), str(folder), "--json", "--top", "2"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["image"] for r in rows] == [str(folder / n) for n in
                                          ("a_inverted.png", "b_plain.png", "c_unit_range.npy")]
    assert all(len(r["top"]) == 2 and r["top"][0]["probability"] >= r["top"][1]["probability"]
               for r in rows)
    assert "inverted" in rows[0]["warning"] and rows[1]["warning"] is None
    assert "almost uniform" in rows[2]["warning"]
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("striate predict: warning: ")
                                      for w in warnings)
    assert "a_inverted.png" in warnings[0] and "c_unit_range.npy" in warnings[1]


@pytest.mark.parametrize("mode", ["channel", "pixel"])
def test_input_warnings_flag_every_inverted_test_image_and_no_plain_one(mode, tiny_fmnist,
                                                                       test_images):
    from striate.data import Normalizer, get_dataset
    from striate.data.input_check import input_warnings

    normalizer = Normalizer(mode=mode).fit(get_dataset("mnist", "train", data_dir=tiny_fmnist))
    images = test_images.astype(np.float32)
    assert input_warnings(images, normalizer) == [None] * len(images)
    assert all("inverted" in w for w in input_warnings(255 - images, normalizer))
    assert all("out of the training range" in w for w in input_warnings(images * 256,
                                                                          normalizer))


def test_no_inversion_check_for_a_set_as_light_as_dark():
    from striate.data import Normalizer
    from striate.data.input_check import input_warnings

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 3, 8, 8)).astype(np.float32)  # mean about mid-grey
    normalizer = Normalizer().fit(images.astype(np.uint8))
    assert input_warnings(255 - images, normalizer) == [None] * 64


# --- summary -----------------------------------------------------------------------------------


def test_summary_list_filters_by_glob_or_substring_with_sizes(capsys):
    from striate.models import list_models

    started = time.perf_counter()
    assert main(["summary", "--list"]) == 0
    seconds = time.perf_counter() - started
    every = capsys.readouterr().out.splitlines()
    assert len(every) == 1 + len(list_models()) and seconds < 10  # 0.1 s: no weight is drawn
    assert main(["summary", "--list", "resnet2*"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["resnet20", "269,722", "3x32x32"]]
    assert main(["summary", "--list", "enet5"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["lenet5", "61,706", "1x28x28"]


def test_summary_list_without_a_match_is_a_user_error(capsys):
    assert main(["summary", "--list", "nothing*"]) == 2
    assert "no model matches 'nothing*'" in capsys.readouterr().err


def test_skip_init_builds_the_same_shapes_without_drawing():
    from striate import models
    from striate.nn.utils import count_parameters, skip_init
    from striate.random import manual_seed

    manual_seed(0)
    model = skip_init(models.get_model, "resnet20")
    drawn_after_skip = models.get_model("resnet20")
    manual_seed(0)
    drawn = models.get_model("resnet20")
    assert count_parameters(model) == count_parameters(drawn) == 269_722
    assert [p.shape for p in model.parameters()] == [p.shape for p in drawn.parameters()]
    for a, b in zip(drawn_after_skip.parameters(), drawn.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)  # skipping consumed no random numbers


def test_summary_batch_size_prints_the_memory_of_the_activations(capsys):
    assert main(["summary", "lenet5", "--batch-size", "64"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("Activations kept for the backward pass at batch 64 (float32): ")
    assert main(["summary", "lenet5", "--batch-size", "0"]) == 2


def test_activation_estimate_is_what_a_batch_keeps():
    from striate.commands.summary import shape_only
    from striate.nn.summary import activation_bytes

    model = shape_only("lenet5")
    estimate = activation_bytes(model, (1, 28, 28), 16)
    measured = activation_bytes(model, (1, 28, 28), 16, probe_batch=16)
    assert estimate == pytest.approx(measured, rel=0.01)
    # at least each layer's output, in float32: what the layers must keep, give or take
    outputs = 16 * 4 * (6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 16 * 5 * 5 + 120 + 84)
    assert outputs < estimate < 4 * outputs
