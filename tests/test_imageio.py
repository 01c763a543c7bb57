"""Every odd and bad file of issue 6, built in tmp_path, through load_image / save_image."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from colorizer.color import luma
from colorizer.imageio import (SOFTWARE_TAG, ImageReadError, ImageWriteError, classify_colour, load_image, load_rgb,
                               orient, save_image)


def pattern(h: int = 30, w: int = 40) -> np.ndarray:
    """An asymmetric 8-bit gray pattern (orientation can be checked)."""
    y, x = np.mgrid[0:h, 0:w]
    return ((x * 5 + y * 2) % 256).astype(np.uint8)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exif_with(orientation: int | None = None, **tags: str) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    names = {"make": 0x010F, "model": 0x0110, "artist": 0x013B, "description": 0x010E}
    for key, value in tags.items():
        exif[names[key]] = value
    return exif.tobytes()


def sepia(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float32)[..., None] / 255.0
    return np.clip(g * np.array([1.07, 0.98, 0.78]) * 255, 0, 255).astype(np.uint8)


def colour_blocks(h: int = 32, w: int = 32) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (200, 40, 40)
    img[: h // 2, w // 2:] = (40, 180, 60)
    img[h // 2:, : w // 2] = (40, 60, 200)
    img[h // 2:, w // 2:] = (220, 200, 40)
    return img


# --------------------------------------------------------------------------- good but odd files

GOOD_FORMATS = ["photo.jpg", "photo.png", "photo.tif", "photo.webp", "photo.bmp", "photo.gif", "PHOTO.JPEG",
                "Grand-mère 1932 ☃.PNG", "scan with spaces.TIF"]


@pytest.mark.parametrize("name", GOOD_FORMATS)
def test_gray_formats_and_names(tmp_path: Path, name: str) -> None:
    arr = pattern()
    path = tmp_path / name
    Image.fromarray(arr, "L").save(path)
    before = digest(path)
    loaded = load_image(path)
    assert loaded.size == (40, 30)
    assert loaded.lightness.dtype == np.float32 and loaded.lightness.shape == (30, 40)
    tol = 12 / 255 if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else 1e-6
    assert np.abs(loaded.lightness - arr / 255.0).mean() <= tol
    assert not loaded.was_colour and loaded.alpha is None
    assert digest(path) == before


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(pattern(), "L").save(path, exif=exif_with(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)), np.float32) / 255.0
    loaded = load_image(path)
    assert loaded.lightness.shape == expected.shape
    assert np.abs(loaded.lightness - expected).max() < 1e-6


def test_jpeg_orientation_6_gives_portrait(tmp_path: Path) -> None:
    path = tmp_path / "camera.jpg"
    Image.fromarray(pattern(30, 40), "L").save(path, exif=exif_with(6, make="Leica"), quality=95)
    loaded = load_image(path)
    assert loaded.size == (30, 40)  # stored landscape, shown portrait
    assert np.abs(loaded.lightness - np.rot90(pattern(30, 40), -1) / 255.0).mean() < 0.03


def test_orient_covers_all_cases() -> None:
    a = pattern(3, 5)
    img = Image.fromarray(a)
    for o in range(1, 9):
        exif = img.getexif()
        exif[0x0112] = o
        ref = np.asarray(ImageOps.exif_transpose(_with_exif(img, exif)))
        assert np.array_equal(orient(a, o), ref), o


def _with_exif(img: Image.Image, exif: Image.Exif) -> Image.Image:
    out = img.copy()
    out.info["exif"] = exif.tobytes()
    out.getexif().update(exif)
    return out


def test_16bit_gray_png_and_tiff(tmp_path: Path) -> None:
    g16 = (np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16)
    for name in ("deep.png", "deep.tif"):
        Image.fromarray(g16).save(tmp_path / name)
        loaded = load_image(tmp_path / name)
        assert loaded.bit_depth == 16
        assert np.abs(loaded.lightness - g16 / 65535.0).max() < 1e-6  # finer than 8-bit steps


@pytest.mark.parametrize("name", ["scan48.tif", "scan48.png"])
def test_16bit_colour_scan_keeps_precision(tmp_path: Path, name: str) -> None:
    g16 = (np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / name), np.stack([g16] * 3, -1))  # a B&W print scanned as 48-bit colour
    loaded = load_image(tmp_path / name)
    assert loaded.bit_depth == 16 and not loaded.was_colour
    assert np.abs(loaded.lightness - g16 / 65535.0).max() < 1e-4


def test_16bit_colour_with_exif_orientation(tmp_path: Path) -> None:
    from colorizer.imageio.png16 import png_chunk as _png_chunk

    a = (np.arange(30 * 40).reshape(30, 40) * 50).astype(np.uint16)
    ok, buf = cv2.imencode(".png", np.stack([a] * 3, -1))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = buf.tobytes()
    data = data[:33] + _png_chunk(b"eXIf", exif.tobytes()[6:]) + data[33:]
    (tmp_path / "o6.png").write_bytes(data)
    loaded = load_image(tmp_path / "o6.png")
    assert loaded.size == (30, 40) and loaded.bit_depth == 16
    assert np.abs(loaded.lightness - np.rot90(a, -1) / 65535.0).max() < 1e-6


def test_palette_and_alpha(tmp_path: Path) -> None:
    arr = pattern()
    rgba = np.dstack([arr, arr, arr, np.where(pattern() > 128, 255, 0).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([arr, rgba[..., 3]]), "LA").save(tmp_path / "la.png")
    pal = Image.fromarray(arr, "L").convert("P")
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    Image.fromarray(arr, "L").convert("P").save(tmp_path / "pal_opaque.png")
    for name in ("rgba.png", "la.png"):
        loaded = load_image(tmp_path / name)
        assert loaded.alpha is not None and np.array_equal(loaded.alpha, rgba[..., 3])
    assert load_image(tmp_path / "pal.png").alpha is not None
    opaque = load_image(tmp_path / "pal_opaque.png")
    assert opaque.alpha is None and np.abs(opaque.lightness - arr / 255.0).max() < 1e-6


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8), "L").convert("P") for v in (40, 220)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image(tmp_path / "anim.gif")
    assert loaded.size == (30, 20)
    assert abs(float(loaded.lightness.mean()) - 40 / 255) < 0.02
    assert any("first of 2 frames" in n for n in loaded.notes)


def test_cmyk_jpeg_and_tiff(tmp_path: Path) -> None:
    arr = pattern()
    rgb = Image.fromarray(np.dstack([arr] * 3), "RGB")
    rgb.convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    rgb.convert("CMYK").save(tmp_path / "print.tif")
    for name in ("print.jpg", "print.tif"):
        loaded = load_image(tmp_path / name)
        assert loaded.size == (40, 30)
        assert np.abs(loaded.lightness - arr / 255.0).mean() < 0.05


def test_sepia_and_cast_use_lightness_colour_photo_says_so(tmp_path: Path) -> None:
    arr = pattern()
    Image.fromarray(sepia(arr)).save(tmp_path / "sepia.png")
    cast = np.clip(np.dstack([arr] * 3).astype(int) + np.array([-12, 0, 20]), 0, 255).astype(np.uint8)
    Image.fromarray(cast).save(tmp_path / "cast.png")
    Image.fromarray(colour_blocks()).save(tmp_path / "colour.png")
    for name, source in (("sepia.png", sepia(arr)), ("cast.png", cast)):
        loaded = load_image(tmp_path / name)
        assert loaded.tinted and not loaded.was_colour
        assert np.abs(loaded.lightness - luma(source / 255.0)).max() < 1e-5
        assert any("sepia" in n for n in loaded.notes)
    colour = load_image(tmp_path / "colour.png")
    assert colour.was_colour and not colour.tinted
    assert any("already in colour" in n for n in colour.notes)


def test_classify_colour_gray_is_gray() -> None:
    gray = np.repeat(pattern()[..., None] / 255.0, 3, -1).astype(np.float32)
    assert classify_colour(gray) == (False, False)


def test_load_rgb_reference(tmp_path: Path) -> None:
    Image.fromarray(colour_blocks()).save(tmp_path / "ref.png")
    Image.fromarray(pattern(), "L").save(tmp_path / "gray.png")
    assert load_rgb(tmp_path / "ref.png").shape == (32, 32, 3)
    assert load_rgb(tmp_path / "gray.png").shape == (30, 40, 3)
    with pytest.raises(ImageReadError, match="nothing.png"):
        load_rgb(tmp_path / "nothing.png")


# --------------------------------------------------------------------------- bad files

def _png_with_size(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h gray pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected words in the message)."""
    good = tmp_path / "good.jpg"
    Image.fromarray(pattern(64, 64), "L").save(good, quality=90)
    png = tmp_path / "good.png"
    Image.fromarray(pattern(64, 64), "L").save(png)
    files = {
        "empty.jpg": (b"", "empty"),
        "truncated.jpg": (good.read_bytes()[: len(good.read_bytes()) // 2], "truncated"),
        "truncated.png": (png.read_bytes()[:-40], "truncated"),
        "header-only.jpg": (good.read_bytes()[:20], ""),
        "notes.jpg": (b"shopping list: milk, eggs\n" * 10, "not an image"),
        "page.png": (b"<html><body>404</body></html>", "not an image"),
        "noise.tif": (np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), ""),
        "bomb.png": (_png_with_size(100_000, 100_000), "decompression bomb"),
    }
    out = {}
    for name, (data, words) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, words)
    good.unlink()
    png.unlink()
    return out


