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
                "allconv", "jarrett", "alexnet_original", "googlenet_original"}
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
    (lambda: get_model("resnet20", block_variant="v2"), "resnet_cifar: block_variant"),
    (lambda: get_model("jarrett", activation="relu"), "jarrett: activation"),
    (lambda: get_model("jarrett", connections="lenet"), "jarrett: connections"),
    (lambda: get_model("jarrett", connections="random", fan_in=(1, 33)), "jarrett: fan_in"),
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
    ("resnet50", 1), ("mobilenet_v1", 1), ("alexnet_original", 67), ("googlenet_original", 15),
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


# --- the seeds' own forms of the classic nets --------------------------------------------------


def test_published_parameter_counts():
    assert count_parameters(get_model("alexnet_original")) == 60_965_224
    assert count_parameters(get_model("googlenet_original")) == 6_998_552
    assert count_parameters(get_model("googlenet_original", aux_logits=True)) == 13_378_280


def test_alexnet_original_structure():
    model = get_model("alexnet_original")
    convs = [m for m in model.features if isinstance(m, st.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert (convs[0].kernel_size, convs[0].stride) == ((11, 11), (4, 4))
    lrn = [i for i, m in enumerate(model.features) if isinstance(m, st.nn.LocalResponseNorm)]
    assert lrn == [2, 6]  # after conv1's and conv2's ReLU, before their pools
    assert (model.features[2].alpha / model.features[2].size, model.features[2].k) == (1e-4, 2.0)
    assert [float(c.bias.data.mean()) for c in convs] == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert models.default_input_size("alexnet_original") == 227


def test_googlenet_original_units_and_aux_heads():
    model = get_model("googlenet_original", aux_logits=True, num_classes=5,
                      generator=np.random.default_rng(0))
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)  # the true 5×5
    assert not any(isinstance(m, st.nn.BatchNorm2d) for m in model.modules())
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7
    assert model.aux1.pool.kernel_size == 5 and model.aux1.pool.stride == 3
    x = st.zeros((1, 3, 128, 128))  # 8×8 at inception4a: the 5×5/3 pool gives 2×2
    with pytest.raises(ValueError, match="auxiliary head needs a 4×4 map"):
        model(x)
    with st.no_grad():
        assert model.eval()(x).shape == (1, 5)  # eval: no heads, any size


def test_trainer_adds_the_auxiliary_losses(tmp_path):
    """A model returning (logits, aux2, aux1) in training trains on L + 0.3 (L_aux1 + L_aux2)."""
    from striate import optim
    from striate.nn import functional as F
    from striate.train.trainer import Trainer

    model = get_model("googlenet", aux_logits=True, num_classes=4, dropout=0.0,
                      dropout_aux=0.0, generator=np.random.default_rng(0)).double()
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32))
    labels = np.array([1, 3])
    with st.no_grad():
        outs = model(st.tensor(x))
        want = sum(w * F.cross_entropy(o, st.tensor(labels)).item()
                   for w, o in zip((1.0, 0.3, 0.3), outs, strict=True))
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.0), None, tmp_path, {},
                      progress=False)
    value, logits = trainer.train_step(x, labels)
    assert abs(value - want) < 1e-9 * abs(want)
    assert logits.shape == (2, 4)


def test_resnet20_seed000_block_order():
    """y = shortcut(x) + BN2(ReLU(conv2(BN1(ReLU(conv1 x))))): the ImageNet option's order."""
    model = get_model("resnet20", block_variant="seed000").double()
    block = model.layer2[0]
    x = st.tensor(np.random.default_rng(0).standard_normal((2, 16, 8, 8)))
    with st.no_grad():
        h = block.bn2(block.conv2(block.bn1(block.conv1(x).relu())).relu())
        assert np.allclose(block(x).data, (h + block.downsample(x)).data, rtol=1e-12, atol=0)
        assert (block(x).data < 0).any()
    plain = get_model("resnet20")
    assert list(model.state_dict()) == list(plain.state_dict())


def test_jarrett_fcsg_stage_and_random_tables():
    kwargs = {"activation": "tanh", "gain": True, "connections": "random"}
    model = get_model("jarrett", generator=np.random.default_rng(0), **kwargs)
    names = [n for n, _ in model.features.named_children()][:6]
    assert names == ["conv1", "tanh1", "gain1", "rectify1", "lcn1", "pool1"]
    conv2 = model.features.conv2
    assert (conv2.connections.sum(axis=1) == 8).all()  # ⌈32/4⌉ of the 32 maps per output map
    assert model.features.conv1.connections.all()  # one input map: full
    free = sum(c.free_parameters() for c in (model.features.conv1, conv2))
    assert free + 32 + 64 + 31_370 == 45_930 and count_parameters(model) == 84_330
    assert (np.asarray(conv2.weight.data)[conv2.connections == 0] == 0).all()
    x = st.tensor(np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32))
    model(x).sum().backward()
    assert (np.asarray(conv2.weight.grad)[conv2.connections == 0] == 0).all()
    assert np.abs(np.asarray(model.features.gain2.weight.grad)).max() > 0
    same = get_model("jarrett", generator=np.random.default_rng(5), **kwargs)
    other = get_model("jarrett", table_seed=1, **kwargs)
    assert np.array_equal(same.features.conv2.connections, conv2.connections)
    assert not np.array_equal(other.features.conv2.connections, conv2.connections)



def test_docs_model_table_lists_every_model_with_the_reference_count():
    """docs/models.md: one row per registered model, with the count that the reference test
    asserts for the default build (its cases whose only arguments are dropout rates)."""
    import re
    from pathlib import Path

    from test_models_reference import CASES

    text = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \|.*\| ([\d,]+) \|$", text, flags=re.M))
    assert set(rows) == set(list_models())
    dropout_only = {"dropout", "input_dropout", "dropout_aux"}
    reference = {c[0]: c[4] for c in CASES if c[0] == c[1] and set(c[2]) <= dropout_only}
    for name, count in rows.items():
        if name in reference:
            assert int(count.replace(",", "")) == reference[name], name
    assert len(reference.keys() & rows.keys()) >= 20
