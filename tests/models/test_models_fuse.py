"""Fusion: folding evaluation-mode BN into the preceding conv (``fuse_conv_bn``) and running
conv → BN → (+ shortcut) → ReLU chains as single ops (``fuse``) keep the model's function."""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
from helpers import assert_close
from striate import nn
from striate.models import get_model
from striate.nn import fusion
from striate.nn.utils import count_parameters, fuse, fuse_conv_bn, is_fused, unfuse


def _bns(model):
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _randomise_bn(model, seed=0):
    """Non-trivial γ, β and running statistics, so folding has something to fold."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, c)
            m.bias.data[...] = rng.normal(0, 0.2, c)
            m.running_mean[...] = rng.normal(0, 0.2, c)
            m.running_var[...] = rng.uniform(0.5, 2.0, c)


# (model, kwargs, input shape, BNs left after fusing, fuse in place); VGG-11-BN fuses in place
# to skip copying its 1 GB of float64 weights.
@pytest.mark.parametrize("name,kwargs,shape,left,inplace", [
    ("resnet20", {}, (2, 3, 16, 16), 0, False),
    ("vgg11_bn", {"generator": np.random.default_rng(0)}, (2, 3, 32, 32), 0, True),
    ("mobilenet_v1", {}, (2, 3, 32, 32), 0, False),
    ("googlenet", {}, (2, 3, 40, 40), 0, False),
    ("densenet_bc", {"depth": 10, "growth_rate": 4}, (2, 3, 8, 8), 6, False),  # pre-activation
    ("resnet18", {"block_variant": "seed000"}, (2, 3, 32, 32), 16, False),  # BN after ReLU
])
def test_fused_model_computes_the_same(name, kwargs, shape, left, inplace):
    model = get_model(name, **kwargs).double()
    _randomise_bn(model)
    model.eval()
    x = st.tensor(np.random.default_rng(1).standard_normal(shape))
    bns, params = _bns(model), count_parameters(model)
    with st.no_grad():
        before = model(x)
        fused = fuse_conv_bn(model, x, inplace=inplace)
        after = fused(x)
    assert (fused is model) == inplace
    assert _bns(fused) == left < bns
    assert inplace or _bns(model) == bns  # a copy leaves the original untouched
    assert count_parameters(fused) < params
    assert_close(after, before, rtol=1e-6, what=f"fused {name}")
    assert_close(after, before, rtol=1e-10, what=f"fused {name} (float64 roundoff)")


def test_fold_formula_and_inplace():
    conv, bn = nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3)
    model = nn.Sequential(conv, bn, nn.ReLU()).double()
    _randomise_bn(model)
    model.eval()
    gamma, beta = bn.weight.data.copy(), bn.bias.data.copy()
    mean, var, w = bn.running_mean.copy(), bn.running_var.copy(), conv.weight.data.copy()
    out = fuse_conv_bn(model, inplace=True)
    assert out is model and isinstance(model[1], nn.Identity) and list(model._modules) == \
        ["0", "1", "2"]
    scale = gamma / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(conv.weight.data, w * scale[:, None, None, None], rtol=1e-14)
    np.testing.assert_allclose(conv.bias.data, beta - mean * scale, rtol=1e-14)


def test_training_mode_bn_is_left_alone():
    model = get_model("resnet20")
    x = st.tensor(np.zeros((2, 3, 8, 8), np.float32))
    fused = fuse_conv_bn(model, x)  # still in training mode
    assert _bns(fused) == _bns(model) and fused.training


def test_without_an_example_input_only_sequential_pairs_fold():
    model = get_model("resnet18", num_classes=10).eval()
    fused = fuse_conv_bn(model)  # the downsampling shortcuts are Sequential(conv, bn)
    assert _bns(model) - _bns(fused) == 3


def test_a_conv_whose_output_is_read_elsewhere_is_not_folded():
    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y  # y is needed beside bn(y)

    model = Both().double()
    _randomise_bn(model)
    x = st.tensor(np.random.default_rng(3).standard_normal((1, 2, 5, 5)))
    with st.no_grad():
        assert _bns(fuse_conv_bn(model.eval(), x)) == 1
        assert_close(fuse(model)(x), unfuse(model)(x), rtol=1e-12, what="read twice")


# --- fuse: conv → BN → (+ shortcut) → ReLU chains as one op, the model as written ---------------


def _conv_bn_layers(bias, affine):
    """A strided conv, an evaluation-mode BN with non-trivial statistics (and γ, β), a ReLU."""
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias, dtype=np.float64)
    bn = nn.BatchNorm2d(4, affine=affine, dtype=np.float64)
    rng = np.random.default_rng(5)
    bn.running_mean[...], bn.running_var[...] = rng.normal(0, 0.3, 4), rng.uniform(0.5, 2, 4)
    if affine:
        bn.weight.data[...], bn.bias.data[...] = rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.2, 4)
    return conv, bn.eval(), nn.ReLU()


def _chain(conv, bn, relu, x, residual):
    y = conv(x)
    y = y if bn is None else bn(y)
    y = y if residual is None else y + residual
    return y if relu is None else relu(y)


def _fused(*layers):
    """Deep copies of ``layers`` (None kept), fused."""
    import copy

    return [None if m is None else fuse(copy.deepcopy(m)) for m in layers]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("with_bn", [True, False])
@pytest.mark.parametrize("with_relu", [True, False])
@pytest.mark.parametrize("with_residual", [True, False])
def test_a_chain_is_one_op_at_inference_and_equals_the_layers(monkeypatch, bias, affine,
                                                              with_bn, with_relu, with_residual):
    conv, bn, relu = _conv_bn_layers(bias, affine)
    bn, relu = (bn if with_bn else None), (relu if with_relu else None)
    rng = np.random.default_rng(6)
    x = st.tensor(rng.standard_normal((2, 3, 9, 9)))
    residual = st.tensor(rng.standard_normal((2, 4, 5, 5))) if with_residual else None
    calls = []
    one_op = fusion.conv2d_inference
    monkeypatch.setattr(fusion, "conv2d_inference",
                        lambda *a, **k: calls.append(1) or one_op(*a, **k))
    with st.no_grad():
        expected = _chain(conv, bn, relu, x, residual)
        y = _chain(*_fused(conv, bn, relu), x, residual)
        y.data  # noqa: B018  (a deferred value is computed when read)
    assert calls == ([1] if with_bn else [])
    assert_close(y, expected, rtol=1e-12, what="fused chain")


@pytest.mark.parametrize("with_bn, with_relu, with_residual", [
    (True, True, True), (True, True, False), (True, False, True), (False, True, False)])
def test_a_chain_in_training_equals_the_layers_with_gradients(monkeypatch, with_bn, with_relu,
                                                             with_residual):
    """In training the conv runs, then BN, the sum and the ReLU as one op (no ReLU layer
    runs); with no BN, conv → ReLU is one op: the layers' output, statistics and gradients."""
    conv, bn, relu = _conv_bn_layers(True, True)
    bn.train()
    bn, relu = (bn if with_bn else None), (relu if with_relu else None)
    rng = np.random.default_rng(10)
    data = rng.standard_normal((2, 3, 9, 9))
    r = rng.standard_normal((2, 4, 5, 5)) if with_residual else None
    ran = []
    relu_forward = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda m, i: ran.append(m) or relu_forward(m, i))
    runs = []
    for path in ("layers", "fused"):
        layers = _fused(conv, bn, relu)
        if path == "layers":
            layers = [None if m is None else unfuse(m) for m in layers]
        x = st.tensor(data, requires_grad=True)
        res = None if r is None else st.tensor(r, requires_grad=True)
        ran.clear()
        y = _chain(*layers, x, res)
        y.backward(st.tensor(np.cos(np.arange(y.data.size)).reshape(y.shape)))
        assert bool(ran) == (relu is not None and path == "layers")  # fused: no ReLU layer ran
        stats = [] if bn is None else [layers[1].running_mean, layers[1].running_var,
                                       layers[1].weight.grad, layers[1].bias.grad]
        runs.append([y, x.grad, layers[0].weight.grad, layers[0].bias.grad, *stats]
                    + ([] if res is None else [res.grad]))
    for ours, theirs in zip(*runs, strict=True):
        assert_close(ours, theirs, rtol=1e-12, what="fused chain in training")


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_evaluation_bn_relu_after_no_conv_is_one_op(monkeypatch, grad, dtype):
    """DenseNet's pre-activation BN → ReLU in evaluation mode runs as one batch-norm op with
    the rectifier (no ReLU layer runs), with and without gradients: the layers' values."""
    plain = nn.BatchNorm2d(5, dtype=dtype), nn.ReLU()
    _randomise_bn(plain[0])
    bn, relu = _fused(*plain)
    plain[0].eval(), bn.eval()
    data = np.random.default_rng(3).standard_normal((3, 5, 7, 6)).astype(dtype)
    ran = []
    relu_forward = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda m, i: ran.append(m) or relu_forward(m, i))
    runs = []
    for layers in (plain, (bn, relu)):
        x = st.tensor(data, requires_grad=grad)
        with st.set_grad_enabled(grad):
            y = layers[1](layers[0](x))
        if grad:
            y.backward(st.tensor(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(dtype)))
        runs.append([y] + ([x.grad, layers[0].weight.grad, layers[0].bias.grad] if grad else []))
    assert ran == [plain[1]]  # the fused ReLU joined its BN
    for ours, theirs in zip(runs[1], runs[0], strict=True):
        assert_close(ours, theirs, rtol=1e-5 if dtype == np.float32 else 1e-12,
                     what="evaluation BN → ReLU")


