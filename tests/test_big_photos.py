"""Issue 13, case 7: full resolution in strips (same pictures as the untiled render), photos decoded strip
by strip, memory that grows slowly with size, and a photo that would not fit refused before decoding.

Peak-memory targets (12 MP, 81 MP) are measured by ``benchmarks/bench_memory.py``, not here; the test
below only checks that the batch keeps no full-size float image (traced NumPy allocations)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from colorizer import strips
from colorizer.batch import ColorizeOptions, Job, process_file
from colorizer.batch import photo as photo_mod
from colorizer.color import compose_with_luma, gray_to_lightness
from colorizer.imageio import load_image, save_image
from colorizer.imageio import read as read_mod
from colorizer.pipeline import Colorizer, posterior, render_probs, upsample
from colorizer.render_settings import RenderSettings
from colorizer.strips import resize_rows, row_ranges


def untiled_render(pred, probs, settings) -> tuple[np.ndarray, np.ndarray]:
    """The render as it was before strips: every full-resolution map at once (the oracle)."""
    from colorizer.pipeline import guided_coefficients

    offset, unc = pred.scheme.decode_offset(probs, pred.small_lightness, settings.decode)
    offset = offset.astype(np.float32)
    offset = offset - settings.cast_removal * offset.reshape(-1, 3).mean(axis=0)  # the picture's tint, partly removed
    if settings.edge_aware and pred.guide is not None:  # the coefficients are small maps, unchanged by strips
        coeffs = upsample(guided_coefficients(offset, pred.guide), pred.size)
        full = coeffs[..., :3] * pred.lightness[..., None] + coeffs[..., 3:]
    else:
        full = upsample(offset, pred.size)
    return compose_with_luma(pred.lightness, full), np.clip(upsample(unc.astype(np.float32), pred.size), 0, 1)


def to8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.int32)


@pytest.mark.parametrize("shape", [(97, 131), (300, 200), (17, 9)])
@pytest.mark.parametrize("edge_aware", [True, False])
def test_tiled_render_matches_untiled(tiny_colorizer: Colorizer, monkeypatch: pytest.MonkeyPatch,
                                      shape: tuple[int, int], edge_aware: bool) -> None:
    lightness = np.random.default_rng(3).random(shape).astype(np.float32)
    pred = tiny_colorizer.predict(lightness)
    settings = RenderSettings(edge_aware=edge_aware)
    probs = posterior(pred, settings)
    rgb, unc = untiled_render(pred, probs, settings)
    monkeypatch.setattr(strips, "STRIP_PIXELS", 5 * shape[1])  # tiny strips: 5 rows
    eager = render_probs(pred, probs, settings)
    assert np.abs(eager.rgb - rgb).max() < 1e-5 and np.abs(eager.uncertainty - unc).max() < 1e-5
    assert np.array_equal(to8(eager.rgb), to8(rgb)) or np.abs(to8(eager.rgb) - to8(rgb)).max() <= 1
    from colorizer.strips import streamed_render

    with streamed_render():
        lazy = render_probs(pred, probs, settings)
    rows = lazy.rgb_rows()
    assert not isinstance(rows, np.ndarray)  # nothing full-size was computed
    got = np.concatenate([rows[r0:r1] for r0, r1 in row_ranges(shape[0], shape[1], 3 * shape[1])])
    assert np.abs(got - rgb).max() < 1e-5


def test_resize_rows_is_opencvs_bilinear_resize() -> None:
    src = np.random.default_rng(0).random((13, 17, 6)).astype(np.float32)
    for size in ((40, 50), (13, 90), (200, 17), (13, 17)):
        full = cv2.resize(src, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        parts = np.concatenate([resize_rows(src, size, r0, r1) for r0, r1 in row_ranges(size[0], size[1], size[1] * 3)])
        assert np.abs(parts - full).max() < 1e-6, size


def test_batch_files_match_the_untiled_render(tiny_colorizer: Colorizer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    y, x = np.mgrid[0:90, 0:120]
    Image.fromarray(((x * 2 + y) % 256).astype(np.uint8), "L").save(tmp_path / "a.png")
    deep = ((x * 500 + y * 37) % 65536).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), np.dstack([deep, deep, deep, np.full_like(deep, 40000)]))
    monkeypatch.setattr(strips, "STRIP_PIXELS", 7 * 120)
    options = ColorizeOptions(uncertainty=True)
    for name in ("a", "deep"):
        result = process_file(tiny_colorizer, Job(tmp_path / f"{name}.png", tmp_path / "out" / f"{name}.png"), options)
        assert result.ok, result.error
        image = load_image(tmp_path / f"{name}.png")
        pred = tiny_colorizer.predict_batch([image.lightness])[0]
        rgb, unc = untiled_render(pred, posterior(pred, RenderSettings()), RenderSettings())
        written = cv2.imread(str(tmp_path / "out" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        if name == "deep":  # 16-bit in, 16-bit out, alpha kept
            assert written.dtype == np.uint16 and written.shape == (90, 120, 4)
            assert (written[..., 3] == round(40000 * 255 / 65535) * 257).all()  # alpha is kept at 8 bits
            expected = np.clip(rgb * 65535.0 + 0.5, 0, 65535).astype(np.int64)
            assert np.abs(written[..., 2::-1].astype(np.int64) - expected).max() <= 1
        else:
            assert np.abs(written[..., ::-1].astype(np.int32) - to8(rgb)).max() <= 1
        from colorizer.visual import uncertainty_to_rgb

        written_unc = np.asarray(Image.open(tmp_path / "out" / f"{name}_uncertainty.png").convert("RGB"), np.int32)
        assert np.abs(written_unc - uncertainty_to_rgb(unc).astype(np.int32)).max() <= 3


ORIENTED = [(o, mode) for o in range(1, 9) for mode in ("L", "RGB", "RGBA")] + [(1, "P"), (6, "CMYK"), (3, "I;16")]


@pytest.mark.parametrize("orientation,mode", ORIENTED)
def test_strip_decoding_matches_whole_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               orientation: int, mode: str) -> None:
    rng = np.random.default_rng(orientation)
    rgb = (rng.random((37, 53, 3)) * 255).astype(np.uint8)
    rgb[:, :, 0] = np.linspace(0, 255, 53, dtype=np.uint8)[None, :]  # some structure, some colour
    img = Image.fromarray(rgb)
    if mode == "RGBA":
        img.putalpha(Image.fromarray((rng.random((37, 53)) * 255).astype(np.uint8)))
    elif mode == "I;16":
        img = Image.fromarray((rng.random((37, 53)) * 65535).astype(np.uint16))
    elif mode != "RGB":
        img = img.convert(mode)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path, exif=exif.tobytes())
    whole, alpha, _, _ = read_mod._read(path, 10 ** 8)
    monkeypatch.setattr(strips, "STRIP_PIXELS", 4 * 53)  # strips of 4 stored rows
    loaded = load_image(path)
    assert np.array_equal(loaded.lightness, gray_to_lightness(whole))
    assert (loaded.alpha is None) == (alpha is None) and (alpha is None or np.array_equal(loaded.alpha, alpha))
    if whole.ndim == 3:
        assert (loaded.was_colour, loaded.tinted) == read_mod.classify_colour(whole) or loaded.tinted
    from colorizer.imageio import image_header

    assert image_header(path).pixels == 37 * 53


def test_a_photo_that_would_not_fit_is_refused_before_decoding(tiny_colorizer: Colorizer, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    Image.fromarray(np.zeros((300, 400), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr("colorizer.imageio.memory.available_memory", lambda: 100 * 2 ** 20)
    monkeypatch.setattr(photo_mod, "load_image", lambda *a, **k: pytest.fail("the photo was decoded"))
    result = process_file(tiny_colorizer, Job(tmp_path / "big.png", tmp_path / "out" / "big.png"), ColorizeOptions())
    assert not result.ok and "\n" not in result.error
    assert result.error.startswith(f"{tmp_path / 'big.png'}: 400x300 pixels need about")
    assert "0.1 GB is available" in result.error and not (tmp_path / "out").exists()


def test_batch_memory_grows_slowly_with_the_photo(tiny_colorizer: Colorizer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    h, w = 1200, 1600
    y, x = np.mgrid[0:h, 0:w]
    colour = np.dstack([(x // 3) % 256, (y // 2) % 256, (x + y) % 256]).astype(np.uint8)
    Image.fromarray(colour).save(tmp_path / "photo.jpg", quality=90)
    del y, x, colour
    monkeypatch.setattr(strips, "STRIP_PIXELS", 1 << 16)
    options = ColorizeOptions(uncertainty=True, samples=1)
    tracemalloc.start()
    try:
        result = process_file(tiny_colorizer, Job(tmp_path / "photo.jpg", tmp_path / "out" / "photo.png"), options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.ok, result.error
    # the lightness (4 bytes per pixel) plus strips and small maps (a fixed few MB); an untiled render
    # holds 40+ bytes per pixel in full-size float arrays (RGB, coefficients, offset, uncertainty)
    assert peak < 4 * h * w + 16 * 2 ** 20, f"{peak / (h * w):.1f} bytes per pixel"


def test_16bit_png_writer_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((33, 47, 3)).astype(np.float32)
    alpha = (rng.random((33, 47)) * 255).astype(np.uint8)
    for a in (None, alpha):
        out = save_image(tmp_path / "x16.png", rgb, a, depth=16)
        back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        expected = np.clip(rgb * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
        assert back.dtype == np.uint16 and np.array_equal(back[..., 2::-1], expected)
        if a is not None:
            assert np.array_equal(back[..., 3], alpha.astype(np.uint16) * 257)
        with Image.open(out) as img:
            img.verify()
