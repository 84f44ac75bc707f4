"""Resize, random-resized crop, random erasing, rotation, colour jitter, mixup and CutMix: their
semantics, their statistics, determinism from the generator, and agreement with PyTorch (whose
interpolate and grid_sample torchvision's transforms are built on) and torchvision where it is
installed."""

import math

import numpy as np
import pytest

from striate.data import (
    ColorJitter,
    Compose,
    CutMix,
    DataLoader,
    MixedLabels,
    Mixup,
    RandomErasing,
    RandomMix,
    RandomResizedCrop,
    RandomRotation,
    Resize,
)
from striate.data.arrays import ArrayDataset
from striate.data.colour import adjust_brightness, adjust_contrast, adjust_saturation, grey
from striate.data.mixing import cutmix, mixed_loss, mixup
from striate.data.resample import resized_crop, rotate


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture
def images():
    return _rng(0).integers(0, 256, (6, 3, 13, 17), dtype=np.uint8)


@pytest.fixture
def floats():
    return _rng(1).random((5, 3, 11, 14), dtype=np.float32)


def torch_or_skip():
    return pytest.importorskip("torch")


# --- resize and random-resized crop ---------------------------------------------------------------


@pytest.mark.parametrize("size", [(11, 14), (22, 31), (5, 6), (7, 20)])
def test_resize_is_pytorch_bilinear_interpolation(floats, size):
    torch = torch_or_skip()
    expected = torch.nn.functional.interpolate(torch.from_numpy(floats), size=size,
                                               mode="bilinear", align_corners=False)
    out = Resize(size)(floats)
    assert out.shape == (5, 3, *size) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected.numpy(), atol=2e-6)


def test_resized_crop_is_a_crop_then_pytorch_interpolation(floats):
    torch = torch_or_skip()
    top, left, h, w = np.array([0, 3, 1, 5, 2]), np.array([0, 2, 7, 0, 4]), \
        np.array([11, 4, 9, 6, 1]), np.array([14, 9, 3, 14, 1])
    out = resized_crop(floats, top, left, h, w, (8, 10))
    for i in range(5):
        crop = torch.from_numpy(floats[i:i + 1, :, top[i]:top[i] + h[i], left[i]:left[i] + w[i]])
        expected = torch.nn.functional.interpolate(crop, size=(8, 10), mode="bilinear",
                                                   align_corners=False)
        np.testing.assert_allclose(out[i], expected[0].numpy(), atol=2e-6)


def test_uint8_batches_stay_uint8_and_same_size_is_identity(images):
    out = Resize((26, 34))(images)
    assert out.dtype == np.uint8 and out.shape == (6, 3, 26, 34)
    assert Resize((13, 17))(images) is images
    np.testing.assert_array_equal(resized_crop(images, 0, 0, 13, 17, (13, 17)), images)


def test_random_resized_crop_boxes_follow_torchvision_semantics():
    t = RandomResizedCrop(32)
    top, left, h, w = t.boxes((4000, 3, 40, 50), _rng(3))
    assert ((h >= 1) & (h <= 40) & (w >= 1) & (w <= 50)).all()
    assert ((top >= 0) & (top + h <= 40) & (left >= 0) & (left + w <= 50)).all()
    area = h * w / (40 * 50)
    assert area.min() > 0.06 and area.max() == 1.0 and 0.45 < area.mean() < 0.6
    ratio = w / h  # drawn in [3/4, 4/3] before rounding and clipping to the image
    assert np.quantile(ratio, 0.05) > 0.7 and np.quantile(ratio, 0.95) < 1.45
    assert top.max() >= 25 and left.max() >= 35 and len(set(zip(top, left, strict=True))) > 500


def test_random_resized_crop_falls_back_to_the_central_box():
    top, left, h, w = RandomResizedCrop(8, scale=(1, 1), ratio=(2, 2)).boxes((3, 1, 20, 20),
                                                                            _rng())
    np.testing.assert_array_equal(w, 20)
    np.testing.assert_array_equal(h, 10)  # the widest 2:1 box of a square, centred
    np.testing.assert_array_equal(top, 5)
    np.testing.assert_array_equal(left, 0)


def test_random_resized_crop_output_size_and_whole_image_box(images):
    out = RandomResizedCrop((9, 7))(images, _rng(1))
    assert out.shape == (6, 3, 9, 7) and out.dtype == np.uint8
    whole = RandomResizedCrop((13, 17), scale=(1, 1), ratio=(17 / 13, 17 / 13))
    np.testing.assert_array_equal(whole(images, _rng(2)), images)


