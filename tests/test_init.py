"""Initialisers: PyTorch's gains, fans, bounds and standard deviations, from explicit generators."""

import math

import numpy as np
import pytest

import striate as st
from helpers import torch
from striate.nn import init


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("shape", [(10, 4), (8, 3, 5, 5), (6, 2, 3, 1)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fan_in_and_fan_out(shape) == expected


SHAPE = (256, 64, 3, 3)  # fan_in 576, fan_out 2304
FAN_IN, FAN_OUT = 576, 2304


@pytest.mark.parametrize("fn,kwargs,bound", [
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2) * math.sqrt(3 / FAN_IN)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"},
     math.sqrt(2) * math.sqrt(3 / FAN_OUT)),
    (init.xavier_uniform_, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.lecun_uniform_, {}, math.sqrt(3 / FAN_IN)),
    (init.default_weight_, {}, 1 / math.sqrt(FAN_IN)),
])
def test_uniform_initialisers_fill_their_bound(fn, kwargs, bound):
    w = st.zeros(*SHAPE)
    fn(w, generator=np.random.default_rng(0), **kwargs)
    a = np.abs(w.numpy())
    assert a.max() <= bound and a.max() > 0.99 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(12), rel=0.02)  # |U(-b, b)| has std b/√12


@pytest.mark.parametrize("fn,kwargs,std", [
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / FAN_IN)),
    (init.xavier_normal_, {}, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (init.lecun_normal_, {}, math.sqrt(1 / FAN_IN)),
])
def test_normal_initialisers_have_their_std(fn, kwargs, std):
    w = st.zeros(*SHAPE, dtype=np.float64)
    fn(w, generator=np.random.default_rng(0), **kwargs)
    assert w.numpy().std() == pytest.approx(std, rel=0.02)
    assert abs(w.numpy().mean()) < 0.01 * std * 10


def test_same_generator_seed_gives_the_same_weights_and_dtype_is_kept():
    a, b = st.zeros(4, 3), st.zeros(4, 3)
    init.kaiming_uniform_(a, generator=np.random.default_rng(7))
    init.kaiming_uniform_(b, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32
    init.constant_(a, 0.5)
    assert (a.numpy() == 0.5).all()


def test_fan_of_a_vector_is_an_error():
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.xavier_uniform_(st.zeros(5))
