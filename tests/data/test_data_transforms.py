"""Batch augmentations: shapes, exact pixel movement, determinism from the generator."""

import numpy as np
import pytest

from striate.data import Compose, Normalizer, RandomCrop, RandomHorizontalFlip, RandomTranslate


@pytest.fixture
def batch():
    return np.arange(6 * 2 * 7 * 9, dtype=np.float32).reshape(6, 2, 7, 9) + 1


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_random_crop_windows_are_real_crops(batch):
    out = RandomCrop((5, 4), padding=0)(batch, _rng())
    assert out.shape == (6, 2, 5, 4) and out.dtype == batch.dtype
    for img, crop in zip(batch, out, strict=True):  # each crop is some window of its image
        windows = np.lib.stride_tricks.sliding_window_view(img, (5, 4), axis=(1, 2))
        assert any(np.array_equal(windows[:, i, j], crop)
                   for i in range(windows.shape[1]) for j in range(windows.shape[2]))


def test_random_crop_padding_zero_filled(batch):
    out = RandomCrop(7, padding=3)(batch[:, :, :, :7], _rng(3))
    assert out.shape == (6, 2, 7, 7)
    kept = (out != 0).sum(axis=(1, 2, 3))
    assert kept.min() >= 2 * 4 * 4 and (kept < 2 * 49).any()  # some shifted, padding zeros


def test_random_translate_matches_np_roll_with_fill(batch):
    rng = _rng(5)
    out = RandomTranslate((2, 3))(batch, rng)
    replay = _rng(5)
    top, left = replay.integers(0, 5, size=6), replay.integers(0, 7, size=6)
    for i in range(6):
        dy, dx = 2 - top[i], 3 - left[i]
        expected = np.zeros_like(batch[i])
        src = batch[i][:, max(0, -dy):7 - max(0, dy), max(0, -dx):9 - max(0, dx)]
        expected[:, max(0, dy):max(0, dy) + src.shape[1],
                 max(0, dx):max(0, dx) + src.shape[2]] = src
        np.testing.assert_array_equal(out[i], expected)


def test_flip(batch):
    out = RandomHorizontalFlip(p=0.5)(batch, _rng(1))
    flipped = np.array([np.array_equal(o, b[:, :, ::-1]) for o, b in zip(out, batch, strict=True)])
    same = np.array([np.array_equal(o, b) for o, b in zip(out, batch, strict=True)])
    assert np.all(flipped ^ same) and flipped.any() and same.any()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(batch, _rng()), batch[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(batch, _rng()), batch)


def test_determinism_and_own_generator(batch):
    pipeline = Compose([RandomCrop(7, padding=2), RandomHorizontalFlip(), RandomTranslate(1)])
    a, b = pipeline(batch, _rng(7)), pipeline(batch, _rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, pipeline(batch, _rng(8)))
    own = RandomCrop(5, generator=_rng(2))
    np.testing.assert_array_equal(own(batch), RandomCrop(5)(batch, _rng(2)))


def test_compose_with_normalizer_gives_float32():
    images = np.random.default_rng(0).integers(0, 256, (8, 1, 28, 28), dtype=np.uint8)
    norm = Normalizer().fit(images)
    out = Compose([RandomCrop(28, 2), norm])(images, _rng())
    assert out.dtype == np.float32 and out.shape == (8, 1, 28, 28)


def test_errors(batch):
    with pytest.raises(ValueError, match=r"crop \(8, 8\) larger than the padded image \(7, 9\)"):
        RandomCrop(8)(batch, _rng())
    with pytest.raises(ValueError, match=r"RandomCrop.*\(N, C, H, W\).*\(2, 7, 9\)"):
        RandomCrop(3)(batch[0], _rng())
    with pytest.raises(ValueError, match="p must be in"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="non-negative int"):
        RandomTranslate(-1)