# --- random erasing -------------------------------------------------------------------------------


def erased_boxes(before: np.ndarray, after: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """Per image, the (top, left, height, width) of the one rectangle where ``after`` differs
    from ``before``, None where nothing changed; fails if the changes are not one rectangle."""
    boxes = []
    for b, a in zip(before, after, strict=True):
        rows, cols = np.nonzero((b != a).any(axis=0))
        if rows.size == 0:
            boxes.append(None)
            continue
        top, left = rows.min(), cols.min()
        h, w = rows.max() - top + 1, cols.max() - left + 1
        boxes.append((top, left, h, w))
    return boxes


def test_random_erasing_blanks_one_box_per_chosen_image():
    batch = _rng(0).integers(1, 256, (2000, 2, 24, 30), dtype=np.uint8)  # no zero pixels
    out = RandomErasing(p=0.5, value=0)(batch, _rng(1))
    assert out.dtype == np.uint8 and out.shape == batch.shape
    boxes = erased_boxes(batch, out)
    chosen = [box for box in boxes if box is not None]
    assert 0.45 < len(chosen) / len(boxes) < 0.55
    for (top, left, h, w), b, a in zip(chosen, batch[[box is not None for box in boxes]],
                                       out[[box is not None for box in boxes]], strict=True):
        assert (a[:, top:top + h, left:left + w] == 0).all()  # every channel, the whole box
        kept = np.ones(a.shape[1:], bool)
        kept[top:top + h, left:left + w] = False
        np.testing.assert_array_equal(a[:, kept], b[:, kept])
    area = np.array([h * w for _, _, h, w in chosen]) / (24 * 30)
    assert area.min() > 0.01 and area.max() < 0.36 and 0.14 < area.mean() < 0.21
    ratio = np.array([w / h for _, _, h, w in chosen])
    assert np.quantile(ratio, 0.05) < 0.5 and np.quantile(ratio, 0.95) > 2
    tops = np.array([t for t, _, _, _ in chosen])
    assert tops.min() == 0 and (tops > 12).any()


def test_random_erasing_values_and_edge_cases(images, floats):
    np.testing.assert_array_equal(RandomErasing(p=0)(images, _rng()), images)
    noise = RandomErasing(p=1, value="random")(images, _rng(2))
    assert noise.dtype == np.uint8 and all(box is not None
                                           for box in erased_boxes(images, noise))
    noisy = RandomErasing(p=1, value="random")(floats, _rng(3))
    assert noisy.dtype == np.float32 and 0 <= noisy.min() and noisy.max() <= 1
    filled = RandomErasing(p=1, value=0.5)(floats, _rng(4))
    changed = filled != floats
    assert changed.any() and (filled[changed] == 0.5).all()
    # no box of at least 90 % of the area fits a ratio of 10: every image is left alone
    wide = RandomErasing(p=1, scale=(0.9, 1), ratio=(10, 10))
    np.testing.assert_array_equal(wide(floats, _rng()), floats)


@pytest.mark.parametrize("kwargs", [{"p": 1.5}, {"scale": (0.5, 0.2)}, {"scale": (0, 0.3)},
                                    {"ratio": (3, 1)}, {"value": "noise"}])
def test_random_erasing_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="RandomErasing"):
        RandomErasing(**kwargs)


# --- rotation -------------------------------------------------------------------------------------


def torchvision_rotate(torch, batch: np.ndarray, degrees: float) -> np.ndarray:
    """torchvision.transforms.functional.rotate(batch, degrees, BILINEAR) (fill None), as it
    computes it: an inverse affine grid about the centre, then grid_sample."""
    n, _, h, w = batch.shape
    rot = math.radians(-degrees)
    theta = torch.tensor([[math.cos(rot), math.sin(rot), 0.0],
                          [-math.sin(rot), math.cos(rot), 0.0]], dtype=torch.float32)
    base = torch.empty(1, h, w, 3)
    base[..., 0] = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w)
    base[..., 1] = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h)[:, None]
    base[..., 2] = 1
    grid = base.view(1, h * w, 3).bmm(theta.T[None] / torch.tensor([0.5 * w, 0.5 * h]))
    grid = grid.view(1, h, w, 2).expand(n, h, w, 2)
    return torch.nn.functional.grid_sample(torch.from_numpy(batch), grid, mode="bilinear",
                                           padding_mode="zeros", align_corners=False).numpy()


