"""ONNX export: every zoo model and every layer runs in onnxruntime as in striate, and loads
back into striate; the file passes the full checker, keeps its metadata and takes any batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx_zoo import example, exported, relative_error, zoo_names  # noqa: E402

import striate as st  # noqa: E402
from striate import nn  # noqa: E402
from striate.interop.onnx import ONNXExportError, export, load  # noqa: E402


def run_ort(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def run_striate(model, x: np.ndarray) -> np.ndarray:
    with st.no_grad():
        return model(st.tensor(x)).numpy()


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_model_runs_in_onnxruntime_and_loads_back(name):
    """Exported at batch 1, run at batch 3: onnxruntime within 1e-4 and the loaded model
    within 1e-5 of striate (relative to the output's scale beyond 1)."""
    model, path = exported(name)
    x = example(name, 3, 1)
    want = run_striate(model, x)
    ort_error = relative_error(run_ort(path, x), want)
    loaded = load(path).eval()
    load_error = relative_error(run_striate(loaded, x), want)
    print(f"{name}: onnxruntime {ort_error:.1e}, load {load_error:.1e}")
    assert ort_error < 1e-4
    assert load_error < 1e-5
    path.unlink()


def _layer_cases():
    g = np.random.default_rng(0)
    conv = dict(generator=g)
    return [
        ("conv", nn.Conv2d(4, 6, 3, stride=2, padding=1, **conv), (4, 9, 9)),
        ("conv_groups_dilation", nn.Conv2d(4, 8, (3, 2), padding=(2, 1), dilation=2, groups=2,
                                           bias=False, **conv), (4, 9, 8)),
        ("conv_same", nn.Conv2d(3, 5, 4, padding="same", **conv), (3, 7, 7)),
        ("conv_transpose", nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                              **conv), (4, 5, 5)),
        ("conv_transpose_groups", nn.ConvTranspose2d(4, 6, 3, groups=2, dilation=2, **conv),
         (4, 5, 5)),
        ("linear", nn.Linear(12, 5, **conv), (12,)),
        ("linear_3d", nn.Linear(6, 5, **conv), (4, 6)),
        ("batch_norm1d", _trained_bn(nn.BatchNorm1d(6)), (6,)),
        ("batch_norm2d", _trained_bn(nn.BatchNorm2d(4)), (4, 5, 5)),
        ("batch_norm_no_stats", nn.BatchNorm2d(4, track_running_stats=False), (4, 5, 5)),
        ("relu", nn.ReLU(), (4, 5, 5)),
        ("leaky_relu", nn.LeakyReLU(0.2), (4, 5, 5)),
        ("elu", nn.ELU(0.7), (4, 5, 5)),
        ("tanh", nn.Tanh(), (4, 5, 5)),
        ("sigmoid", nn.Sigmoid(), (4, 5, 5)),
        ("softplus", nn.Softplus(beta=2.0, threshold=1.0), (4, 5, 5)),
        ("smooth_abs", nn.SmoothAbs(k=3.0), (4, 5, 5)),
        ("rectify", nn.Rectify(), (4, 5, 5)),
        ("gain", _gain(), (4, 5, 5)),
        ("softmax", nn.Softmax(dim=1), (7,)),
        ("log_softmax", nn.LogSoftmax(dim=1), (7,)),
        ("max_pool", nn.MaxPool2d(3, stride=2, padding=1), (3, 9, 9)),
        ("max_pool_ceil_dilation", nn.MaxPool2d(2, stride=2, dilation=2, ceil_mode=True),
         (3, 9, 8)),
        ("avg_pool", nn.AvgPool2d(3, stride=2, padding=1), (3, 9, 9)),
        ("avg_pool_exclude_pad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
         (3, 9, 9)),
        ("avg_pool_ceil", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (3, 8, 8)),
        ("avg_pool_divisor", nn.AvgPool2d(2, divisor_override=3), (3, 8, 8)),
        ("lp_pool", nn.LPPool2d(2, 3, stride=2), (3, 9, 9)),
        ("lp_pool_ceil", nn.LPPool2d(2, 2, stride=2, ceil_mode=True), (3, 9, 9)),
        ("lp_pool_inf", nn.LPPool2d(float("inf"), 2), (3, 8, 8)),
        ("gaussian_pool", nn.GaussianPool2d(3, stride=2, padding=1), (3, 9, 9)),
        ("adaptive_avg_pool", nn.AdaptiveAvgPool2d((3, 4)), (3, 7, 9)),
        ("adaptive_avg_pool_tiles", nn.AdaptiveAvgPool2d(2), (3, 8, 8)),
        ("global_avg_pool", nn.AdaptiveAvgPool2d(1), (3, 5, 5)),
        ("adaptive_max_pool", nn.AdaptiveMaxPool2d((3, 4)), (3, 7, 9)),
        ("adaptive_max_pool_tiles", nn.AdaptiveMaxPool2d(2), (3, 8, 8)),
        ("local_response_norm", nn.LocalResponseNorm(5, alpha=1e-2, k=2.0), (7, 4, 4)),
        ("local_response_norm_even", nn.LocalResponseNorm(4, alpha=1e-2), (7, 4, 4)),
        ("brightness_norm", nn.BrightnessNorm(lam=1e-2), (7, 4, 4)),
        ("brightness_norm_all", nn.BrightnessNorm(lam=1e-2, size=None), (7, 4, 4)),
        ("local_contrast_norm", nn.LocalContrastNorm(5), (3, 9, 9)),
        ("subtractive_norm", nn.SubtractiveNorm2d(5), (3, 9, 9)),
        ("locally_connected", nn.LocallyConnected2d(3, 4, 7, 3, stride=2, padding=1,
                                                    generator=g), (3, 7, 7)),
        ("dropout", nn.Dropout(0.5), (4, 5, 5)),
        *([("dropout2d", nn.Dropout2d(0.5), (4, 5, 5))] if hasattr(nn, "Dropout2d") else []),
        ("flatten", nn.Flatten(), (4, 5, 5)),
        ("identity", nn.Identity(), (4, 5, 5)),
        ("sequential", nn.Sequential(nn.Conv2d(3, 4, 3, **conv), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(4 * 3 * 3, 2, **conv)), (3, 5, 5)),
    ]


