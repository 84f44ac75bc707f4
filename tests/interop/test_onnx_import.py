"""ONNX import: files written by PyTorch's exporter and by striate's run in striate as they do
where they were made; the model trains; bad files and operators striate lacks are named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import striate as st  # noqa: E402
from striate import nn  # noqa: E402
from striate.interop.onnx import ONNXImportError, ONNXModel, export, load  # noqa: E402


def run(model, x: np.ndarray) -> np.ndarray:
    with st.no_grad():
        return model(st.tensor(x)).numpy()


TORCH_CASES = [("lenet5", {}, (1, 28)), ("resnet20", {}, (3, 32)),
               ("googlenet", {"num_classes": 10}, (3, 32)),
               ("densenet_bc", {"depth": 10, "growth_rate": 4}, (3, 16))]


@pytest.mark.parametrize("name,kwargs,image", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_pytorch_export_of_a_twin_imports_and_agrees(tmp_path, name, kwargs, image):
    torch = pytest.importorskip("torch")
    from striate.bench.torch_twins import twin

    model = st.models.get_model(name, **kwargs).eval()
    reference = twin(name, model, **kwargs).eval()
    channels, size = image
    x = np.random.default_rng(0).standard_normal((2, channels, size, size)).astype(np.float32)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(reference, torch.from_numpy(x), str(path), dynamo=False,
                          opset_version=17, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    loaded = load(path).eval()
    x = np.random.default_rng(1).standard_normal((3, channels, size, size)).astype(np.float32)
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    assert np.abs(run(loaded, x) - want).max() < 1e-5 * max(1.0, np.abs(want).max())


def test_loaded_model_keeps_keys_and_trains(tmp_path):
    """Initializers are Parameters under the exporting model's state_dict keys; gradients
    reach them, and a step of SGD changes the output."""
    model = st.models.resnet20(num_classes=4).eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    loaded = load(export(model, x[:1], tmp_path / "r.onnx"))
    assert isinstance(loaded, ONNXModel)
    keys = set(model.state_dict()) - {k for k in model.state_dict()
                                        if k.endswith("num_batches_tracked")}
    assert set(loaded.state_dict()) == keys
    assert all(isinstance(p, nn.Parameter) for p in loaded.parameters())
    loaded.load_state_dict(model.state_dict(), strict=False)
    loaded.train()
    loss = st.nn.functional.cross_entropy(loaded(st.tensor(x)), st.tensor(np.array([0, 3])))
    loss.backward()
    assert np.abs(loaded.conv1.weight.grad).sum() > 0
    before = run(loaded.eval(), x)
    st.optim.SGD(loaded.parameters(), lr=0.1).step()
    assert np.abs(run(loaded, x) - before).max() > 0


@pytest.mark.parametrize("name,layer,shape", [
    ("conv_transpose", nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
     (3, 5, 5)),
    ("lrn", nn.LocalResponseNorm(3, alpha=1e-2), (6, 4, 4)),
    ("lrn_even", nn.LocalResponseNorm(4, alpha=1e-2), (6, 4, 4)),
    ("avg_pool_ceil", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (3, 8, 8)),
    ("max_pool_ceil", nn.MaxPool2d(3, stride=2, ceil_mode=True), (3, 8, 8)),
    ("smooth_abs", nn.SmoothAbs(2.0), (3, 4, 4)),
    ("softplus", nn.Softplus(2.0, 1.0), (3, 4, 4)),
    ("local_contrast_norm", nn.LocalContrastNorm(5), (3, 9, 9)),
    ("adaptive_max_pool", nn.AdaptiveMaxPool2d((3, 2)), (3, 7, 5)),
    ("leaky_elu", nn.Sequential(nn.LeakyReLU(0.1), nn.ELU(), nn.Tanh(), nn.Sigmoid()),
     (3, 4, 4)),
])
def test_exported_layer_loads_back(tmp_path, name, layer, shape):
    layer.eval()
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    loaded = load(export(layer, x, tmp_path / "l.onnx")).eval()
    want = run(layer, x)
    assert np.abs(run(loaded, x) - want).max() < 1e-5 * max(1.0, np.abs(want).max())


def _save(tmp_path, nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _weight(shape, name="w"):
    array = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    return numpy_helper.from_array(array, name), array


def test_auto_pad_same_upper_and_uneven_pads(tmp_path):
    torch = pytest.importorskip("torch")
    w, array = _weight((4, 3, 2, 3))
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2]),
             helper.make_node("MaxPool", ["y"], ["z"], kernel_shape=[2, 2], pads=[0, 0, 1, 1],
                              strides=[2, 2])]
    path = _save(tmp_path, nodes, [_info("x", [1, 3, 7, 8])], [_info("z", [1, 4, 2, 2])], [w])
    x = np.random.default_rng(5).standard_normal((1, 3, 7, 8)).astype(np.float32)
    t = torch.nn.functional.pad(torch.from_numpy(x), (0, 1, 0, 1))  # SAME: total 1 on each
    y = torch.nn.functional.conv2d(t, torch.from_numpy(array), stride=2)
    want = torch.nn.functional.max_pool2d(torch.nn.functional.pad(y, (0, 1, 0, 1),
                                                                  value=-float("inf")), 2)
    assert np.abs(run(load(path), x) - want.numpy()).max() < 1e-5


def test_malformed_file_is_named(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07 this is not a protobuf message \xff\xff")
    with pytest.raises(ONNXImportError, match="broken.onnx: not a valid ONNX model"):
        load(path)
    with pytest.raises(ONNXImportError, match="no such file"):
        load(tmp_path / "missing.onnx")


def test_unsupported_operator_names_the_node(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="first"),
             helper.make_node("HardSwish", ["r"], ["y"], name="the_hardswish")]
    path = _save(tmp_path, nodes, [_info("x", [1, 3])], [_info("y", [1, 3])])
    with pytest.raises(ONNXImportError, match="m.onnx: unsupported operator HardSwish node "
                                              "'the_hardswish'"):
        load(path)


def test_unsupported_attribute_names_the_node(tmp_path):
    nodes = [helper.make_node("Pad", ["x", "p"], ["y"], name="reflect", mode="reflect")]
    pads = numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "p")
    path = _save(tmp_path, nodes, [_info("x", [1, 3])], [_info("y", [1, 5])], [pads])
    with pytest.raises(ONNXImportError, match="Pad node 'reflect': attribute mode='reflect'"):
        load(path)
    assert issubclass(ONNXImportError, ValueError)


def test_predict_takes_an_onnx_file(tmp_path, capsys):
    from striate.cli import main

    model = st.models.lenet5(num_classes=2).eval()
    path = export(model, np.zeros((1, 1, 28, 28), np.float32), tmp_path / "m.onnx",
                  normalization=(np.array([0.5]), np.array([0.25])), class_names=["a", "b"])
    image = np.random.default_rng(6).integers(0, 256, (28, 28)).astype(np.uint8)
    np.save(tmp_path / "x.npy", image)
    assert main(["predict", str(path), str(tmp_path / "x.npy"), "--top", "1"]) == 0
    probs = st.nn.functional.softmax(model(st.tensor((image[None, None] / 255 - 0.5) / 0.25,
                                                     dtype=np.float32)), dim=1).numpy()[0]
    assert capsys.readouterr().out.strip().endswith(f"{'ab'[probs.argmax()]} {probs.max():.3f}")
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    assert main(["predict", str(tmp_path / "bad.onnx"), str(tmp_path / "x.npy")]) == 2
    assert "bad.onnx" in capsys.readouterr().err