@pytest.mark.parametrize("degrees", [7.0, -13.0, 90.0, 180.0])
def test_rotate_is_torchvisions_rotation(floats, degrees):
    torch = torch_or_skip()
    np.testing.assert_allclose(rotate(floats, degrees), torchvision_rotate(torch, floats, degrees),
                               atol=1e-5)


def test_rotation_by_zero_is_identity_and_by_90_is_rot90(images, floats):
    np.testing.assert_array_equal(rotate(images, 0.0), images)
    np.testing.assert_array_equal(RandomRotation(0)(images, _rng()), images)
    square = floats[:, :, :11, :11]
    np.testing.assert_allclose(rotate(square, 90.0), np.rot90(square, 1, axes=(2, 3)), atol=1e-5)


def test_rotation_fills_the_corners_and_draws_angles_in_range(images):
    constant = np.full((2, 1, 9, 9), 7.0, np.float32)
    out = rotate(constant, 45.0, fill=3.0)
    assert out[0, 0, 0, 0] == pytest.approx(3.0) and out[0, 0, 4, 4] == pytest.approx(7.0)
    np.testing.assert_allclose(rotate(constant, 30.0, fill=7.0), constant, atol=1e-5)
    replay = _rng(4).uniform(-15, 15, 6)
    np.testing.assert_array_equal(RandomRotation(15)(images, _rng(4)), rotate(images, replay))


# --- colour jitter --------------------------------------------------------------------------------


def test_colour_jitter_with_zero_strength_is_identity(images, floats):
    np.testing.assert_array_equal(ColorJitter()(images, _rng()), images)
    np.testing.assert_array_equal(ColorJitter(0, 0, 0)(floats, _rng()), floats)


def test_colour_adjustments_follow_their_formulas(floats):
    f = np.array([0.5, 1.0, 1.5, 0.0, 2.0], np.float32)
    np.testing.assert_allclose(adjust_brightness(floats, f, 1.0),
                               np.clip(floats * f[:, None, None, None], 0, 1))
    low = adjust_contrast(floats, np.full(5, 0.5, np.float32), 10.0)
    np.testing.assert_allclose(grey(low).mean(axis=(1, 2, 3)), grey(floats).mean(axis=(1, 2, 3)),
                               rtol=2e-4)  # contrast keeps the mean luma (weights sum to 0.9999)
    flat = adjust_saturation(floats, np.zeros(5, np.float32), 1.0)
    np.testing.assert_allclose(flat, np.repeat(grey(floats), 3, axis=1), rtol=1e-6)
    one = floats[:, :1]
    assert adjust_saturation(one, f, 1.0) is one  # grey images have no saturation


def test_colour_jitter_draws_per_image_and_clips_to_the_dtype(images):
    out = ColorJitter(brightness=0.9)(images, _rng(5))
    replay = _rng(5).uniform(0.1, 1.9, 6)
    expected = np.clip(np.rint(images * replay[:, None, None, None].astype(np.float32)), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))
    grey_out = ColorJitter(0.4, 0.4, 0.4)(images[:, :1], _rng(6))
    assert grey_out.shape == (6, 1, 13, 17) and grey_out.dtype == np.uint8


def test_colour_functions_match_torchvision(floats):
    torch_or_skip()
    F = pytest.importorskip("torchvision.transforms.functional")
    import torch

    x, f = torch.from_numpy(floats), [0.3, 0.9, 1.0, 1.4, 2.2]
    for ours, theirs in ((adjust_brightness, F.adjust_brightness),
                         (adjust_contrast, F.adjust_contrast),
                         (adjust_saturation, F.adjust_saturation)):
        expected = np.stack([theirs(x[i], f[i]).numpy() for i in range(5)])
        np.testing.assert_allclose(ours(floats, np.array(f, np.float32), 1.0), expected,
                                   atol=1e-6)
    np.testing.assert_allclose(rotate(floats, 11.0), F.rotate(x, 11.0, F.InterpolationMode.BILINEAR)
                               .numpy(), atol=1e-5)
    expected = F.resized_crop(x, 2, 3, 7, 9, [12, 5], antialias=False).numpy()
    np.testing.assert_allclose(resized_crop(floats, 2, 3, 7, 9, (12, 5)), expected, atol=2e-6)


# --- mixup and CutMix -----------------------------------------------------------------------------