def test_bad_files_give_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    for name, (path, words) in bad_files(tmp_path).items():
        before = digest(path)
        with pytest.raises(ImageReadError) as info:
            load_image(path)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, message
        assert words in message, message
        assert info.value.__cause__ is None or name == "", message
        assert digest(path) == before


def test_configurable_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((100, 120), np.uint8)).save(path)
    assert load_image(path, max_pixels=12_000).size == (120, 100)
    with pytest.raises(ImageReadError, match="exceeds the limit of 11,999"):
        load_image(path, max_pixels=11_999)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "gone.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageReadError, match="folder"):
        load_image(tmp_path / "dir.png")


# --------------------------------------------------------------------------- writing

def test_save_keeps_alpha_metadata_and_marks_machine_colour(tmp_path: Path) -> None:
    arr = pattern()
    src = tmp_path / "in.png"
    rgba = np.dstack([arr, arr, arr, np.full_like(arr, 128)])
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgba, "RGBA").save(src, exif=exif_with(1, make="Kodak", artist="Grandpa"), icc_profile=srgb)
    loaded = load_image(src)
    rgb = np.repeat(loaded.lightness[..., None], 3, -1)
    out = save_image(tmp_path / "out.png", rgb, loaded.alpha, source=loaded)
    img = Image.open(out)
    assert img.mode == "RGBA" and img.size == (40, 30)
    assert np.array_equal(np.asarray(img)[..., 3], rgba[..., 3])
    exif = img.getexif()
    assert exif[0x010F] == "Kodak" and exif[0x013B] == "Grandpa"
    assert exif[0x0131] == SOFTWARE_TAG and exif[0x0112] == 1
    assert "machine" in img.info["Comment"].lower()
    assert img.info.get("icc_profile") == srgb


