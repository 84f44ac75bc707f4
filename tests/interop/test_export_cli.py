"""``striate export``: the trained model's plain state_dict as safetensors and .pt (which the
PyTorch twin loads and runs alike), ONNX through striate.interop.onnx, and user errors that
print one line and exit 2 without writing anything."""

import json
import os
import sys

import numpy as np
import pytest

import striate as st
from striate.cli import main
from striate.interop.safetensors import load_file
from striate.nn.utils import is_fused, unfuse
from striate.train.checkpoint import load_checkpoint
from striate.train.restore import model_from_checkpoint


@pytest.fixture(scope="module")
def trained(run_dir):
    """The run's checkpoint and its model, plain (unfused), in evaluation mode."""
    checkpoint = load_checkpoint(run_dir)
    return checkpoint, unfuse(model_from_checkpoint(checkpoint))


def export(capsys, *argv):
    code = main(["export", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_safetensors_holds_the_plain_state_dict_and_what_it_takes_to_use_it(
        run_dir, trained, tmp_path, capsys):
    checkpoint, model = trained
    out = tmp_path / "deep" / "folder" / "lenet.safetensors"  # the folder is created
    code, stdout, _ = export(capsys, run_dir, "--out", out)
    assert code == 0 and str(out) in stdout
    arrays, metadata = load_file(out)
    state = model.state_dict()
    assert list(arrays) == list(state)  # PyTorch's keys: no "model." prefix, no optimiser
    for k, v in state.items():
        assert arrays[k].dtype == v.dtype
        np.testing.assert_array_equal(arrays[k], v)
    meta = checkpoint.meta
    assert metadata["model"] == "lenet5"
    assert json.loads(metadata["model_args"]) == {"num_classes": 10, "in_channels": 1,
                                                  "input_size": 28}
    assert json.loads(metadata["classes"]) == meta["classes"]
    normalization = json.loads(metadata["normalization"])
    assert normalization["mean"] == meta["normalizer"]["mean"]
    assert normalization["std"] == meta["normalizer"]["std"]  # above min_std: as fitted
    assert normalization["scale"] == meta["normalizer"]["scale"]
    loaded = st.load(out)
    assert all(isinstance(v, st.Tensor) for v in loaded.values()) and list(loaded) == list(state)
    assert not os.path.exists(tmp_path / "deep" / "folder" / ".lenet.safetensors.tmp")
    assert os.listdir(out.parent) == ["lenet.safetensors"]


def test_pt_loads_into_the_pytorch_twin_and_computes_the_same(run_dir, trained, tmp_path,
                                                              capsys):
    torch = pytest.importorskip("torch")
    from striate.bench.torch_twins import build

    _, model = trained
    out = tmp_path / "lenet.pt"
    assert export(capsys, run_dir / "last.safetensors", "--format", "pt", "--out", out)[0] == 0
    state = torch.load(out, weights_only=True)
    assert list(state) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(state[k].numpy(), v)
    twin = build("lenet5")
    twin.load_state_dict(state, strict=True, assign=True)
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    assert not is_fused(model)
    with st.no_grad():
        ours = model(st.tensor(x)).data
    theirs = twin.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_onnx_runs_the_model_with_its_normalisation(run_dir, trained, tmp_path, capsys):
    pytest.importorskip("striate.interop.onnx")
    onnx = pytest.importorskip("onnx")
    checkpoint, model = trained
    out = tmp_path / "lenet.onnx"
    code, _, err = export(capsys, run_dir, "--out", out)
    assert code == 0, err
    onnx.checker.check_model(onnx.load(out))
    ort = pytest.importorskip("onnxruntime")
    pixels = np.random.default_rng(0).integers(0, 256, (2, 1, 28, 28)).astype(np.float32)
    norm = checkpoint.meta["normalizer"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {session.get_inputs()[0].name: pixels * norm["scale"]})
    normalised = st.data.Normalizer.from_state_dict(norm)(pixels)
    with st.no_grad():
        ours = model(st.tensor(normalised)).data
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-4)


def test_an_existing_export_is_replaced_whole(run_dir, tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"an older export")
    assert export(capsys, run_dir, "--out", out)[0] == 0
    assert load_file(out)[1]["model"] == "lenet5"


def test_a_failed_write_leaves_no_partial_file(run_dir, tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    out = tmp_path / "w.pt"
    out.write_bytes(b"before")

    def half_then_fail(obj, f):
        f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", half_then_fail)
    code, _, err = export(capsys, run_dir, "--out", out)
    assert code == 2 and "No space left on device" in err
    assert out.read_bytes() == b"before" and os.listdir(tmp_path) == ["w.pt"]


def one_line_error(capsys, argv, message):
    code, _, err = export(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("striate export: error: "), err
    assert message in err, err


@pytest.mark.parametrize("argv,message", [
    (["{run}", "--out", "{tmp}/w.bin"], "cannot tell the format from its suffix"),
    (["{run}", "--format", "pt", "--out", "{tmp}/w.safetensors"], "should end in .pt or .pth"),
    (["{run}", "--format", "onnx", "--out", "{tmp}/w.pt"], "should end in .onnx"),
    (["{tmp}/missing", "--out", "{tmp}/w.pt"], "no such checkpoint file or run folder"),
    (["{garbage}", "--out", "{tmp}/w.pt"], "cannot read checkpoint"),
    (["{run}", "--out", "{run}/best.safetensors"], "would overwrite the run's checkpoint"),
    (["{run}/last.safetensors", "--out", "{run}/best.safetensors"], "would overwrite"),
    (["{run}", "--format", "safetensors", "--out", "{tmp}"], "is a folder"),
])
def test_user_errors_exit_2_with_one_line(run_dir, tmp_path, capsys, argv, message):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    before = {p.name: p.read_bytes() for p in run_dir.glob("*.safetensors")}
    one_line_error(capsys, [a.format(run=run_dir, tmp=tmp_path, garbage=garbage) for a in argv],
                   message)
    assert {p.name: p.read_bytes() for p in run_dir.glob("*.safetensors")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.safetensors"]


@pytest.mark.parametrize("module,fmt,message", [
    ("onnx", "onnx", "ONNX export needs the onnx package: pip install 'striate[onnx]'"),
    ("torch", "pt", "pt export needs torch: pip install torch"),
])
def test_a_missing_package_says_what_to_install(run_dir, tmp_path, capsys, monkeypatch, module,
                                                fmt, message):
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as if not installed
    one_line_error(capsys, [run_dir, "--out", tmp_path / f"w.{fmt}"], message)
    assert not os.listdir(tmp_path)
