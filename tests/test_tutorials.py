"""Every tutorial script under docs/tutorials/ runs, on small data, and does what its page says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from train.conftest import write_image_folder

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"tutorial_{name}", TUTORIALS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_script_is_tested_and_has_a_page():
    scripts = {p.stem for p in TUTORIALS.glob("*.py")}
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    assert scripts <= tested, f"tutorials without a test: {scripts - tested}"
    pages = "".join(p.read_text() for p in TUTORIALS.glob("*.md"))
    for script in scripts:
        assert f'--8<-- "docs/tutorials/{script}.py"' in pages, f"{script}.py has no page"


def test_train_fashion_mnist(tiny_fmnist):
    accuracy = load("train_fashion_mnist").main(data_dir=str(tiny_fmnist), epochs=3, batch_size=32,
                                                lr=0.01, dataset="mnist")
    assert accuracy > 0.5  # chance is 0.1: the classes are bars at different heights


def test_image_folder(tmp_path):
    write_image_folder(tmp_path / "photos", per_class=10, size=16)
    accuracy = load("image_folder").main(str(tmp_path / "photos"), image_size=16, epochs=4,
                                         batch_size=8)
    assert 0.0 <= accuracy <= 1.0


def test_new_layer():
    assert load("new_layer").main() < 1e-6


def test_pytorch_weights(tmp_path):
    pytest.importorskip("torch")
    assert load("pytorch_weights").main(path=str(tmp_path / "lenet5.safetensors")) < 1e-4


def test_onnx_export(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    assert load("onnx_export").main(path=str(tmp_path / "lenet5.onnx"), steps=2) < 1e-4


def test_deconvnet_filters(tiny_fmnist, tmp_path):
    result = load("deconvnet_filters").main(data_dir=str(tiny_fmnist), images=16, maps=4, epochs=1,
                                            out=str(tmp_path / "filters.png"),
                                            dataset="mnist")
    assert (tmp_path / "filters.png").stat().st_size > 0
    assert result["error"] < 1.0 and result["zeros"] > 0.0


def test_walkthrough(tiny_fmnist, tmp_path):
    """The command-line session of walkthrough.md, on the small data and one short epoch."""
    result = load("walkthrough").main(
        str(tmp_path / "walk"), data_dir=str(tiny_fmnist),
        train_options="--dataset mnist --epochs 2 --batch-size 32 --limit 160 --no-progress "
                      "--conv-plan rules")
    run = result["run"]
    assert (run / "config.toml").is_file() and (run / "index.html").is_file()
    assert "epochs = 2" in (run / "config.toml").read_text()  # the command line overrode run.toml
    evaluation = result["evaluate"]
    assert evaluation["dataset"] == "mnist" and 0.0 <= evaluation["accuracy"] <= 1.0
    assert len(evaluation["classes"]) == 10 and "macro_avg" in evaluation
    assert len(result["predict"]) == 4
    assert all(len(p["top"]) == 3 and p["top"][0]["class"] in evaluation["classes"]
               for p in result["predict"])
    assert (tmp_path / "walk" / "lenet5.safetensors").stat().st_size > 0
    page = (TUTORIALS / "walkthrough.md").read_text()
    assert load("walkthrough").RUN_TOML in page  # the page shows the run.toml the script writes
