"""ImageFolder on messy folders: mixed modes and sizes, bad files, links, hidden entries."""

import importlib
import os
import struct
import threading
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest

from striate.data import ArrayDataset, DatasetError, ImageFolder

Image = pytest.importorskip("PIL.Image")
image_file = importlib.import_module("striate.data.image_file")


def save(path, array, fmt=None, **info):
    """Write ``array`` as an image file (parents created); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array)).save(path, fmt, **info)
    return path


def grey(value=0, shape=(6, 5)):
    return np.full(shape, value, np.uint8)


def two_classes(root, n=2, shape=(6, 5)):
    """``root/a`` and ``root/b`` with ``n`` grey PNGs each; the paths in label order."""
    return [save(root / c / f"{i}.png", grey(10 * i + 100 * k, shape))
            for k, c in enumerate("ab") for i in range(n)]


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose header announces ``width`` x ``height`` (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_modes_mixed_are_converted(tmp_path):
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3], rgba[0, 0] = 200, 255, (10, 20, 30, 0)  # one transparent pixel
    wide = np.full((6, 5), 65535, np.uint16)
    wide[0, 0] = 32896  # 32896 / 257 = 128
    save(tmp_path / "a" / "grey.png", grey(7))
    save(tmp_path / "a" / "rgb.jpg", np.full((6, 5, 3), 128, np.uint8), quality=100)
    save(tmp_path / "a" / "rgba.png", rgba)
    save(tmp_path / "a" / "wide.png", wide)
    save(tmp_path / "b" / "la.png", np.dstack([grey(50), grey(0)]))
    pal = Image.new("P", (5, 6), 3)
    pal.putpalette([v for c in range(256) for v in (c, 0, 0)])
    pal.save(tmp_path / "b" / "pal.png", transparency=3)
    save(tmp_path / "b" / "bits.png", np.ones((6, 5), bool))
    save(tmp_path / "b" / "grey.bmp", grey(255))
    Image.new("CMYK", (5, 6), (0, 0, 0, 0)).save(tmp_path / "b" / "cmyk.jpg")
    folder = ImageFolder(tmp_path)
    assert folder.mode == "RGB" and folder.channels == 3 and folder.image_shape == (3, 6, 5)
    by_name = {p.name: folder[i][0] for i, (p, _) in enumerate(folder.samples)}
    assert all(a.shape == (3, 6, 5) and a.dtype == np.uint8 for a in by_name.values())
    assert (by_name["grey.png"] == 7).all()
    assert (by_name["rgba.png"][:, 0, 0] == 255).all()  # transparent: the white background
    assert by_name["rgba.png"][:, 1, 1].tolist() == [200, 0, 0]
    assert by_name["wide.png"][0, 0, 0] == 128 and by_name["wide.png"][0, 1, 1] == 255
    assert (by_name["la.png"] == 255).all()  # alpha 0 everywhere
    assert (by_name["pal.png"] == 255).all()  # palette entry 3 is transparent
    assert (by_name["cmyk.jpg"] == 255).all()
    assert (by_name["bits.png"] == 255).all() and (by_name["grey.bmp"] == 255).all()
    rgba_index = folder.samples.index((tmp_path / "a" / "rgba.png", 0))
    grey_folder = ImageFolder(tmp_path, mode="L")
    assert grey_folder.image_shape == (1, 6, 5) and grey_folder[rgba_index][0][0, 0, 0] == 255


def test_mode_guess_is_grey_only_when_every_image_is(tmp_path):
    two_classes(tmp_path)
    save(tmp_path / "b" / "wide.png", np.zeros((6, 5), np.uint16))
    folder = ImageFolder(tmp_path)
    assert folder.mode == "L" and folder.image_shape == (1, 6, 5)
    rgb = ImageFolder(tmp_path, mode="RGB")
    images, _ = rgb.batch(np.arange(len(rgb)))
    assert images.shape == (5, 3, 6, 5) and (images == images[:, :1]).all()
    Image.fromarray(grey(1)).convert("P").save(tmp_path / "b" / "palette.png")
    assert ImageFolder(tmp_path).mode == "RGB"  # palette images count as colour


def test_different_sizes_need_size(tmp_path):
    two_classes(tmp_path, n=3)
    save(tmp_path / "b" / "big.png", grey(0, (8, 9)))
    save(tmp_path / "b" / "other.png", grey(0, (2, 3)))
    save(tmp_path / "b" / "more.png", grey(0, (4, 3)))
    save(tmp_path / "b" / "last.png", grey(0, (5, 3)))
    with pytest.raises(DatasetError) as info:
        ImageFolder(tmp_path)
    msg = str(info.value)
    assert "different sizes" in msg and "6x5 (6 images, e.g. 'a/0.png')" in msg
    assert "5x3 (1 image, e.g. 'b/last.png') and 2 more" in msg
    assert "pass --image-size N (or size=(h, w))" in msg
    folder = ImageFolder(tmp_path, size=(4, 7))
    assert folder.image_shape == (1, 4, 7) and folder.load().images.shape == (10, 1, 4, 7)
    assert ImageFolder(tmp_path, "RGB", 3).image_shape == (3, 3, 3)
    with pytest.raises(ValueError, match="size must be"):
        ImageFolder(tmp_path, size=(0, 4))
    with pytest.raises(ValueError, match="mode must be"):
        ImageFolder(tmp_path, mode="RGBA")


def test_load_equals_batch_of_all(tmp_path):
    rng = np.random.default_rng(0)
    for k, c in enumerate(("cat", "dog", "emu")):
        for i in range(3 + k):
            save(tmp_path / c / f"{i}.png", rng.integers(0, 256, (4, 6, 3), dtype=np.uint8))
    folder = ImageFolder(tmp_path)
    ds = folder.load()
    assert isinstance(ds, ArrayDataset) and ds.classes == ["cat", "dog", "emu"]
    assert ds.images.shape == (12, 3, 4, 6) and ds.image_shape == folder.image_shape
    images, labels = folder.batch(np.arange(len(folder)))
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    np.testing.assert_array_equal(labels, folder.labels)
    assert labels.tolist() == [0] * 3 + [1] * 4 + [2] * 5 and folder.num_classes == 3
    np.testing.assert_array_equal(folder.batch(slice(2, 5))[0], images[2:5])
    np.testing.assert_array_equal(folder.batch(labels == 1)[0], images[3:7])
    np.testing.assert_array_equal(folder[-1][0], images[-1])
    assert folder.batch(np.array([], np.int64))[0].shape == (0, 3, 4, 6)


def test_load_preallocates(tmp_path):
    for c in "ab":
        for i in range(32):
            save(tmp_path / c / f"{i}.png", np.full((64, 64, 3), i, np.uint8))
    folder = ImageFolder(tmp_path)
    tracemalloc.start()
    try:
        images = folder.load().images
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes + 256 * 1024  # the result, one image at a time (not a stack)


def _bad_files():
    return {
        "empty.png": (b"", "is empty"),
        "text.jpg": (b"this is a text file\n" * 5, "is not a PNG/JPEG"),
        "bomb.png": (png_claiming(30000, 30000), "too large to decode safely"),
        "over_pillow_warning.png": (png_claiming(10000, 10000), "too large to decode safely"),
        "over_our_limit.png": (png_claiming(8200, 8200), "more than the limit of 67108864"),
        # found by fuzzing: Pillow's ValueError leaked out of the old ImageFolder
        "short_ihdr.png": (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00" * 5),
                           "cannot be decoded (ValueError: Truncated IHDR chunk)"),
    }


@pytest.mark.parametrize("name", sorted(_bad_files()))
def test_bad_file_named_or_skipped(tmp_path, name):
    good = two_classes(tmp_path)
    content, reason = _bad_files()[name]
    bad = tmp_path / "b" / "sub" / name
    bad.parent.mkdir()
    bad.write_bytes(content)
    pillow_limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with pytest.raises(DatasetError) as info:
        ImageFolder(tmp_path)
    msg = str(info.value)
    assert repr(str(bad)) in msg and reason in msg and "--skip-bad-images" in msg
    folder = ImageFolder(tmp_path, skip_bad=True)
    assert folder.skipped == [(bad, folder.skipped[0][1])] and reason in folder.skipped[0][1]
    assert [p for p, _ in folder.samples] == good and len(folder.load()) == 4
    # no process state changed: Pillow's limit and the warning filters are as they were
    assert Image.MAX_IMAGE_PIXELS == pillow_limit and warnings.filters == filters


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_fails_at_load_or_is_skipped(tmp_path, fmt):
    two_classes(tmp_path, shape=(64, 64))
    rng = np.random.default_rng(0)
    full = save(tmp_path / "full", rng.integers(0, 256, (64, 64), dtype=np.uint8), fmt=fmt)
    bad = tmp_path / "a" / f"cut.{fmt.lower()}"
    bad.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    folder = ImageFolder(tmp_path)  # the header is intact: the scan cannot tell
    assert len(folder) == 5
    with pytest.raises(DatasetError, match=rf"{bad.name}'.*truncated.*--skip-bad-images"):
        folder.load()
    skipping = ImageFolder(tmp_path, skip_bad=True)  # decodes during the scan
    assert len(skipping) == 4 and [p for p, _ in skipping.skipped] == [bad]
    assert skipping.load().images.shape == (4, 1, 64, 64)


def test_limits_follow_the_module_constant_and_pillow(tmp_path, monkeypatch):
    two_classes(tmp_path)
    monkeypatch.setattr(image_file, "MAX_IMAGE_PIXELS", 29)
    with pytest.raises(DatasetError, match=r"0\.png' is 5x6 pixels, more than the limit of 29"):
        ImageFolder(tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # the host lowered Pillow's own limit
    with pytest.raises(DatasetError, match="too large to decode safely.*exceeds limit"):
        ImageFolder(tmp_path)


def test_all_images_of_a_class_bad(tmp_path):
    two_classes(tmp_path)
    (tmp_path / "c").mkdir()
    for name in ("x.png", "y.jpeg"):
        (tmp_path / "c" / name).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match=r"folder '.*/c' has no readable images \(2 skipped"):
        ImageFolder(tmp_path, skip_bad=True)


def test_ignored_entries(tmp_path):
    two_classes(tmp_path)
    save(tmp_path / "a" / "UPPER.PNG", grey(1))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "labels.csv").write_text("x,y")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "a" / "._0.png").write_bytes(b"AppleDouble junk")
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "x.png").write_bytes(b"junk")
    save(tmp_path / ".ipynb_checkpoints" / "c.png", grey())
    save(tmp_path / "__MACOSX" / "a" / "d.png", grey())
    save(tmp_path / "loose.png", grey())  # not in a class folder
    folder = ImageFolder(tmp_path)
    assert folder.classes == ["a", "b"] and len(folder) == 5 and folder.skipped == []
    assert (tmp_path / "a" / "UPPER.PNG", 0) in folder.samples


def test_empty_and_single_class_folders(tmp_path):
    two_classes(tmp_path)
    (tmp_path / "c" / "deeper").mkdir(parents=True)
    (tmp_path / "c" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"class folder '.*/c' has no images \(\.png/"):
        ImageFolder(tmp_path)
    (tmp_path / "only" / "cat").mkdir(parents=True)
    save(tmp_path / "only" / "cat" / "x.png", grey())
    with pytest.raises(DatasetError, match=r"one class folder \('cat'\).*at least two"):
        ImageFolder(tmp_path / "only")
    with pytest.raises(DatasetError, match="no sub-folders"):
        ImageFolder(tmp_path / "only" / "cat")
    with pytest.raises(DatasetError, match="is not a folder"):
        ImageFolder(tmp_path / "missing")


def _finishes(fn, seconds=20.0):
    """Run ``fn`` in a thread; its result (or exception), failing if it runs past ``seconds``."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "ImageFolder did not finish: a link loop?"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_links_followed_loops_not(tmp_path):
    root = tmp_path / "root"
    two_classes(root)
    os.symlink(root / "a", root / "a" / "loop")  # a/loop -> a
    os.symlink(root, root / "b" / "up")  # b/up -> root: a, and b again
    save(tmp_path / "elsewhere" / "z.png", grey())
    os.symlink(tmp_path / "elsewhere", root / "a" / "linked")
    os.symlink(tmp_path / "nowhere.png", root / "b" / "dangling.png")
    with pytest.raises(DatasetError, match=r"dangling\.png' does not exist"):
        _finishes(lambda: ImageFolder(root))
    folder = _finishes(lambda: ImageFolder(root, skip_bad=True))
    assert [p.name for p, _ in folder.skipped] == ["dangling.png"]
    assert [str(p.relative_to(root)) for p, _ in folder.samples] == [
        "a/0.png", "a/1.png", "a/linked/z.png",
        "b/0.png", "b/1.png", "b/up/a/0.png", "b/up/a/1.png", "b/up/a/linked/z.png",
    ]


def test_deep_tree(tmp_path):
    two_classes(tmp_path)
    deep = tmp_path / "b" / os.path.join(*["d"] * 400)
    save(deep / "bottom.png", grey(9))
    folder = ImageFolder(tmp_path)
    assert len(folder) == 5 and folder[4][0].max() == 9


def test_damaged_chunk_length_does_not_allocate_it(tmp_path):
    """Regression (found by fuzzing): an IDAT length of 2**30 in a 300-byte PNG made Pillow ask
    the file for 2**30 bytes at once, which Python allocates before reading."""
    two_classes(tmp_path, shape=(8, 8))
    good = save(tmp_path / "b" / "x.png", np.arange(64, dtype=np.uint8).reshape(8, 8))
    data = bytearray(good.read_bytes())
    idat = data.index(b"IDAT") - 4
    data[idat] = 0x40  # the length's top byte: the chunk now claims >= 1 GiB
    good.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        for skip_bad in (False, True):
            try:
                ImageFolder(tmp_path, skip_bad=skip_bad).load()
            except DatasetError as exc:
                assert "x.png" in str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
