"""DeconvNet: greedy layer-wise learning on pooled maps, projection back to image space through
the pooling switches, serialisation hooks and clear errors."""

import json

import numpy as np
import pytest

from striate.deconvnet import DeconvLayer, DeconvNet
from striate.deconvnet.net import max_pool_abs, unpool


def small_net(pool=2):
    first = DeconvLayer(1, 3, 3, lam=2.0, inner_iters=5, seed=1)
    second = DeconvLayer(3, 4, 3, lam=2.0, connectivity="singles_and_doubles", inner_iters=5,
                         seed=2)
    return DeconvNet([first, second], pool=pool)


def test_pool_keeps_the_largest_magnitude_with_its_sign_and_unpool_is_its_adjoint():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 3, 7, 6))
    pooled, switches = max_pool_abs(z, 2)
    assert pooled.shape == (2, 3, 4, 3)
    assert pooled[0, 0, 0, 0] == z[0, 0, :2, :2].ravel()[np.argmax(np.abs(z[0, 0, :2, :2]))]
    g = rng.normal(size=pooled.shape)
    back = unpool(g, switches, 2, (7, 6))
    assert back.shape == z.shape
    # <pool(z), g> = <z, unpool(g)> for the fixed switches: unpool is the pooling's adjoint
    assert np.isclose(np.sum(pooled * g), np.sum(z * back))


def test_infer_and_reconstruct_shapes():
    net = small_net()
    y = np.random.default_rng(1).normal(size=(2, 1, 10, 10))
    maps = net.infer(y)
    assert [m.shape for m in maps] == [(2, 3, 12, 12), (2, 4, 8, 8)]
    for index, z in enumerate(maps):
        assert net.reconstruct(index, z).shape == y.shape
    # layer 2's projection is layer 1's reconstruction of the unpooled layer-2 reconstruction
    switches, size = net.switches[0]
    down = unpool(net.layers[1].reconstruct(maps[1]), switches, 2, size)
    np.testing.assert_allclose(net.reconstruct(1, maps[1]), net.layers[0].reconstruct(down))


def test_greedy_fit_trains_each_layer_on_the_pooled_maps_below():
    net = small_net()
    images = np.random.default_rng(2).normal(size=(8, 1, 8, 8))
    before = [layer.filters.copy() for layer in net.layers]
    costs = net.fit(images, epochs=1, batch_size=4, progress=False)
    assert [len(c) for c in costs] == [2, 2]
    assert all(np.isfinite(c).all() for c in costs)
    for old, layer in zip(before, net.layers, strict=True):
        assert not np.allclose(old, layer.filters)


def test_pool_one_means_no_pooling():
    net = small_net(pool=1)
    y = np.random.default_rng(3).normal(size=(1, 1, 6, 6))
    maps = net.infer(y)
    assert maps[1].shape == (1, 4, 10, 10)
    assert net.reconstruct(1, maps[1]).shape == y.shape


def test_config_round_trip():
    net = small_net()
    config = json.loads(json.dumps(net.config()))
    again = DeconvNet.from_config(config, [layer.filters for layer in net.layers])
    assert again.pool == 2
    for a, b in zip(again.layers, net.layers, strict=True):
        np.testing.assert_allclose(a.filters, b.filters, rtol=0, atol=1e-15)
        assert a.config() == b.config()


def test_bad_nets_are_refused():
    first = DeconvLayer(1, 3, 3)
    with pytest.raises(ValueError, match="in_channels=2 but layer 0 makes 3 maps"):
        DeconvNet([first, DeconvLayer(2, 4, 3)])
    with pytest.raises(ValueError, match="non-empty list"):
        DeconvNet([])
    with pytest.raises(ValueError, match="pool must be"):
        DeconvNet([first], pool=0)
    net = small_net()
    with pytest.raises(ValueError, match="call infer first"):
        net.reconstruct(1, np.zeros((1, 4, 8, 8)))
    with pytest.raises(ValueError, match="layer_index must be"):
        net.reconstruct(2, np.zeros((1, 4, 8, 8)))
    with pytest.raises(ValueError, match="filters_list has 1 entries"):
        DeconvNet.from_config(net.config(), [first.filters])
