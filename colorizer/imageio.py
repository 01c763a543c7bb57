"""Robust photo loading and atomic saving.

Loading honours EXIF orientation, reads 8/16-bit, palette, alpha, CMYK and colour photos, and
reduces everything to the lightness the network sees; anything unreadable raises
:class:`ImageReadError` whose message names the file and the reason in one line.
"""

from __future__ import annotations

import os
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from colorizer.color import gray_to_lightness, rgb_to_hue_chroma

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
DEFAULT_MAX_PIXELS = 200_000_000
SOFTWARE_TAG = "colorizer (machine colourised)"
COLOUR_CHROMA_THRESHOLD = 0.04


class ImageReadError(ValueError):
    """A file could not be read as a photo."""


class ImageWriteError(OSError):
    """An output could not be written."""


@dataclass
class LoadedImage:
    """A photo reduced to what the colouriser needs.

    ``lightness``: (H, W) float32 in [0, 1]; ``alpha``: (H, W) uint8 or None; ``was_colour``: the
    file already had colour (its lightness is used); ``bit_depth``: 8 or 16.
    """

    path: Path
    lightness: np.ndarray
    alpha: np.ndarray | None = None
    was_colour: bool = False
    bit_depth: int = 8
    exif: bytes | None = None
    icc_profile: bytes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.lightness.shape[1], self.lightness.shape[0]


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _to_float_rgb(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(H, W, 3) or (H, W) float32 array in [0, 1], alpha (uint8) or None, and the bit depth."""
    alpha = None
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        peak = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        return np.clip(arr / peak, 0, 1), None, 16
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return np.clip(arr / (255.0 if arr.max() > 1.0 else 1.0), 0, 1), None, 16
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "RGBa", "La"):
        if img.mode in ("RGBa", "La"):
            img = img.convert("RGBA")
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        img = img.convert("RGB" if img.mode == "RGBA" else "L")
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32) / 255.0, alpha, 8


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a photo and return its lightness (and alpha, metadata). Raises ImageReadError."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: file not found")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageReadError(f"{path}: {w}x{h} pixels exceeds the limit of {max_pixels:,} (possible decompression bomb)")
                img.seek(0)
                exif = img.info.get("exif")
                icc = img.info.get("icc_profile")
                img.load()
                img = ImageOps.exif_transpose(img)
                arr, alpha, depth = _to_float_rgb(img)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file or an unsupported format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{path}: too many pixels, refusing a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None
    notes = []
    was_colour = False
    if arr.ndim == 3:
        sample = arr[:: max(1, arr.shape[0] // 256), :: max(1, arr.shape[1] // 256)]
        _, chroma = rgb_to_hue_chroma(sample)
        was_colour = float(np.percentile(chroma, 90)) > COLOUR_CHROMA_THRESHOLD
        if was_colour:
            notes.append("already in colour: colourised from its lightness")
    return LoadedImage(path=path, lightness=gray_to_lightness(arr), alpha=alpha, was_colour=was_colour,
                       bit_depth=depth, exif=exif, icc_profile=icc, notes=notes)


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A colour photo as (H, W, 3) float32 in [0, 1] (EXIF-oriented); for references and ground truth."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.size[0] * img.size[1] > max_pixels:
                raise ImageReadError(f"{path}: too many pixels ({img.size[0]}x{img.size[1]})")
            img = ImageOps.exif_transpose(img)
            arr, _, _ = _to_float_rgb(img)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file or an unsupported format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None
    return arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, axis=-1)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def reserve_temp_path(path: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` (mode 0666 less the umask)."""
    while True:
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def save_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, *,
               source: LoadedImage | None = None, protect: tuple[Path, ...] = (), quality: int = 95) -> Path:
    """Write an 8-bit RGB(A) image atomically (temporary file in the same folder, then rename).

    The format follows the extension (PNG, JPEG, TIFF, WebP). Refuses to overwrite ``source`` or any
    path in ``protect``. Keeps EXIF/ICC of ``source`` where the format allows and records that the
    colour is machine-made.
    """
    path = Path(path)
    guarded = list(protect) + ([source.path] if source is not None else [])
    if any(_same_file(path, p) or path.resolve() == Path(p).resolve() for p in guarded):
        raise ImageWriteError(f"{path}: refusing to overwrite an input file")
    arr = rgb if rgb.dtype == np.uint8 else np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    ext = path.suffix.lower()
    if alpha is not None and ext in (".png", ".tif", ".tiff", ".webp"):
        img.putalpha(Image.fromarray(alpha, "L"))
    kwargs: dict = {}
    if source is not None and source.icc_profile:
        kwargs["icc_profile"] = source.icc_profile
    if ext == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SOFTWARE_TAG)
        info.add_text("Comment", "Colours were generated automatically by a neural network.")
        kwargs.update(pnginfo=info, compress_level=3)
        fmt = "PNG"
    elif ext in (".jpg", ".jpeg"):
        kwargs.update(quality=quality, subsampling=0)
        fmt = "JPEG"
    elif ext in (".tif", ".tiff"):
        kwargs.update(compression="tiff_deflate")
        fmt = "TIFF"
    elif ext == ".webp":
        kwargs.update(quality=quality)
        fmt = "WEBP"
    else:
        raise ImageWriteError(f"{path}: unsupported output format {ext!r} (use .png, .jpg, .tif or .webp)")
    if fmt in ("JPEG", "TIFF", "WEBP", "PNG"):
        exif = Image.Exif()
        if source is not None and source.exif:
            try:
                exif.load(source.exif)
            except Exception:  # noqa: BLE001 - damaged EXIF is dropped, not fatal
                exif = Image.Exif()
        exif[0x0112] = 1  # pixels are already upright
        exif[0x0131] = SOFTWARE_TAG
        exif[0x010E] = "Machine-colourised photograph"
        kwargs["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = reserve_temp_path(path)
    try:
        img.save(tmp, fmt, **kwargs)
        os.replace(tmp, path)
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path
