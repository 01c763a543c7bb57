"""Robust photo loading: orientation, 8/16-bit, palette, alpha, CMYK, pixel limits, one-line errors."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from colorizer.color import gray_to_lightness, rgb_to_hue_chroma
from colorizer.imageio.pixels import PixelStrips, decode_deep_raw, is_deep_colour, orient, unorient
from colorizer.messages import one_line
from colorizer.strips import row_ranges

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
DEFAULT_MAX_PIXELS = 89_478_485
COLOUR_CHROMA_THRESHOLD = 0.04
TINT_RESULTANT = 0.9


class ImageReadError(ValueError):
    """A file could not be read as a photo."""


@dataclass
class LoadedImage:
    """A photo reduced to what the colouriser needs.

    ``lightness``: (H, W) float32 in [0, 1]; ``alpha``: (H, W) uint8 or None; ``was_colour``: the
    file already had colour (its lightness is used); ``tinted``: a monochrome photo with a colour
    tone or cast (sepia, cyanotype, yellowed scan); ``bit_depth``: 8 or 16 (bits per sample).
    """

    path: Path
    lightness: np.ndarray
    alpha: np.ndarray | None = None
    was_colour: bool = False
    bit_depth: int = 8
    exif: bytes | None = None
    icc_profile: bytes | None = None
    notes: list[str] = field(default_factory=list)
    tinted: bool = False
    source_format: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.lightness.shape[1], self.lightness.shape[0]


@dataclass(frozen=True)
class ImageHeader:
    """What a photo's header says, before any pixel is decoded."""

    width: int
    height: int
    mode: str
    format: str | None
    deep: bool = False
    file_bytes: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height


def is_image_file(path: Path) -> bool:
    """A supported extension (any case) and not a hidden file (our temporaries are hidden)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


# ----------------------------------------------------------------------------------------- reading

def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - damaged EXIF: assume upright
        return 1
    return value if 1 <= value <= 8 else 1


def _exif_bytes(img: Image.Image) -> bytes | None:
    """The file's EXIF as bytes (any format), or None."""
    raw = img.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw
    try:
        exif = img.getexif()
        return exif.tobytes() if len(exif) else None
    except Exception:  # noqa: BLE001
        return None


def classify_colour(rgb: np.ndarray, subsampled: bool = False) -> tuple[bool, bool]:
    """(has colour, is only tinted) for an (H, W, 3) array in [0, 1], from a subsample (about 256 x 256
    pixels; ``subsampled``: ``rgb`` already is that subsample).

    Tinted = clearly coloured but nearly one hue everywhere (sepia, cyanotype, colour cast): the
    chroma-weighted hue resultant is above ``TINT_RESULTANT``.
    """
    sample = rgb if subsampled else rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)]
    hue, chroma = rgb_to_hue_chroma(sample)
    if float(np.percentile(chroma, 90)) <= COLOUR_CHROMA_THRESHOLD:
        return False, False
    w = np.where(chroma > COLOUR_CHROMA_THRESHOLD / 2, chroma, 0.0)
    z = np.sum(w * np.exp(2j * np.pi * hue)) / max(float(w.sum()), 1e-9)
    return True, bool(abs(z) > TINT_RESULTANT)