def _trained_bn(bn):
    g = np.random.default_rng(1)
    bn.running_mean[...] = g.standard_normal(bn.num_features)
    bn.running_var[...] = g.uniform(0.5, 2.0, bn.num_features)
    bn.weight.data[...] = g.standard_normal(bn.num_features)
    bn.bias.data[...] = g.standard_normal(bn.num_features)
    return bn


def _gain():
    layer = nn.Gain(4)
    layer.weight.data[...] = np.arange(1, 5)
    return layer


LAYERS = _layer_cases()


def test_every_layer_class_has_a_case():
    """Each layer class of striate.nn (losses aside) is exported alone below."""
    covered = {type(layer) for _, layer, _ in LAYERS}
    layers = {c for c in vars(nn).values() if isinstance(c, type) and issubclass(c, nn.Module)
              and c not in (nn.Module, nn.ModuleList, nn.ModuleDict)
              and not c.__name__.endswith("Loss")}
    assert layers - covered == set()


@pytest.mark.parametrize("name,layer,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_alone_agrees(tmp_path, name, layer, shape):
    layer.eval()
    rng = np.random.default_rng(2)
    path = export(layer, rng.standard_normal((2, *shape)).astype(np.float32),
                  tmp_path / "layer.onnx")
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    want = run_striate(layer, x)  # NaN where Lᵖ pooling takes a root of a negative sum
    np.testing.assert_allclose(run_ort(path, x), want, rtol=0,
                               atol=1e-4 * max(1.0, np.nanmax(np.abs(want))))


def test_file_passes_the_full_checker_with_metadata(tmp_path):
    model = st.models.lenet5(num_classes=3).eval()
    mean, std = np.array([0.5]), np.array([0.25])
    path = export(model, np.zeros((1, 1, 28, 28), np.float32), tmp_path / "m.onnx",
                  normalization=(mean, std), class_names=["a", "b", "c"])
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["class_names"]) == ["a", "b", "c"]
    assert json.loads(props["normalization"]) == {"mean": [0.5], "std": [0.25]}
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {i.name for i in proto.graph.initializer} >= {"conv1.weight", "fc3.bias"}
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    want = run_striate(model, (x - 0.5) / 0.25)
    assert np.abs(run_ort(path, x) - want).max() < 1e-5


def test_static_batch_and_fused_model(tmp_path):
    """dynamic_batch=False fixes the batch; a fused model exports as it computes, and stays
    fused and in training mode afterwards."""
    model = st.models.resnet20(num_classes=4)
    st.nn.utils.fuse(model)
    x = example("resnet20", 2, 3)
    path = export(model, x, tmp_path / "r.onnx", dynamic_batch=False)
    assert model.training and st.nn.utils.is_fused(model)
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert np.abs(run_ort(path, x) - run_striate(model.eval(), x)).max() < 1e-4


def test_masked_weights_fold_into_one_initializer(tmp_path):
    """Jarrett's random connection tables: W ⊙ table is computed once, not in the graph."""
    model = st.models.jarrett(connections="random", activation="tanh", gain=True).eval()
    x = example("jarrett", 1, 4)
    proto = onnx.load(str(export(model, x, tmp_path / "j.onnx")))
    names = {i.name for i in proto.graph.initializer}
    assert "features.conv2.weight.mul" in names and "features.conv2.weight" not in names


def test_an_op_without_onnx_form_is_named(tmp_path):
    class Loss(nn.Module):
        def forward(self, x):
            return st.nn.functional.mse_loss(x, st.zeros(x.shape))

    with pytest.raises(ONNXExportError, match="mse"):
        export(Loss(), np.zeros((1, 3), np.float32), tmp_path / "l.onnx")
    assert not (tmp_path / "l.onnx").exists()


def test_bad_arguments(tmp_path):
    model = nn.ReLU()
    with pytest.raises(ValueError, match="opset"):
        export(model, np.zeros((1, 2), np.float32), tmp_path / "m.onnx", opset=9)
    with pytest.raises(ValueError, match="floating-point"):
        export(model, np.zeros((1, 2), np.int64), tmp_path / "m.onnx")


def test_import_striate_does_not_import_onnx():
    import subprocess
    import sys

    code = "import sys, striate; import striate.interop.onnx; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
