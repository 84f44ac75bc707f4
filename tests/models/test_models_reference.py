"""Every model against its PyTorch twin: parameter count, state_dict keys, forward, backward.

Weights move across by ``state_dict`` (same keys, same order), then one float64 forward in
training mode (batch statistics; dropout set to 0 so both sides are deterministic), one backward
with a random output gradient, and one evaluation-mode forward with the running statistics that
the training forward left.  Each model is built once; the biggest skip the backward.  ImageNet
ResNets and DenseNet run at 64×64 so that their last maps are 2×2: at 1×1, training-mode BN sees
2 values per channel and its roundoff amplification (not a bug) exceeds the 1e-8 tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

import striate as st
import striate.bench.torch_twins as tr
import striate.nn  # noqa: F401  (st.nn below)
from helpers import assert_close, torch
from striate.models import get_model, list_models
from striate.nn.utils import count_parameters

RTOL = 1e-8
NO_DROP = {"dropout": 0.0}

# (test id, model name, kwargs, input shape, parameter count, compare gradients)
CASES = [
    ("lenet5", "lenet5", {}, (2, 1, 28, 28), 61_706, True),
    ("lenet5_classic", "lenet5", {"activation": "tanh", "pool": "avg", "input_size": 32,
                                  "padding": 0}, (2, 1, 32, 32), 61_706, True),
    ("alexnet", "alexnet", NO_DROP, (2, 3, 63, 63), 61_100_840, True),
    ("vgg11", "vgg11", NO_DROP, (2, 3, 32, 32), 132_863_336, True),
    ("vgg13", "vgg13", NO_DROP, (2, 3, 32, 32), 133_047_848, False),
    ("vgg16", "vgg16", NO_DROP, (2, 3, 32, 32), 138_357_544, False),
    ("vgg19", "vgg19", NO_DROP, (2, 3, 32, 32), 143_667_240, False),
    ("vgg11_bn", "vgg11_bn", NO_DROP, (2, 3, 32, 32), 132_868_840, True),
    ("vgg13_bn", "vgg13_bn", NO_DROP, (2, 3, 32, 32), 133_053_736, False),
    ("vgg16_bn", "vgg16_bn", NO_DROP, (2, 3, 32, 32), 138_365_992, False),
    ("vgg19_bn", "vgg19_bn", NO_DROP, (2, 3, 32, 32), 143_678_248, False),
    ("googlenet", "googlenet", NO_DROP, (2, 3, 57, 57), 6_624_904, False),
    ("googlenet_aux", "googlenet", {"aux_logits": True, "dropout": 0.0, "dropout_aux": 0.0},
     (2, 3, 64, 64), 13_004_888, True),
    ("resnet18", "resnet18", {}, (2, 3, 64, 64), 11_689_512, True),
    ("resnet34", "resnet34", {}, (2, 3, 64, 64), 21_797_672, False),
    ("resnet50", "resnet50", {}, (2, 3, 64, 64), 25_557_032, True),
    ("resnet50_seed000", "resnet50", {"block_variant": "seed000"}, (2, 3, 64, 64),
     25_557_032, True),
    ("resnet101", "resnet101", {}, (2, 3, 64, 64), 44_549_160, False),
    ("resnet152", "resnet152", {}, (2, 3, 64, 64), 60_192_808, False),
    ("resnet20", "resnet20", {}, (2, 3, 32, 32), 269_722, True),
    ("resnet20_fmnist", "resnet20", {"in_channels": 1, "input_size": 28}, (2, 1, 28, 28),
     269_434, True),
    ("resnet32", "resnet32", {}, (2, 3, 16, 16), 464_154, False),
    ("resnet44", "resnet44", {}, (2, 3, 16, 16), 658_586, False),
    ("resnet56", "resnet56", {}, (2, 3, 16, 16), 853_018, False),
    ("resnet110", "resnet110", {}, (2, 3, 16, 16), 1_727_962, True),
    ("densenet121", "densenet121", {}, (2, 3, 64, 64), 7_978_856, True),
    ("densenet_bc", "densenet_bc", {}, (2, 3, 32, 32), 769_162, False),
    ("densenet_bc40_fmnist", "densenet_bc", {"depth": 40, "in_channels": 1, "input_size": 28},
     (2, 1, 28, 28), 175_690, True),
    ("mobilenet_v1", "mobilenet_v1", {}, (2, 3, 32, 32), 4_231_976, True),
    ("allconv", "allconv", {"dropout": 0.0, "input_dropout": 0.0, "final_relu": True},
     (2, 3, 32, 32), 1_369_738, True),
    ("allconv_fmnist", "allconv", {"in_channels": 1, "input_size": 28, "dropout": 0.0,
                                   "input_dropout": 0.0}, (2, 1, 28, 28), 1_368_010, True),
    ("jarrett", "jarrett", {}, (2, 1, 28, 28), 84_234, True),
    ("alexnet_original", "alexnet_original", NO_DROP, (2, 3, 67, 67), 60_965_224, True),
    ("googlenet_original", "googlenet_original", NO_DROP, (2, 3, 57, 57), 6_998_552, True),
    ("googlenet_original_aux", "googlenet_original",
     {"aux_logits": True, "dropout": 0.0, "dropout_aux": 0.0}, (1, 3, 224, 224), 13_378_280,
     True),
    ("jarrett_fcsg", "jarrett", {"activation": "tanh", "gain": True, "connections": "random"},
     (2, 1, 28, 28), 84_330, True),
    ("resnet20_seed000", "resnet20", {"block_variant": "seed000"}, (2, 3, 32, 32), 269_722,
     True),
]


def test_cases_cover_every_model():
    assert {c[1] for c in CASES} == set(list_models())


def _outputs(y):
    return y if isinstance(y, tuple) else (y,)


@pytest.mark.parametrize("name,kwargs,shape,count,grads",
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_model_matches_torch(name, kwargs, shape, count, grads):
    model = get_model(name, generator=np.random.default_rng(0), **kwargs)
    assert count_parameters(model) == count
    ref = tr.build(name, **kwargs)
    state = model.double().state_dict()
    ref_shapes = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert [(k, tuple(v.shape)) for k, v in state.items()] == ref_shapes
    tr.load_from(ref, state)
    ref.train()

    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    xs = st.tensor(x, requires_grad=grads)
    xt = torch.from_numpy(x.copy()).requires_grad_(grads)
    ys, yt = _outputs(model(xs)), _outputs(ref(xt))
    assert len(ys) == len(yt)
    for i, (a, b) in enumerate(zip(ys, yt, strict=True)):
        assert_close(a, b, rtol=RTOL, what=f"{name} output {i}")

    if grads:
        gs = [rng.standard_normal(b.shape) for b in yt]
        loss_s = sum((a * st.tensor(g)).sum() for a, g in zip(ys, gs, strict=True))
        loss_t = sum((b * torch.from_numpy(g)).sum() for b, g in zip(yt, gs, strict=True))
        loss_s.backward()
        loss_t.backward()
        assert_close(xs.grad, xt.grad, rtol=RTOL, what=f"{name} input grad")
        # The first weight (its bias may feed a training-mode BN, whose gradient is then 0)
        # and the classifier's weight and bias.
        ours = list(model.named_parameters())
        theirs = dict(ref.named_parameters())
        for key, p in ours[:1] + ours[-2:]:
            assert_close(p.grad, theirs[key].grad, rtol=RTOL, what=f"{name} {key} grad")

    if not any(isinstance(m, st.nn.BatchNorm2d) for m in model.modules()):
        return  # dropout is off: evaluation mode computes the same function
    model.eval()
    ref.eval()
    with st.no_grad(), torch.no_grad():
        assert_close(_outputs(model(st.tensor(x)))[0], _outputs(ref(torch.from_numpy(x)))[0],
                     rtol=RTOL, what=f"{name} eval output")


def test_get_model_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown model 'resnet9'"):
        get_model("resnet9")
