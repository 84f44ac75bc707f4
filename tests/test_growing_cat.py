"""GrowingCat, the dense block's concatenation in one buffer: the values and gradients of
``torch.cat``, views that share one array and survive later appends, and clear errors."""

import numpy as np
import pytest

import striate as st
import striate.nn.functional as F
from striate.models import densenet_bc


def pieces(rng, channels=(3, 2, 2), dtype=np.float64):
    return [rng.standard_normal((2, c, 5, 4)).astype(dtype) for c in channels]


def test_values_and_gradients_are_torch_cats():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = pieces(rng)
    ours = [st.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    maps = F.GrowingCat(ours[0], 7)
    views = [maps.tensor] + [maps.append(t) for t in ours[1:]]
    expected = [torch.cat(theirs[:i + 1], 1) for i in range(3)]
    weights = [rng.standard_normal(v.shape) for v in views]
    for view, want in zip(views, expected, strict=True):
        np.testing.assert_array_equal(view.numpy(), want.detach().numpy())
    sum((v * st.tensor(w)).sum() for v, w in zip(views, weights, strict=True)).backward()
    sum((e * torch.tensor(w)).sum() for e, w in zip(expected, weights, strict=True)).backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12)


def test_views_share_one_buffer_and_copy_each_piece_once():
    arrays = pieces(np.random.default_rng(1), dtype=np.float32)
    maps = F.GrowingCat(st.tensor(arrays[0]), 9)
    first = maps.tensor
    second = maps.append(st.tensor(arrays[1]))
    assert np.shares_memory(first.numpy(), second.numpy())
    assert np.shares_memory(second.numpy(), maps.buffer)
    maps.append(st.tensor(arrays[2]))
    np.testing.assert_array_equal(first.numpy(), arrays[0])  # later appends leave it alone
    np.testing.assert_array_equal(second.numpy(), np.concatenate(arrays[:2], 1))
    assert maps.tensor.shape == (2, 7, 5, 4) and maps.filled == 7


def test_bad_pieces_are_refused():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match=r"expected NCHW maps, got shape \(3, 5, 4\)"):
        F.GrowingCat(st.tensor(rng.standard_normal((3, 5, 4))), 8)
    first = st.tensor(rng.standard_normal((2, 3, 5, 4)).astype(np.float32))
    with pytest.raises(ValueError, match="room for 2 channels"):
        F.GrowingCat(first, 2)
    maps = F.GrowingCat(first, 4)
    with pytest.raises(ValueError, match=r"does not fit maps of \(N, H, W\) = \(2, 5, 4\)"):
        maps.append(st.tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32)))
    with pytest.raises(ValueError, match="float64"):
        maps.append(st.tensor(rng.standard_normal((2, 1, 5, 4))))
    with pytest.raises(ValueError, match="5 channels exceed the room for 4"):
        maps.append(st.tensor(rng.standard_normal((2, 2, 5, 4)).astype(np.float32)))


def test_a_dense_blocks_layers_read_views_of_one_buffer():
    """Each dense layer's input is a view of its block's buffer, not a copy of the maps."""
    model = densenet_bc(depth=10, growth_rate=4, in_channels=1, input_size=8)
    seen = []
    block = model.features.denseblock1
    for layer in block.values():
        layer.register_forward_hook(lambda m, args, out: seen.append(args[0].numpy()))
    model(st.randn(2, 1, 8, 8))
    assert len(seen) == len(block) == 1
    assert all(np.shares_memory(a, seen[-1]) for a in seen)
    assert [a.shape[1] for a in seen] == [8 + 4 * i for i in range(len(block))]