def _check_path(path: Path) -> None:
    """A readable regular file, or ImageReadError (never opens a FIFO or device: that could block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        lost_link = os.path.islink(path)
        raise ImageReadError(f"{path}: broken symbolic link (its target is missing)" if lost_link
                             else f"{path}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(f"{path}: is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(f"{path}: not a regular file ({special_file_kind(st.st_mode)}), not an image")
    if st.st_size == 0:
        raise ImageReadError(f"{path}: empty file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")


def special_file_kind(mode: int) -> str:
    """What a non-regular file is, in words (for messages)."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def _open_checked(path: Path, max_pixels: int) -> Image.Image:
    """``Image.open`` with the pixel limit checked from the header, before decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(path)
    w, h = img.size
    if w <= 0 or h <= 0:
        img.close()
        raise ImageReadError(f"{path}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        img.close()
        raise ImageReadError(f"{path}: {w}x{h} pixels exceeds the limit of {max_pixels:,} (possible decompression bomb)")
    return img


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """Any decoder failure becomes one ImageReadError line naming the file (never a crash)."""
    try:
        yield
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file or an unsupported format") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{path}: too many pixels, refusing a possible decompression bomb") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to read this image") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error, IndexError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a per-file error, never a crash
        raise ImageReadError(f"{path}: cannot decode ({type(exc).__name__}: {one_line(exc)})") from None


def image_header(path: str | Path) -> ImageHeader:
    """Size and kind of a photo from its header alone (nothing decoded); raises ImageReadError."""
    path = Path(path)
    _check_path(path)
    with _read_errors(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                deep = is_deep_colour(img, path)
                return ImageHeader(img.size[0], img.size[1], img.mode, img.format, deep, path.stat().st_size)


def _decoded(img: Image.Image, path: Path) -> PixelStrips:
    """Decode the pixels of an opened image (16-bit colour through OpenCV)."""
    deep = decode_deep_raw(path) if is_deep_colour(img, path) else None
    if deep is not None:
        return PixelStrips(deep=deep)
    img.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img.load()
    return PixelStrips(img)


def _metadata(img: Image.Image) -> dict:
    return {"exif": _exif_bytes(img), "icc": img.info.get("icc_profile"), "format": img.format,
            "frames": getattr(img, "n_frames", 1)}


def _read(path: Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, int, dict]:
    """Decode pixels (upright) at once; returns array, alpha, depth and metadata (exif, icc, format, frames)."""
    with _read_errors(path), _open_checked(path, max_pixels) as img:
        meta = _metadata(img)
        pixels = _decoded(img, path)
        arr, alpha = pixels.strip(0, pixels.shape[0])
        turn = _orientation(img)
        arr = np.ascontiguousarray(orient(arr, turn))
        alpha = None if alpha is None else np.ascontiguousarray(orient(alpha, turn))
        return arr, alpha, pixels.depth, meta


def _read_lightness(path: Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, int, dict, np.ndarray | None]:
    """Decode pixels strip by strip straight into the upright lightness (no full-size float RGB).

    Returns lightness, alpha, depth, metadata and, for colour files, the subsample that
    :func:`classify_colour` looks at (the same pixels as in the whole upright image).
    """
    with _read_errors(path), _open_checked(path, max_pixels) as img:
        meta = _metadata(img)
        pixels = _decoded(img, path)
        turn = _orientation(img)
        h, w = pixels.shape
        upright = (w, h) if turn in (5, 6, 7, 8) else (h, w)  # these turns swap the sides
        lightness = np.empty(upright, np.float32)
        stored = unorient(lightness, turn)  # a view: stored rows written here land upright
        alpha = stored_alpha = None
        ys, xs = (orient(np.broadcast_to(a, (h, w)), turn)[::max(1, upright[0] // 256), ::max(1, upright[1] // 256)]
                  for a in (np.arange(h)[:, None], np.arange(w)[None, :]))
        sample = None
        for r0, r1 in row_ranges(h, w):
            arr, a = pixels.strip(r0, r1)
            if a is not None:
                if alpha is None:
                    alpha = np.empty(upright, np.uint8)
                    stored_alpha = unorient(alpha, turn)
                stored_alpha[r0:r1] = a
            if arr.ndim == 3:
                if sample is None:
                    sample = np.zeros(ys.shape + (3,), np.float32)
                inside = (ys >= r0) & (ys < r1)
                sample[inside] = arr[ys[inside] - r0, xs[inside]]
            stored[r0:r1] = gray_to_lightness(arr)
        return lightness, alpha, pixels.depth, meta, sample


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a photo and return its lightness (and alpha, metadata). Raises ImageReadError.

    The photo is converted strip by strip: besides the decoder's own buffer, memory holds only the
    lightness (4 bytes per pixel) and the alpha channel if any.
    """
    path = Path(path)
    _check_path(path)
    lightness, alpha, depth, meta, sample = _read_lightness(path, max_pixels)
    notes: list[str] = []
    was_colour = tinted = False
    if sample is not None:
        was_colour, tinted = classify_colour(sample, subsampled=True)
        if tinted:
            was_colour = False
            notes.append("toned or colour-cast monochrome (e.g. sepia): colourised from its lightness")
        elif was_colour:
            notes.append("already in colour: colourised from its lightness")
    if meta["frames"] > 1:
        notes.append(f"first of {meta['frames']} frames used")
    if depth == 16:
        notes.append("16-bit input")
    return LoadedImage(path=path, lightness=lightness, alpha=alpha, was_colour=was_colour, bit_depth=depth,
                       exif=meta["exif"], icc_profile=meta["icc"], notes=notes, tinted=tinted,
                       source_format=meta["format"])


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A colour photo as (H, W, 3) float32 in [0, 1] (EXIF-oriented); for references and ground truth."""
    return load_rgb_alpha(path, max_pixels)[0]


def load_rgb_alpha(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, np.ndarray | None]:
    """``load_rgb`` plus the alpha channel ((H, W) uint8, or None without one); for training photos."""
    path = Path(path)
    _check_path(path)
    arr, alpha, _, _ = _read(path, max_pixels)
    return (arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, axis=-1)), alpha
