"""Normalizer: the seed's per-channel (μ_f) and per-pixel (μ_fjk) centring, σ, and state."""

import json

import numpy as np
import pytest

from striate.data import ArrayDataset, Normalizer
from striate.data import normalize as normalize_module


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(37, 3, 5, 4), dtype=np.uint8)


def test_channel_statistics(images):
    norm = Normalizer("channel").fit(images)
    x = images / 255.0
    np.testing.assert_allclose(norm.mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(norm.std, x.std(axis=(0, 2, 3)), rtol=1e-12)
    out = norm(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, rtol=1e-5)


def test_pixel_statistics_and_centring_only(images):
    norm = Normalizer("pixel", standardize=False).fit(images)
    x = images / 255.0
    np.testing.assert_allclose(norm.mean, x.mean(axis=0), rtol=1e-12)
    out = norm(images)
    np.testing.assert_allclose(out, x - x.mean(axis=0), atol=1e-6)
    std = Normalizer("pixel").fit(images)(images)
    np.testing.assert_allclose(std.std(axis=0), 1, rtol=1e-5)


def test_streaming_matches_one_pass(images, monkeypatch):
    monkeypatch.setattr(normalize_module, "_CHUNK_VALUES", 7 * 60)  # 7-image chunks, last short
    for mode in ("channel", "pixel"):
        chunked = Normalizer(mode).fit(images.astype(np.float64))
        monkeypatch.setattr(normalize_module, "_CHUNK_VALUES", 1 << 21)
        whole = Normalizer(mode).fit(images.astype(np.float64))
        monkeypatch.setattr(normalize_module, "_CHUNK_VALUES", 7 * 60)
        np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-12)
        np.testing.assert_allclose(chunked.std, whole.std, rtol=1e-12)
    assert chunked.scale == 1.0  # float input is not rescaled


def test_fit_on_dataset_and_constant_pixels():
    images = np.zeros((6, 1, 2, 2), np.uint8)
    images[:, 0, 0, 0] = np.arange(6)  # one varying pixel, three constant ones
    norm = Normalizer("pixel").fit(ArrayDataset(images, np.zeros(6, np.int64)))
    out = norm(images)
    assert np.isfinite(out).all() and np.all(out[:, 0, 1:, :] == 0)
    assert norm.std[0, 1, 1] == 0  # kept exact; only the division uses min_std


def test_state_round_trip_through_json(images):
    for mode in ("channel", "pixel"):
        norm = Normalizer(mode, standardize=mode == "channel").fit(images)
        back = Normalizer.from_state_dict(json.loads(json.dumps(norm.state_dict())))
        np.testing.assert_array_equal(back(images), norm(images))
        assert back.mode == mode and back.count == norm.count


def test_float64_output_option(images):
    out = Normalizer(dtype=np.float64).fit(images)(images)
    assert out.dtype == np.float64


def test_errors(images):
    with pytest.raises(RuntimeError, match="not fitted"):
        Normalizer()(images)
    with pytest.raises(ValueError, match="mode must be one of"):
        Normalizer("image")
    norm = Normalizer("channel").fit(images)
    with pytest.raises(ValueError, match=r"Normalizer \(channel\).*\(N, 3, H, W\).*\(2, 1, 5, 4\)"):
        norm(images[:2, :1])
    pix = Normalizer("pixel").fit(images)
    with pytest.raises(ValueError, match=r"\(N, 3, 5, 4\).*\(2, 3, 4, 4\)"):
        pix(images[:2, :, :4])
    with pytest.raises(ValueError, match="shape \\(N, C, H, W\\)"):
        Normalizer().fit(images[:, 0])
    with pytest.raises(ValueError, match="missing keys"):
        Normalizer.from_state_dict({"mode": "channel"})
