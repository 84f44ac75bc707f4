"""Each sub-command end to end on the tiny dataset; user errors print one line and exit 2."""

import subprocess
import sys

import numpy as np
import pytest

from striate.cli import main


@pytest.fixture(scope="module")
def run_dir(tiny_fmnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "2",
                 "--batch-size", "32", "--out", str(out), "--no-progress", "--seed", "1"])
    assert code == 0
    return out


def test_train_writes_checkpoints_plots_and_report(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"best.safetensors", "last.safetensors", "index.html", "curves.png",
            "confusion.png", "filters.png", "feature_maps.png"} <= names
    assert "curves.png" in (run_dir / "index.html").read_text()


def test_evaluate_prints_accuracy_per_class_and_confusion(run_dir, tiny_fmnist, capsys):
    assert main(["evaluate", str(run_dir), "--data-dir", str(tiny_fmnist)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "per-class accuracy" in out and "confusion matrix" in out


def test_predict_reads_npy_and_png(run_dir, tiny_fmnist, tmp_path, capsys):
    from PIL import Image

    from striate.data import get_dataset

    image = get_dataset("mnist", "test", data_dir=tiny_fmnist).images[0, 0]
    np.save(tmp_path / "a.npy", image)
    Image.fromarray(image).save(tmp_path / "b.png")
    assert main(["predict", str(run_dir / "best.safetensors"), str(tmp_path / "a.npy"),
                 str(tmp_path / "b.png"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].split(": ")[1] == lines[1].split(": ")[1]


@pytest.mark.parametrize("model,count", [("lenet5", "61,706"), ("resnet20", "269,722")])
def test_summary_prints_the_table_and_totals(model, count, capsys):
    assert main(["summary", model]) == 0
    out = capsys.readouterr().out
    assert f"Total params: {count}" in out and "FLOPs" in out


def test_summary_lists_models(capsys):
    assert main(["summary", "--list"]) == 0
    assert "resnet20" in capsys.readouterr().out.split()


def test_gradcheck_one_op(capsys):
    assert main(["gradcheck", "--op", "conv2d"]) == 0
    assert "conv2d" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["train", "--model", "nope"], "unknown model"),
    (["train", "--dataset", "mnist", "--data-dir", "{empty}"], "MNIST (train split) not found"),
    (["train", "--epochs", "0"], "--epochs must be at least 1"),
    (["evaluate", "{missing}"], "no such checkpoint"),
    (["evaluate", "{garbage}"], "cannot read checkpoint"),
    (["predict", "{garbage}", "x.png"], "cannot read checkpoint"),
    (["summary", "nope"], "unknown model"),
    (["gradcheck", "--op", "nope"], "unknown op"),
])
def test_user_errors_print_one_line_and_exit_2(argv, message, tmp_path, monkeypatch):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("STRIATE_DATA", str(tmp_path / "empty"))
    args = [a.format(empty=tmp_path / "empty", missing=tmp_path / "missing", garbage=garbage)
            for a in argv]
    proc = subprocess.run([sys.executable, "-m", "striate.cli", *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    first, *hints = proc.stderr.strip().splitlines()
    assert first.startswith(f"striate {argv[0]}: error: ") and message in first
    # a missing dataset adds where it looked and how to get it; everything else is one line
    assert not hints or "To get it:" in hints, proc.stderr


def test_bad_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--optimizer", "rmsprop"])
    assert e.value.code == 2


def _option_helps(parser, path=("striate",)):
    """(command path, option, help as printed, takes a value, required) for every option of
    every sub-command, walking the sub-parsers."""
    import argparse

    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _option_helps(sub, (*path, name))
        elif action.option_strings and not isinstance(
                action, (argparse._HelpAction, argparse._VersionAction)):
            text = formatter._expand_help(action) if action.help else ""
            yield " ".join(path), action.option_strings[-1], text, action.nargs != 0, \
                action.required


def test_every_option_has_help_and_shows_its_default_once():
    from striate.cli import build_parser

    rows = list(_option_helps(build_parser()))
    assert {"striate train", "striate evaluate", "striate deconvnet train"} <= {r[0] for r in rows}
    problems = []
    for command, option, text, takes_value, required in rows:
        defaults = text.lower().count("default")
        if not text:
            problems.append(f"{command} {option}: no help")
        elif defaults > 1:
            problems.append(f"{command} {option}: the default twice: {text!r}")
        elif takes_value and not required and defaults == 0:
            problems.append(f"{command} {option}: no default shown: {text!r}")
    assert not problems, "\n".join(problems)


def test_help_shows_the_new_training_options_and_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"striate {version('striate')}\n"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for piece in ("--clip-grad-norm MAX", "--accumulate N", "--label-smoothing EPS",
                  "plateau", "(default: 128)", "(default: sgd)", "(default: 10;"):
        assert piece in text, piece
    assert "(default: None)" not in text and "(default: False)" not in text


def test_train_with_the_step_options_on_the_command_line(tiny_fmnist, tmp_path):
    from striate.train.checkpoint import load_checkpoint

    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tiny_fmnist), "--epochs", "2",
                 "--out", str(out), "--no-progress", "--no-plots", "--accumulate", "3",
                 "--clip-grad-norm", "2", "--schedule", "plateau", "--label-smoothing",
                 "0.05"]) == 0
    config = load_checkpoint(out / "last.safetensors").meta["config"]
    assert (config["accumulate"], config["clip_grad_norm"], config["schedule"],
            config["label_smoothing"]) == (3, 2.0, "plateau", 0.05)


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    """`striate evaluate ... | head`: the reader leaves early; no traceback, no error line, the
    shell's status for SIGPIPE."""
    import signal

    import striate.commands.summary as summary

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(summary, "run", broken)
    assert main(["summary", "lenet5"]) == 128 + signal.SIGPIPE
    assert capsys.readouterr().err == ""
