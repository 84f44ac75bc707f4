"""plot_confusion: K×K heatmap, percentages and counts in cells for small K."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from viz_png import assert_png  # noqa: E402

import striate.viz.confusion as confusion  # noqa: E402
from striate.viz import plot_confusion  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def _matrix(k, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 20, (k, k))
    m[np.diag_indices(k)] += 200
    return m


@pytest.fixture
def figures(monkeypatch):
    """Capture each saved figure (to inspect its texts) while still writing the PNG."""
    saved = []

    def save(fig, path):
        saved.append(fig)
        return real(fig, path)

    real = confusion.save_png
    monkeypatch.setattr(confusion, "save_png", save)
    return saved


@pytest.mark.parametrize("normalize", [True, False])
def test_ten_classes_have_text_in_every_cell(tmp_path, figures, normalize):
    path = tmp_path / "cm.png"
    assert_png(path, plot_confusion(_matrix(10), FASHION, path, normalize=normalize))
    texts = [t.get_text() for t in figures[0].axes[0].texts]
    assert len(texts) == 100
    if normalize:
        assert texts[0].endswith(")") and "%" in texts[0].split("\n")[0]
    else:
        assert "%" in texts[0].split("\n")[1]


def test_two_classes(tmp_path):
    assert_png(tmp_path / "cm.png",
               plot_confusion([[5, 1], [2, 7]], ["cat", "dog"], tmp_path / "cm.png"))


def test_thirty_classes_omit_cell_text(tmp_path, figures):
    path = tmp_path / "cm.png"
    assert_png(path, plot_confusion(_matrix(30), None, path))
    assert len(figures[0].axes[0].texts) == 0


def test_class_without_samples_and_empty_matrix(tmp_path):
    m = _matrix(4)
    m[2] = 0
    assert_png(tmp_path / "a.png", plot_confusion(m, list("abcd"), tmp_path / "a.png"))
    assert_png(tmp_path / "b.png", plot_confusion(np.zeros((3, 3)), None, tmp_path / "b.png"))


def test_float_counts(tmp_path):
    m = _matrix(3).astype(np.float32) / 3
    assert_png(tmp_path / "cm.png", plot_confusion(m, None, tmp_path / "cm.png", normalize=False))


def test_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"square .*\(2, 3\)"):
        plot_confusion(np.zeros((2, 3)), None, tmp_path / "x.png")
    with pytest.raises(ValueError, match="3 class names for a 2×2"):
        plot_confusion(np.eye(2), ["a", "b", "c"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-negative"):
        plot_confusion(-np.eye(2), None, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