@pytest.mark.parametrize("hooked", [0, 1, 2])
def test_a_hook_on_a_layer_sees_it_run(hooked):
    plain = _conv_bn_layers(False, True)
    conv, bn, relu = _fused(*plain)
    seen = []
    [conv, bn, relu][hooked].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    x = st.tensor(np.random.default_rng(7).standard_normal((2, 3, 9, 9)))
    with st.no_grad():
        y = relu(bn(conv(x)))
        assert seen == [(2, 4, 5, 5)]
        assert_close(y, _chain(*plain, x, None), rtol=1e-12, what="hooked")


def test_a_value_used_twice_is_the_same_and_statistics_update_once():
    plain = _conv_bn_layers(False, True)
    conv, bn, relu = _fused(*plain)
    bn.train(), plain[1].train()
    x = st.tensor(np.random.default_rng(9).standard_normal((2, 3, 9, 9)))
    ours = bn(conv(x))
    both = relu(ours) + ours * 2  # the pre-ReLU value is read after the fused op used it
    theirs = plain[1](plain[0](x))
    assert_close(both, plain[2](theirs) + theirs * 2, rtol=1e-12, what="used twice")
    assert int(bn.num_batches_tracked) == 1
    assert_close(bn.running_var, plain[1].running_var, rtol=1e-12, what="statistics")


