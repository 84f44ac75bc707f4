"""``striate deconvnet`` end to end on a tiny MNIST-format dataset (two tiny layers, one epoch);
bad options, folders and files print one line and exit 2; Ctrl-C keeps the last checkpoint."""

import csv

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from striate.cli import main  # noqa: E402
from striate.deconvnet import DeconvLayer  # noqa: E402
from striate.deconvnet.checkpoint import FILE_NAME, load_deconvnet  # noqa: E402
from train import conftest as train_fixtures  # noqa: E402
from viz.viz_png import assert_png  # noqa: E402

tiny_fmnist = train_fixtures.tiny_fmnist  # 320 training and 80 test images, 28 x 28
PICTURES = ("filters_layer1.png", "filters_layer2.png", "reconstructions.png", "cost.png")


def train_args(data_dir, out, *extra) -> list[str]:
    return ["deconvnet", "train", "--dataset", "mnist", "--data-dir", str(data_dir),
            "--layers", "2", "--maps", "2,3", "--kernel-size", "3", "--epochs", "1",
            "--limit", "8", "--batch-size", "4", "--out", str(out), "--no-progress", *extra]


@pytest.fixture(scope="module")
def run_dir(tiny_fmnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("deconvnet") / "run"
    assert main(train_args(tiny_fmnist, out)) == 0
    return out


def test_train_writes_the_checkpoint_costs_and_pictures(run_dir):
    checkpoint = load_deconvnet(run_dir)
    meta = checkpoint.meta
    assert meta["epochs_done"] == [1, 1] and meta["image_shape"] == [1, 28, 28]
    assert [len(c) for c in meta["costs"]] == [2, 2]  # 8 images in batches of 4, per layer
    assert [layer.num_maps for layer in checkpoint.net.layers] == [2, 3]
    with open(run_dir / "cost.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["layer"], r["iteration"]) for r in rows] == [("1", "1"), ("1", "2"),
                                                            ("2", "1"), ("2", "2")]
    assert float(rows[0]["cost"]) == pytest.approx(meta["costs"][0][0], rel=1e-8)
    for name in PICTURES:
        assert_png(run_dir / name, min_px=40)


def test_infer_prints_each_layer_and_saves_the_maps(run_dir, tiny_fmnist, tmp_path, capsys):
    from PIL import Image

    from striate.data import get_dataset

    image = get_dataset("mnist", "test", data_dir=tiny_fmnist).images[0, 0]
    np.save(tmp_path / "a.npy", image)
    Image.fromarray(image).save(tmp_path / "b.png")
    assert main(["deconvnet", "infer", str(run_dir), str(tmp_path / "a.npy"),
                 str(tmp_path / "b.png"), "--out", str(tmp_path / "maps.npz")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("wrote")
    assert lines[0].split(": ", 1)[1] == lines[1].split(": ", 1)[1]  # same pixels, same figures
    assert "layer 1 cost" in lines[0] and "layer 2 cost" in lines[0] and "non-zero" in lines[0]
    maps = np.load(tmp_path / "maps.npz")
    assert maps["layer1"].shape == (2, 2, 30, 30) and maps["layer2"].shape[:2] == (2, 3)
    assert main(["deconvnet", "infer", str(run_dir / FILE_NAME), str(tmp_path / "a.npy"),
                 "--out", str(tmp_path / "last.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "last.npy"), maps["layer2"][:1], atol=1e-10)


def test_local_normalization_is_recorded_and_used_by_infer(tiny_fmnist, tmp_path, capsys):
    from striate.commands.deconvnet import normalization, normalize

    out = tmp_path / "local"
    assert main(train_args(tiny_fmnist, out, "--layers", "1", "--maps", "2",
                           "--normalize", "local")) == 0
    meta = load_deconvnet(out).meta
    assert meta["normalization"] == normalization("local") and meta["normalization"]["window"] == 9
    pixels = np.zeros((2, 1, 28, 28))
    pixels[0, 0, 4:20, 4:20] = 200.0  # a flat square: only its border should survive
    pixels[1] = np.random.default_rng(0).integers(0, 256, (1, 28, 28))
    x = normalize(pixels, meta["normalization"])
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, rtol=1e-12)
    inside, edge = abs(x[0, 0, 12, 12]), abs(x[0, 0, 4, 12])
    assert edge > 5 * inside  # flat interior near the background level, the edge strong
    np.save(tmp_path / "a.npy", pixels[1, 0])
    assert main(["deconvnet", "infer", str(out), str(tmp_path / "a.npy")]) == 0
    assert "layer 1 cost" in capsys.readouterr().out


def test_show_draws_into_another_folder(run_dir, tmp_path):
    assert main(["deconvnet", "show", str(run_dir), "--out", str(tmp_path / "pics")]) == 0
    for name in PICTURES:
        assert_png(tmp_path / "pics" / name, min_px=40)


def test_ctrl_c_keeps_the_last_checkpoint(tiny_fmnist, tmp_path, monkeypatch):
    fit = DeconvLayer.fit

    def stop_on_layer_2(self, *args, **kwargs):
        if self.in_channels == 2:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(DeconvLayer, "fit", stop_on_layer_2)
    assert main(train_args(tiny_fmnist, tmp_path / "run")) == 130
    assert load_deconvnet(tmp_path / "run").meta["epochs_done"] == [1, 0]


@pytest.mark.parametrize("argv,message", [
    (["train", "--maps", "9"], "--maps must give 2 positive number(s)"),
    (["train", "--maps", "9,x"], "--maps must be comma-separated integers"),
    (["train", "--p", "2"], "--p must be in (0, 1]"),
    (["train", "--epochs", "0"], "--epochs must be a positive number"),
    (["train", "--dataset", "mnist", "--data-dir", "{empty}"], "MNIST (train split) not found"),
    (["train", "--out", "{run}"], "holds a deconvnet already"),
    (["infer", "{missing}", "x.png"], "no such deconvnet checkpoint"),
    (["infer", "{garbage}", "x.png"], "cannot read checkpoint"),
    (["infer", "{run}", "{missing}"], "no such image file"),
    (["infer", "{run}", "x.png", "--out", "maps.txt"], "--out must end in .npy or .npz"),
    (["show", "{empty}"], "run folder has no deconvnet.safetensors"),
])
def test_user_errors_print_one_line_and_exit_2(argv, message, run_dir, tmp_path, monkeypatch,
                                               capsys):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("STRIATE_DATA", str(tmp_path / "empty"))
    args = [a.format(empty=tmp_path / "empty", missing=tmp_path / "missing", garbage=garbage,
                     run=run_dir) for a in argv]
    assert main(["deconvnet", *args]) == 2
    first, *hints = capsys.readouterr().err.strip().splitlines()
    assert first.startswith("striate deconvnet: error: ") and message in first, first
    assert not hints or "To get it:" in hints  # a missing dataset says how to get it


def test_evaluate_names_a_deconvnet_checkpoint_for_what_it_is(run_dir, capsys):
    assert main(["evaluate", str(run_dir / FILE_NAME)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Deconvolutional Network" in err[0] and "deconvnet infer" in err[0]
