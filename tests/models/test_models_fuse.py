"""fuse_conv_bn: folding evaluation-mode BN into the preceding conv keeps the function."""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
from helpers import assert_close
from striate import nn
from striate.models import get_model
from striate.nn.utils import count_parameters, fuse_conv_bn


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
        fused = fuse_conv_bn(model, inplace=inplace)
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
    fused = fuse_conv_bn(model)  # still in training mode
    assert _bns(fused) == _bns(model)


# --- conv_bn: the same fold, on every call at inference ------------------------------------------


def _conv_bn_layers(bias, affine):
    """A strided conv, an evaluation-mode BN with non-trivial statistics (and γ, β), a ReLU."""
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias, dtype=np.float64)
    bn = nn.BatchNorm2d(4, affine=affine, dtype=np.float64)
    rng = np.random.default_rng(5)
    bn.running_mean[...], bn.running_var[...] = rng.normal(0, 0.3, 4), rng.uniform(0.5, 2, 4)
    if affine:
        bn.weight.data[...], bn.bias.data[...] = rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.2, 4)
    return conv, bn.eval(), nn.ReLU()


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("with_bn", [True, False])
@pytest.mark.parametrize("with_relu", [True, False])
@pytest.mark.parametrize("with_residual", [True, False])
def test_conv_bn_is_one_op_at_inference_and_equals_the_layers(monkeypatch, bias, affine,
                                                              with_bn, with_relu, with_residual):
    from striate.nn import utils

    conv, bn, relu = _conv_bn_layers(bias, affine)
    bn, relu = (bn if with_bn else None), (relu if with_relu else None)
    rng = np.random.default_rng(6)
    x = st.tensor(rng.standard_normal((2, 3, 9, 9)))
    residual = st.tensor(rng.standard_normal((2, 4, 5, 5))) if with_residual else None
    calls = []
    fused = utils.conv2d_inference
    monkeypatch.setattr(utils, "conv2d_inference",
                        lambda *a, **k: calls.append(1) or fused(*a, **k))
    with st.no_grad():
        expected = conv(x) if bn is None else bn(conv(x))
        expected = expected if residual is None else expected + residual
        expected = expected if relu is None else relu(expected)
        y = utils.conv_bn(conv, bn, x, relu, residual)
    assert calls == [1]
    assert_close(y, expected, rtol=1e-12, what="conv_bn fused")


def test_conv_bn_runs_the_layers_in_training_with_gradients_or_hooks(monkeypatch):
    from striate.nn import utils

    conv, bn, relu = _conv_bn_layers(False, True)
    x = st.tensor(np.random.default_rng(7).standard_normal((2, 3, 9, 9)))
    monkeypatch.setattr(utils, "conv2d_inference", lambda *a, **k: pytest.fail("fused"))
    y = utils.conv_bn(conv, bn, x, relu)  # gradients wanted (the parameters')
    y.sum().backward()
    assert conv.weight.grad is not None
    seen = []
    handle = bn.register_forward_hook(lambda m, i, o: seen.append(o))
    with st.no_grad():
        utils.conv_bn(conv, bn, x, relu)  # a hook on bn sees its output
    handle.remove()
    assert len(seen) == 1
    bn.train()
    before = int(bn.num_batches_tracked)
    with st.no_grad():
        utils.conv_bn(conv, bn, x, relu)  # training: batch statistics, running ones updated
    assert int(bn.num_batches_tracked) == before + 1


@pytest.mark.parametrize("with_relu, with_residual", [(True, True), (True, False),
                                                     (False, True)])
