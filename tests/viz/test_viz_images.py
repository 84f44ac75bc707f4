"""Image grids: filters, feature maps, misclassified examples, and the display scaling below."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from viz_png import assert_png  # noqa: E402

from striate.viz import plot_feature_maps, plot_filters, plot_misclassified  # noqa: E402
from striate.viz._display import mosaic, to_display  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")
rng = np.random.default_rng(0)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


# --- display scaling -------------------------------------------------------------------------

def test_to_display_scales_per_image_and_keeps_unit_range_images():
    x = np.stack([np.full((1, 2, 2), 0.25), np.array([[[-3.0, 1.0], [5.0, 0.0]]]),
                  np.full((1, 2, 2), 7.0), np.array([[[0.1, 0.2], [0.3, 0.9]]])])
    kept = to_display(x, stretch=False)
    assert kept.shape == (4, 2, 2)
    np.testing.assert_allclose(kept[0], 0.25)               # constant, in range: as is
    np.testing.assert_allclose(kept[1], [[0, 0.5], [1, 0.375]])  # out of range: min-max
    np.testing.assert_allclose(kept[2], 1.0)                # constant, out of range: clipped
    np.testing.assert_allclose(kept[3], x[3, 0])            # in range: untouched
    stretched = to_display(x, stretch=True)
    np.testing.assert_allclose(stretched[3], (x[3, 0] - 0.1) / 0.8)


def test_to_display_rgb_and_channel_mean():
    rgb = to_display(rng.standard_normal((2, 3, 4, 5)), stretch=True)
    assert rgb.shape == (2, 4, 5, 3) and rgb.min() == 0 and rgb.max() == 1
    gray = to_display(rng.standard_normal((2, 4, 4, 5)), stretch=True)
    assert gray.shape == (2, 4, 5)


def test_mosaic_places_tiles_row_major_with_gaps():
    tiles = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = mosaic(tiles, 3, pad=1, top=2)
    assert grid.shape == (2 * (2 + 2 + 1) - 1, 3 * 4 - 1)
    np.testing.assert_array_equal(grid[2:4, 4:7], tiles[1])
    np.testing.assert_array_equal(grid[7:9, 4:7], tiles[4])
    assert np.isnan(grid[7:9, 8:11]).all() and np.isnan(grid[:2]).all()


# --- filters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 1, 5, 5), (1, 1, 3, 3), (8, 3, 5, 5), (5, 4, 3, 7),
                                   (64, 3, 3, 3)])
def test_filters(tmp_path, shape):
    path = tmp_path / "filters.png"
    assert_png(path, plot_filters(rng.standard_normal(shape).astype(np.float32), path))


def test_constant_and_nonfinite_filters(tmp_path):
    w = np.zeros((4, 3, 5, 5))
    w[1] = np.nan
    w[2] = 3.0
    assert_png(tmp_path / "f.png", plot_filters(w, tmp_path / "f.png"))


def test_filters_limit_and_bad_input(tmp_path):
    assert_png(tmp_path / "f.png", plot_filters(rng.standard_normal((300, 1, 3, 3)),
                                                tmp_path / "f.png", max_filters=10))
    with pytest.raises(ValueError, match=r"\(out, in, kh, kw\), got \(6, 5, 5\)"):
        plot_filters(np.zeros((6, 5, 5)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="max_filters"):
        plot_filters(np.zeros((6, 1, 5, 5)), tmp_path / "x.png", max_filters=0)


# --- feature maps ----------------------------------------------------------------------------

def test_feature_maps_gray_input(tmp_path):
    maps = [("conv1", rng.standard_normal((6, 24, 24))), ("pool1", rng.random((6, 12, 12))),
            ("conv2", rng.standard_normal((1, 16, 8, 8)))]  # batch dim of 1 is dropped
    assert_png(tmp_path / "fm.png", plot_feature_maps(rng.random((1, 28, 28)), maps,
                                                      tmp_path / "fm.png"))


def test_feature_maps_rgb_dict_limit_and_constant(tmp_path):
    maps = {"relu": np.zeros((32, 16, 16)), "wide": rng.standard_normal((4, 5, 9))}
    assert_png(tmp_path / "fm.png", plot_feature_maps(
        rng.standard_normal((3, 32, 32)), maps, tmp_path / "fm.png", max_maps=8))


def test_feature_maps_without_layers_and_2d_image(tmp_path):
    assert_png(tmp_path / "fm.png", plot_feature_maps(rng.random((28, 28)), [],
                                                      tmp_path / "fm.png"))


def test_feature_maps_bad_layer(tmp_path):
    with pytest.raises(ValueError, match=r"layer 'fc'.*\(C, H, W\), got \(10,\)"):
        plot_feature_maps(rng.random((1, 8, 8)), [("fc", np.zeros(10))], tmp_path / "x.png")


# --- misclassified ---------------------------------------------------------------------------

def _labels(n):
    return rng.integers(0, 10, n), rng.integers(0, 10, n)


@pytest.mark.parametrize("shape", [(25, 1, 28, 28), (7, 28, 28), (30, 3, 32, 32), (1, 1, 8, 8)])
def test_misclassified(tmp_path, shape):
    true, pred = _labels(shape[0])
    images = rng.standard_normal(shape)
    path = tmp_path / "mis.png"
    assert_png(path, plot_misclassified(images, true, pred, CLASSES, path,
                                        probs=rng.random(shape[0])))


def test_misclassified_prob_matrix_uint8_constant_and_no_names(tmp_path):
    images = rng.integers(0, 256, (4, 1, 10, 10)).astype(np.uint8)
    images[0] = 0
    true, pred = _labels(4)
    probs = rng.dirichlet(np.ones(10), size=4)
    assert_png(tmp_path / "m.png", plot_misclassified(images, true, pred, None,
                                                      tmp_path / "m.png", probs=probs))


def test_misclassified_none(tmp_path):
    path = tmp_path / "m.png"
    assert_png(path, plot_misclassified(np.zeros((0, 1, 8, 8)), [], [], CLASSES, path))


def test_misclassified_bad_input(tmp_path):
    images = np.zeros((3, 1, 8, 8))
    with pytest.raises(ValueError, match="must match"):
        plot_misclassified(images, [1, 2], [1, 2, 3], CLASSES, tmp_path / "x.png")
    with pytest.raises(ValueError, match="label 12 outside the 10 classes"):
        plot_misclassified(images, [1, 12, 3], [1, 2, 3], CLASSES, tmp_path / "x.png")
    with pytest.raises(ValueError, match="probs"):
        plot_misclassified(images, [1, 2, 3], [1, 2, 3], CLASSES, tmp_path / "x.png",
                           probs=np.ones(4))
    assert list(tmp_path.iterdir()) == []