def test_a_deferred_value_keeps_the_grad_mode_it_was_made_in():
    conv, relu = _fused(nn.Conv2d(3, 4, 3), nn.ReLU())
    x = st.tensor(np.random.default_rng(1).standard_normal((1, 3, 6, 6)).astype(np.float32))
    with st.no_grad():
        y = conv(x)
    assert not relu(y).requires_grad and not y.requires_grad


ZOO = [  # (model, kwargs, input shape): every architecture family in the zoo
    ("lenet5", {}, (2, 1, 28, 28)),
    ("lenet5", {"activation": "tanh"}, (2, 1, 28, 28)),
    ("resnet20", {}, (2, 3, 16, 16)),
    ("resnet18", {}, (2, 3, 32, 32)),
    ("resnet18", {"block_variant": "seed000"}, (2, 3, 32, 32)),
    ("resnet50", {"num_classes": 10}, (2, 3, 32, 32)),
    ("vgg11_bn", {"num_classes": 10, "input_size": 32}, (2, 3, 32, 32)),
    ("vgg11", {"num_classes": 10, "input_size": 32}, (2, 3, 32, 32)),
    ("mobilenet_v1", {}, (2, 3, 32, 32)),
    ("googlenet", {"num_classes": 10}, (2, 3, 40, 40)),
    ("densenet_bc", {"depth": 10, "growth_rate": 4}, (2, 3, 8, 8)),
    ("allconv", {}, (2, 3, 32, 32)),
    ("jarrett", {}, (2, 1, 28, 28)),
    ("alexnet", {"num_classes": 10}, (1, 3, 63, 63)),
    ("alexnet_original", {"num_classes": 10}, (1, 3, 67, 67)),
    ("googlenet_original", {"num_classes": 10}, (2, 3, 40, 40)),
    ("resnet20", {"block_variant": "seed000"}, (2, 3, 16, 16)),
]


@pytest.mark.parametrize("name,kwargs,shape", ZOO, ids=[f"{n}{k}" for n, k, _ in ZOO])
def test_every_zoo_model_fused_equals_unfused_in_values_and_gradients(name, kwargs, shape):
    """Training (values, gradients, BN statistics) and inference, float64; the same keys."""
    import copy

    plain = get_model(name, generator=np.random.default_rng(0), **kwargs).double()
    _randomise_bn(plain)
    fused = fuse(copy.deepcopy(plain))
    assert is_fused(fused) and not is_fused(plain)
    assert list(fused.state_dict()) == list(plain.state_dict())
    x = np.random.default_rng(1).standard_normal(shape)
    outs = []
    for model in (plain, fused):
        model.train()
        st.manual_seed(0)  # dropout draws the same masks
        y = model(st.tensor(x))
        y.backward(st.tensor(np.cos(np.arange(y.data.size)).reshape(y.shape)))
        model.eval()
        with st.no_grad():
            inference = model(st.tensor(x))
        outs.append([y, inference, *(p.grad for p in model.parameters()),
                     *model.buffers()])
    for ours, theirs in zip(outs[1], outs[0], strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert_close(ours, theirs, rtol=1e-9, what=f"{name} fused")
    assert not is_fused(unfuse(fused))


def test_resnet20_fused_runs_no_relu_layer_and_at_inference_no_bn_layer(monkeypatch):
    model = fuse(get_model("resnet20"))
    ran = []
    for kind in (nn.ReLU, nn.BatchNorm2d):
        forward = kind.forward
        monkeypatch.setattr(kind, "forward", lambda m, i, f=forward: ran.append(m) or f(m, i))
    x = st.tensor(np.random.default_rng(2).standard_normal((2, 3, 16, 16)).astype(np.float32))
    model(x).sum().backward()
    assert not any(isinstance(m, nn.ReLU) for m in ran)  # each ReLU joined its BN
    ran.clear()
    with st.no_grad():
        model.eval()(x)
    assert ran == []  # each BN joined its conv, each ReLU the chain