def test_conv_bn_in_training_fuses_bn_residual_relu_and_equals_the_layers(
        monkeypatch, with_relu, with_residual):
    """In training, conv_bn runs the conv, then BN, the residual sum and the ReLU as one op
    (BatchNorm2d.forward_fused, no ReLU layer): the layers' output, running statistics and
    gradients; a hook on the ReLU sends it back to the layers as written."""
    import copy

    from striate.nn import utils

    conv, bn, relu = _conv_bn_layers(True, True)
    bn.train()
    relu = relu if with_relu else None
    rng = np.random.default_rng(10)
    data = rng.standard_normal((2, 3, 9, 9))
    r = rng.standard_normal((2, 4, 5, 5)) if with_residual else None
    ran = []
    relu_forward = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda m, i: ran.append(m) or relu_forward(m, i))
    runs = []
    for path in ("fused", "layers"):
        layers = [copy.deepcopy(m) for m in (conv, bn, relu)]
        x = st.tensor(data, requires_grad=True)
        res = None if r is None else st.tensor(r, requires_grad=True)
        if path == "fused":
            y = utils.conv_bn(*layers[:2], x, layers[2], res)
            assert ran == []  # no ReLU layer ran
        else:
            y = layers[1](layers[0](x))
            y = y if res is None else y + res
            y = y if layers[2] is None else layers[2](y)
        y.backward(st.tensor(np.cos(np.arange(y.data.size)).reshape(y.shape)))
        runs.append([y, layers[1].running_mean, layers[1].running_var, x.grad,
                     layers[0].weight.grad, layers[1].weight.grad, layers[1].bias.grad]
                    + ([] if res is None else [res.grad]))
    for ours, theirs in zip(*runs, strict=True):
        assert_close(ours, theirs, rtol=1e-12, what="conv_bn in training")
    if relu is not None:
        seen = []
        relu.register_forward_hook(lambda m, i, o: seen.append(o))
        utils.conv_bn(conv, bn, st.tensor(data), relu, None if r is None else st.tensor(r))
        assert len(seen) == 1 and ran  # the ReLU ran as a layer, its hook saw the output


def test_conv_bn_in_training_without_bn_is_conv_relu_and_equals_the_layers(monkeypatch):
    """With no BN and no residual, conv_bn(conv, None, x, relu) in training is one op
    (conv2d_relu: no ReLU layer runs): the layers' output and gradients; a hook on the conv or
    the ReLU sends it back to the layers as written."""
    import copy

    from striate.nn import utils

    conv, _, relu = _conv_bn_layers(True, True)
    data = np.random.default_rng(11).standard_normal((2, 3, 9, 9))
    ran = []
    relu_forward = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda m, i: ran.append(m) or relu_forward(m, i))
    runs = []
    for path in ("fused", "layers"):
        layers = [copy.deepcopy(m) for m in (conv, relu)]
        x = st.tensor(data, requires_grad=True)
        y = (utils.conv_bn(layers[0], None, x, layers[1]) if path == "fused"
             else layers[1](layers[0](x)))
        assert (ran == []) == (path == "fused")
        y.backward(st.tensor(np.cos(np.arange(y.data.size)).reshape(y.shape)))
        runs.append([y, x.grad, layers[0].weight.grad, layers[0].bias.grad])
    for ours, theirs in zip(*runs, strict=True):
        assert_close(ours, theirs, rtol=1e-12, what="conv_bn without BN in training")
    for layer in (conv, relu):
        ran.clear()
        handle = layer.register_forward_hook(lambda m, i, o: None)
        utils.conv_bn(conv, None, st.tensor(data, requires_grad=True), relu)
        handle.remove()
        assert ran  # the ReLU ran as a layer


def test_resnet20_inference_is_fused_and_equals_the_unfused_layers(monkeypatch):
    """The CIFAR ResNet calls conv_bn: at inference its BNs do not run as layers, and the
    output is the layers' (float64, to roundoff); with gradients wanted they run as before."""
    model = get_model("resnet20").double()
    _randomise_bn(model)
    model.eval()
    x = st.tensor(np.random.default_rng(8).standard_normal((2, 3, 16, 16)))
    ran = []
    forward = nn.BatchNorm2d.forward
    monkeypatch.setattr(nn.BatchNorm2d, "forward", lambda m, i: ran.append(m) or forward(m, i))
    layers = model(x)  # gradients wanted (the parameters'): the layers run
    assert len(ran) == _bns(model)
    with st.no_grad():
        fused = model(x)
    assert len(ran) == _bns(model)  # none ran again
    assert_close(fused, layers, rtol=1e-10, what="resnet20 fused inference")
