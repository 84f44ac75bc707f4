"""The model registry, argument checks, documented sizes and the seed-000 residual module."""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
from striate import models
from striate.models import get_model, list_models
from striate.nn.utils import count_parameters

SMALL = ["lenet5", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "densenet_bc",
         "allconv", "jarrett"]


def test_registry_lists_the_design_names():
    expected = {"lenet5", "alexnet", "googlenet", "densenet121", "densenet_bc", "mobilenet_v1",
                "allconv", "jarrett"}
    expected |= {f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")}
    expected |= {f"resnet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110)}
    assert set(list_models()) == expected
    assert all(hasattr(models, n) for n in expected)


@pytest.mark.parametrize("name", SMALL)
def test_small_image_models_take_fashion_mnist(name):
    kwargs = {"depth": 10, "growth_rate": 4} if name == "densenet_bc" else {}
    model = get_model(name, in_channels=1, input_size=28, num_classes=7, **kwargs)
    if name in ("resnet56", "resnet110"):
        return  # same blocks as resnet20, deeper: construction is the check
    with st.no_grad():
        y = model(st.tensor(np.zeros((2, 1, 28, 28), np.float32)))
    assert y.shape == (2, 7) and y.dtype == np.float32


@pytest.mark.parametrize("call,match", [
    (lambda: get_model("lenet5", input_size=11), "lenet5: input_size 11"),
    (lambda: get_model("lenet5", activation="sigmoid"), "lenet5: activation"),
    (lambda: get_model("allconv", input_size=8), "allconv: input_size must be an int >= 9"),
    (lambda: get_model("densenet_bc", depth=41), "densenet_bc: depth must be 6n \\+ 4"),
    (lambda: models.CifarResNet(21), "resnet_cifar: depth must be 6n \\+ 2"),
    (lambda: get_model("resnet50", block_variant="v2"), "resnet: block_variant"),
    (lambda: get_model("jarrett", input_size=3), "jarrett: input_size 3 is too small"),
    (lambda: get_model("mobilenet_v1", width_mult=0), "mobilenet_v1: width_mult"),
])
def test_bad_arguments_name_the_model(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_smallest_documented_inputs():
    with st.no_grad():
        assert get_model("lenet5", input_size=12)(st.zeros((1, 1, 12, 12))).shape == (1, 10)
        assert get_model("allconv", input_size=9)(st.zeros((1, 3, 9, 9))).shape == (1, 10)
        assert get_model("densenet_bc", depth=10, growth_rate=4, input_size=4)(
            st.zeros((2, 3, 4, 4))).shape == (2, 10)


def test_jarrett_caltech_configuration():
    model = get_model("jarrett", num_classes=101, input_size=143, channels=(64, 256),
                      kernel_sizes=(9, 9), pool_sizes=(10, 6), pool_strides=(5, 4),
                      paddings=(0, 0))
    # 143 → conv 135 → pool 26 → conv 18 → pool 4: the paper's 256 maps of 4×4
    assert model.classifier.in_features == 256 * 4 * 4
    assert count_parameters(model) == 5_248 + 1_327_360 + 413_797


def test_seed000_bottleneck_order():
    """y = x + BN3(ReLU(conv3(BN2(ReLU(conv2(BN1(ReLU(conv1 x)))))))), nothing after the sum."""
    block = get_model("resnet50", block_variant="seed000").layer1[1].double()
    x = st.tensor(np.random.default_rng(0).standard_normal((2, 256, 4, 4)))
    with st.no_grad():
        h = x
        for conv, bn in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
            h = getattr(block, bn)(getattr(block, conv)(h).relu())
        expected = x + h
        assert np.allclose(block(x).data, expected.data, rtol=1e-12, atol=0)
    assert (block(x).data < 0).any()  # no ReLU after the addition


def test_googlenet_aux_heads_only_in_training():
    model = get_model("googlenet", aux_logits=True, num_classes=5)
    x = st.zeros((2, 3, 48, 48))
    with st.no_grad():
        out = model(x)
        assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 5)] * 3
        assert model.eval()(x).shape == (2, 5)


def test_count_parameters_trainable_only():
    model = get_model("lenet5")
    model.conv1.requires_grad_(False)
    assert count_parameters(model) == 61_706
    assert count_parameters(model, trainable_only=True) == 61_706 - 156


@pytest.mark.parametrize("name,minimum", [
    ("alexnet", 63), ("vgg11", 32), ("vgg16_bn", 32), ("googlenet", 15), ("densenet121", 29),
    ("resnet50", 1), ("mobilenet_v1", 1),
])
def test_imagenet_models_check_input_size(name, minimum):
    with pytest.raises(ValueError, match=f"input_size must be an int >= {minimum}"):
        get_model(name, input_size=minimum - 1)


@pytest.mark.parametrize("name,size", [("googlenet", 15), ("densenet121", 29)])
def test_imagenet_models_run_at_their_smallest_input(name, size):
    model = get_model(name, num_classes=4, in_channels=1, input_size=size).eval()
    with st.no_grad():
        assert model(st.zeros((1, 1, size, size))).shape == (1, 4)


def test_default_input():
    assert (models.default_input_size("lenet5"), models.default_in_channels("lenet5")) == (28, 1)
    assert (models.default_input_size("resnet20"), models.default_in_channels("resnet20")) \
        == (32, 3)
    assert models.default_input_size("vgg16") == 224
    with pytest.raises(ValueError, match="unknown model 'lenet'"):
        models.default_input_size("lenet")