def test_mixup_with_lambda_one_is_identity_and_mixes_linearly(floats):
    labels = np.arange(5)
    order = np.array([4, 3, 2, 1, 0])
    out, mixed = mixup(floats, labels, 1.0, order)
    np.testing.assert_array_equal(out, floats)
    np.testing.assert_array_equal(np.asarray(mixed), labels)
    out, mixed = mixup(floats, labels, 0.3, order)
    np.testing.assert_allclose(out, 0.3 * floats + 0.7 * floats[order], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(mixed), labels[order])  # the dominant one
    assert out.dtype == np.float32 and len(mixed) == 5


def test_mixup_lambda_is_beta_distributed():
    lams = [Mixup(0.2)(np.zeros((2, 1, 1, 1)), np.arange(2), _rng(s))[1].lam for s in range(400)]
    lams = np.array(lams)
    assert abs(lams.mean() - 0.5) < 0.06  # Beta(α, α) is symmetric
    assert ((lams < 0.1) | (lams > 0.9)).mean() > 0.5  # and for α = 0.2, U-shaped


def test_cutmix_box_area_matches_lambda():
    n, h, w = 8, 12, 20
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None],
                             (n, 2, h, w)).copy()
    for seed in range(20):
        out, mixed = CutMix(1.0)(images, np.arange(n), _rng(seed))
        pasted = (out != images).any(axis=1).sum(axis=(1, 2))
        moved = mixed.b != mixed.a
        assert np.all(pasted[moved] == round((1 - mixed.lam) * h * w))
        for i in range(n):  # what was pasted comes from image π(i), labelled b[i]
            assert np.all(out[i][out[i] != images[i]] == mixed.b[i])
    out, mixed = cutmix(images, np.arange(n), (2, 2, 0, 20), np.arange(n)[::-1])
    np.testing.assert_array_equal(out, images)
    assert mixed.lam == 1.0


def test_mixed_loss_is_the_lambda_weighted_cross_entropy():
    from striate import Tensor
    from striate.nn import functional as F

    logits = Tensor(_rng(2).standard_normal((4, 3)).astype(np.float32))
    a, b = np.array([0, 1, 2, 0]), np.array([2, 2, 1, 1])
    mixed = MixedLabels(a, b, 0.3)
    soft = 0.3 * np.eye(3, dtype=np.float32)[a] + 0.7 * np.eye(3, dtype=np.float32)[b]
    assert mixed_loss(F.cross_entropy, logits, mixed).item() == pytest.approx(
        F.cross_entropy(logits, Tensor(soft)).item(), rel=1e-6)
    assert mixed_loss(F.cross_entropy, logits, MixedLabels(a, b, 1.0)).item() == \
        mixed_loss(F.cross_entropy, logits, a).item()


def test_random_mix_picks_both_and_errors():
    kinds = {type(RandomMix([Mixup(), CutMix()]).mixers[int(_rng(s).integers(2))]).__name__
             for s in range(10)}
    assert kinds == {"Mixup", "CutMix"}
    with pytest.raises(ValueError, match="alpha must be a positive finite number"):
        Mixup(0.0)
    with pytest.raises(ValueError, match="at least one mixer"):
        RandomMix([])


# --- determinism and exact resume -----------------------------------------------------------------


@pytest.mark.parametrize("transform", [
    RandomResizedCrop(10), RandomRotation(20), ColorJitter(0.4, 0.4, 0.4),
    RandomErasing(value="random"),
], ids=repr)
def test_each_transform_is_determined_by_its_generator(images, transform):
    a, b = transform(images, _rng(7)), transform(images, _rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, transform(images, _rng(8)))


def test_loader_mixing_resumes_exactly():
    rng = _rng(9)
    data = ArrayDataset(rng.integers(0, 256, (40, 3, 12, 12), dtype=np.uint8),
                        rng.integers(0, 4, 40))

    def loader():
        return DataLoader(data, 8, shuffle=True, generator=_rng(1), num_workers=2,
                          transform=Compose([RandomResizedCrop(12), RandomRotation(),
                                             ColorJitter(0.4, 0.4, 0.4)]),
                          mix=RandomMix([Mixup(), CutMix()]))

    first = loader()
    batches = list(first)
    assert all(isinstance(labels, MixedLabels) for _, labels in batches)
    second = loader()
    it = iter(second)
    next(it), next(it)
    state = second.state_dict()
    third = loader()
    third.load_state_dict(state)
    for (x, y), (x2, y2) in zip(batches[2:], third, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y.b, y2.b)
        assert y.lam == y2.lam