def test_gray_icc_is_not_put_on_rgb_output(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    gray_icc = b"\x00" * 16 + b"GRAY" + b"\x00" * 108
    Image.fromarray(pattern(), "L").save(src, icc_profile=gray_icc)
    loaded = load_image(src)
    out = save_image(tmp_path / "out.jpg", np.zeros((30, 40, 3), np.float32), source=loaded)
    assert "icc_profile" not in Image.open(out).info


def test_jpeg_orientation_is_reset_in_output(tmp_path: Path) -> None:
    src = tmp_path / "camera.jpg"
    Image.fromarray(pattern(30, 40), "L").save(src, exif=exif_with(6, description="Wedding 1950"))
    loaded = load_image(src)
    out = save_image(tmp_path / "out.jpg", np.repeat(loaded.lightness[..., None], 3, -1), source=loaded)
    img = Image.open(out)
    assert img.size == (30, 40) and img.getexif()[0x0112] == 1
    assert img.getexif()[0x010E] == "Wedding 1950 (machine-colourised)"


def test_16bit_png_output(tmp_path: Path) -> None:
    g16 = (np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png")
    rgb = np.repeat(loaded.lightness[..., None], 3, -1)
    out = save_image(tmp_path / "out.png", rgb, source=loaded, depth=16)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (48, 64, 3)
    assert np.abs(back[..., 0].astype(int) - g16).max() <= 1
    img = Image.open(out)
    assert img.getexif()[0x0131] == SOFTWARE_TAG and "machine" in img.info["Comment"].lower()


def test_save_refuses_input_and_leaves_no_temp_files(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(pattern(), "L").save(src)
    loaded = load_image(src)
    before = digest(src)
    with pytest.raises(ImageWriteError, match="refusing to overwrite"):
        save_image(src, np.zeros((30, 40, 3)), source=loaded)
    with pytest.raises(ImageWriteError, match="unsupported output format"):
        save_image(tmp_path / "out.xyz", np.zeros((30, 40, 3)))
    (tmp_path / "blocked.png").mkdir()
    with pytest.raises(ImageWriteError, match="blocked.png"):
        save_image(tmp_path / "blocked.png", np.zeros((30, 40, 3)))
    with pytest.raises(ImageWriteError, match="cannot write"):
        save_image(tmp_path / "bad.png", np.zeros((30, 40, 5)))  # not an RGB array
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked.png", "in.png"]


def test_save_interrupted_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_image(tmp_path / "out.png", np.zeros((8, 8, 3)))
    assert list(tmp_path.iterdir()) == []


def test_save_formats_upper_case_and_non_ascii(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).random((20, 24, 3)).astype(np.float32)
    for name in ("é ü.PNG", "x.JPG", "y.tiff", "z.webp"):
        out = save_image(tmp_path / "sub dir" / name, rgb)
        assert Image.open(out).size == (24, 20)
