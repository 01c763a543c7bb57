"""Training data: loading, masks, near-gray detection, label-true augmentation, sparse targets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from colorizer.bins import BinScheme
from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.train.augment import AugmentConfig, augment
from colorizer.train.data import (DataError, SampleConfig, find_images, is_near_gray, load_color_image, load_image_set,
                                  make_sample, read_manifest, sparse_targets)
from colorizer.train.degrade import OldPrintConfig


def colourful(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(6 * xx + rng.uniform(0, 6)), 0.5 + 0.4 * np.cos(5 * yy + rng.uniform(0, 6)),
                    0.5 + 0.4 * np.sin(4 * (xx + yy))], axis=-1)
    return np.clip(img, 0, 1).astype(np.float32)


def save(path, arr) -> None:
    Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


@pytest.mark.parametrize("scheme_name", ["hue_chroma", "lab_marginal", "lab_joint"])
def test_sparse_targets_match_dense_encode(scheme_name: str) -> None:
    scheme = BinScheme(scheme_name, 8)
    rgb = colourful(20, 24)
    valid = np.ones((20, 24), bool)
    valid[:5, :7] = False
    pixels = np.array([[0, 0], [10, 12], [19, 23], [4, 8], [6, 6]])
    dense, dense_w = scheme.encode(rgb, 5, mask=valid)
    sparse, sparse_w = sparse_targets(rgb, valid, pixels, scheme, 5)
    for d, s in zip(dense, sparse):
        np.testing.assert_allclose(s, d[pixels[:, 0], pixels[:, 1]], atol=1e-5)
    np.testing.assert_allclose(sparse_w, dense_w[pixels[:, 0], pixels[:, 1]], atol=1e-5)


def test_load_rgba_mask_only_fully_opaque(tmp_path) -> None:
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :6, 3] = 255
    rgba[:, 6:9, 3] = 128
    Image.fromarray(rgba).save(tmp_path / "cut.webp", lossless=True)
    rgb, mask = load_color_image(tmp_path / "cut.webp")
    assert rgb.shape == (10, 12, 3) and mask is not None
    assert mask[:, :6].all() and not mask[:, 6:].any()
    save(tmp_path / "full.png", colourful(10, 12))
    assert load_color_image(tmp_path / "full.png")[1] is None


def test_unreadable_file_names_the_file(tmp_path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        load_color_image(bad)
    loaded = load_image_set([bad])
    assert len(loaded) == 0 and str(bad) in loaded.skipped


def test_find_images_recursive_and_manifest(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    save(tmp_path / "a" / "x.jpg", colourful())
    save(tmp_path / "a" / "b" / "y.PNG", colourful())
    (tmp_path / "a" / "notes.txt").write_text("x")
    found = find_images([tmp_path / "a"])
    assert sorted(p.name for p in found) == ["x.jpg", "y.PNG"]
    (tmp_path / "MANIFEST.tsv").write_text("file\tlicence\tsplit\na/x.jpg\tCC0\ttrain\na/b/y.PNG\tCC0\tval\n")
    assert [p.name for p in read_manifest(tmp_path, "val")] == ["y.PNG"]
    with pytest.raises(DataError, match="split='test'"):
        read_manifest(tmp_path, "test")


def test_near_gray_images_are_skipped(tmp_path) -> None:
    gray = np.repeat(colourful()[..., :1], 3, axis=-1)
    assert is_near_gray(gray) and not is_near_gray(colourful())
    save(tmp_path / "gray.png", gray)
    save(tmp_path / "colour.png", colourful())
    loaded = load_image_set(find_images([tmp_path]))
    assert [p.name for p in loaded.paths] == ["colour.png"]
    assert loaded.skipped[str(tmp_path / "gray.png")] == "near-gray"


def test_lightness_jitter_never_changes_targets() -> None:
    scheme = BinScheme()
    rgb = colourful(80, 90)
    samp = SampleConfig(positions=64)
    plain = make_sample(rgb, None, np.random.default_rng(3), scheme, AugmentConfig(64, 96, contrast=0, gamma=0), samp)
    jit = make_sample(rgb, None, np.random.default_rng(3), scheme, AugmentConfig(64, 96, contrast=0.3, gamma=0.3), samp)
    for a, b in zip(plain.targets, jit.targets):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(plain.lightness, jit.lightness)
    assert plain.lightness.shape[0] == plain.lightness.shape[1] and 64 <= plain.lightness.shape[0] <= 96
    assert np.all(np.abs(plain.positions) < 1)
    for t in plain.targets:
        np.testing.assert_allclose(t.sum(-1), 1.0, atol=1e-5)


def test_unjittered_crop_lightness_is_luma_of_colour() -> None:
    rgb = colourful(64, 64)
    s = make_sample(rgb, None, np.random.default_rng(0), BinScheme(), AugmentConfig(enabled=False, max_size=64),
                    SampleConfig(positions=16))
    np.testing.assert_allclose(s.lightness, luma(rgb), atol=1e-5)


def test_cutout_targets_come_from_opaque_pixels_only() -> None:
    rgb = np.zeros((40, 40, 3), np.float32)
    rgb[..., 1] = 0.9  # green everywhere ...
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    rgb[mask] = [0.9, 0.1, 0.1]  # ... except the opaque red object
    scheme = BinScheme("hue_chroma", 32)
    for seed in range(5):
        s = make_sample(rgb, mask, np.random.default_rng(seed), scheme, AugmentConfig(48, 64), SampleConfig(positions=64))
        hue = s.targets[0]
        red = hue[:, 0] + hue[:, -1]
        np.testing.assert_allclose(red, 1.0, atol=1e-5)


def red_square_cutout(size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.zeros((size, size, 3), np.float32)
    mask = np.zeros((size, size), bool)
    mask[10:30, 10:30] = True
    rgb[mask] = [0.9, 0.1, 0.1]
    return rgb, mask


def test_supervised_flat_backdrops_are_near_neutral_ground_truth() -> None:
    rgb, mask = red_square_cutout()
    scheme = BinScheme("hue_chroma", 32)
    aug = AugmentConfig(48, 64, background="flat_supervised")
    for seed in range(5):
        crop, valid = augment(rgb, mask, np.random.default_rng(seed), aug)
        assert valid.mean() > 0.8  # object and backdrop both count, only the seam does not
        _, chroma = rgb_to_hue_chroma(crop[valid])
        backdrop = chroma <= 0.07
        assert backdrop.mean() > 0.02 and (backdrop | (chroma > 0.75)).all()
    s = make_sample(rgb, mask, np.random.default_rng(0), scheme, aug, SampleConfig(positions=64))
    assert s.targets[1][:, :3].sum(-1).max() > 0.99  # some targets are the backdrop's low chroma


def test_photo_backdrops_come_from_the_given_photos_and_are_supervised() -> None:
    rgb, mask = red_square_cutout()
    backdrop = np.zeros((50, 70, 3), np.float32)
    backdrop[..., 2] = 0.8  # a blue photo
    for seed in range(4):
        crop, valid = augment(rgb, mask, np.random.default_rng(seed), AugmentConfig(48, 64, background="photo"),
                              backgrounds=[backdrop])
        hue, chroma = rgb_to_hue_chroma(crop[valid])
        blue = (np.abs(hue - 2 / 3) < 0.02) & (chroma > 0.7)
        red = ((hue < 0.02) | (hue > 0.98)) & (chroma > 0.7)
        assert blue.mean() > 0.02 and red.mean() > 0.2 and (blue | red).all()
    # without photos, "photo" falls back to a supervised flat backdrop; "flat" leaves it unsupervised
    _, valid_fb = augment(rgb, mask, np.random.default_rng(0), AugmentConfig(48, 64, background="photo"))
    crop_flat, valid_flat = augment(rgb, mask, np.random.default_rng(0), AugmentConfig(48, 64, background="flat"))
    assert valid_fb.mean() > valid_flat.mean() + 0.02
    with pytest.raises(ValueError, match="background"):
        AugmentConfig(background="jungle")


def test_old_print_degrades_the_input_only() -> None:
    rgb = colourful(80, 90)
    samp = SampleConfig(positions=64)
    clean = AugmentConfig(64, 96, contrast=0, gamma=0)
    old = AugmentConfig(64, 96, contrast=0, gamma=0, old_print=OldPrintConfig(probability=1.0))
    a = make_sample(rgb, None, np.random.default_rng(3), BinScheme(), clean, samp)
    b = make_sample(rgb, None, np.random.default_rng(3), BinScheme(), old, samp)
    for x, y in zip(a.targets, b.targets):
        np.testing.assert_array_equal(x, y)
    assert float(np.abs(a.lightness - b.lightness).mean()) > 0.01


def test_manifest_can_leave_sources_out(tmp_path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "MANIFEST.tsv").write_text("file\tsource_package\tsplit\na.png\tx\ttrain\nb.png\ty\ttrain\nc.png\ty\tval\n")
    assert [p.name for p in read_manifest(tmp_path, "train", exclude_sources=("y",))] == ["a.png"]
    assert [p.name for p in read_manifest(tmp_path, "train")] == ["a.png", "b.png"]
