"""Atomic photo saving with the source's metadata (EXIF cleaned, RGB ICC kept, machine-made noted).

Pictures are consumed strip by strip (arrays or row sources such as streamed renders): 8-bit
outputs go through one Pillow image, 16-bit PNGs are encoded while the strips arrive (``png16``).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from colorizer.atomic import atomic_write
from colorizer.imageio.png16 import png_chunk, write_png16
from colorizer.imageio.read import LoadedImage
from colorizer.messages import one_line
from colorizer.strips import RowSource, row_ranges

SOFTWARE_TAG = "colorizer (machine colourised)"
MACHINE_NOTE = "Colours were generated automatically by a neural network (machine-colourised)."
# EXIF tags that describe the file's structure (or a stale gray thumbnail), not the photo.
_STRUCTURE_TAGS = frozenset({0x00FE, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0116, 0x0117,
                             0x0118, 0x0119, 0x011C, 0x013D, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x0152,
                             0x0153, 0x0201, 0x0202, 0x02BC, 0x83BB, 0x8649, 0x8773, 0x0112})
_MAKER_NOTE = 0x927C
_EXIF_IFD = 0x8769
_JPEG_EXIF_LIMIT = 65_000

# the formats photos can be written in: name (also the file extension) -> Pillow's format
OUTPUT_FORMATS = {"png": "PNG", "jpg": "JPEG", "tif": "TIFF", "webp": "WEBP"}
EXTENSION_ALIASES = {".jpeg": "jpg", ".tiff": "tif"}


class ImageWriteError(OSError):
    """An output could not be written."""


class OutputExistsError(ImageWriteError):
    """The output's name is taken and replacing it was not allowed."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _rgb_icc(icc: bytes | None) -> bytes | None:
    """The ICC profile if it describes RGB data (bytes 16..20 of the header), else None."""
    return icc if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB " else None


def to_uint(rgb: np.ndarray, depth: int = 8) -> np.ndarray:
    """Float [0, 1] (or uint8/uint16) image to uint8 or uint16, converted in row chunks (bounded memory)."""
    dtype = np.uint16 if depth == 16 else np.uint8
    if rgb.dtype == dtype:
        return rgb
    if rgb.dtype == np.uint8:
        return rgb.astype(np.uint16) * 257
    if rgb.dtype == np.uint16:
        return (rgb >> 8).astype(np.uint8)
    top = float(np.iinfo(dtype).max)
    out = np.empty(rgb.shape, dtype)
    for r0, r1 in row_ranges(rgb.shape[0], int(np.prod(rgb.shape[1:])) // 3 or 1):
        block = rgb[r0:r1].astype(np.float32) * np.float32(top)
        block += np.float32(0.5)
        np.clip(block, 0, top, out=block)
        out[r0:r1] = block
    return out


def _clean_exif(source: LoadedImage | None) -> Image.Exif:
    """Source EXIF less structure tags, thumbnail and maker notes; upright; marked machine-colourised."""
    exif = Image.Exif()
    if source is not None and source.exif:
        try:
            exif.load(source.exif)
            for tag in list(exif.keys()):
                if tag in _STRUCTURE_TAGS:
                    del exif[tag]
            if _EXIF_IFD in exif:
                exif.get_ifd(_EXIF_IFD).pop(_MAKER_NOTE, None)
        except Exception:  # noqa: BLE001 - damaged EXIF is dropped, not fatal
            exif = Image.Exif()
    exif[0x0112] = 1  # pixels are already upright
    exif[0x0131] = SOFTWARE_TAG
    caption = exif.get(0x010E)
    exif[0x010E] = f"{caption} (machine-colourised)" if isinstance(caption, str) and caption.strip() else \
        "Machine-colourised photograph"
    return exif


def _exif_payload(source: LoadedImage | None, limit: int | None = None) -> bytes:
    exif = _clean_exif(source)
    try:
        data = exif.tobytes()
    except Exception:  # noqa: BLE001
        data = b""
    if not data or (limit is not None and len(data) > limit):
        data = _clean_exif(None).tobytes()
    return data


def _png_metadata_chunks(source: LoadedImage | None, icc: bytes | None) -> list[bytes]:
    """iCCP, eXIf and tEXt chunks for a PNG written by :func:`write_png16`."""
    chunks = []
    if icc:
        chunks.append(png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    exif = _exif_payload(source)
    chunks.append(png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))  # TIFF header first
    for key, text in (("Software", SOFTWARE_TAG), ("Comment", MACHINE_NOTE)):
        chunks.append(png_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1")))
    return chunks


def _check_rgb(rgb: np.ndarray | RowSource) -> None:
    shape = tuple(rgb.shape)
    if len(shape) != 3 or shape[2] != 3 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) RGB image, not an array of shape {shape}")


def save_image(path: str | Path, rgb: np.ndarray | RowSource, alpha: np.ndarray | None = None, *,
               source: LoadedImage | None = None, protect: tuple[Path, ...] = (), quality: int = 95,
               depth: int = 8, replace: bool = True) -> Path:
    """Write an RGB(A) image atomically (temporary file in the same folder, then rename).

    ``rgb`` is float in [0, 1] or uint8/uint16: an array or any row source (e.g. a streamed render),
    consumed strip by strip. The format follows the extension (PNG, JPEG, TIFF, WebP); ``depth=16``
    writes a 16-bit PNG (other formats are always 8-bit). Refuses to overwrite ``source`` or any path
    in ``protect``; with ``replace=False`` it never replaces an existing file (OutputExistsError).
    Keeps EXIF/ICC of ``source`` where sensible and records that the colour is machine-made. Any
    failure raises ImageWriteError and leaves no file behind.
    """
    path = Path(path)
    guarded = list(protect) + ([source.path] if source is not None else [])
    if any(_same_file(path, p) or path.resolve() == Path(p).resolve() for p in guarded):
        raise ImageWriteError(f"{path}: refusing to overwrite an input file")
    ext = path.suffix.lower()
    key = EXTENSION_ALIASES.get(ext, ext[1:])
    if key not in OUTPUT_FORMATS:
        raise ImageWriteError(f"{path}: unsupported output format {ext!r} "
                              f"(use {', '.join('.' + k for k in OUTPUT_FORMATS)})")
    fmt = OUTPUT_FORMATS[key]
    icc = _rgb_icc(source.icc_profile) if source is not None else None

    def write(tmp: Path) -> None:
        _check_rgb(rgb)
        if depth == 16 and fmt == "PNG":
            with open(tmp, "wb") as fh:
                write_png16(fh, rgb, lambda block: to_uint(block, 16), alpha, _png_metadata_chunks(source, icc))
        else:
            _save_8bit(tmp, fmt, rgb, alpha, source, icc, quality)

    try:
        return atomic_write(path, write, replace=replace)
    except FileExistsError as exc:
        if os.path.lexists(path):
            raise OutputExistsError(f"{path}: already exists, not replaced") from None
        blocker = next((p for p in path.parents if os.path.lexists(p) and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker is not None else one_line(exc)
        raise ImageWriteError(f"{path}: cannot write ({reason})") from None
    except MemoryError:
        raise ImageWriteError(f"{path}: not enough memory to write this image") from None
    except Exception as exc:  # noqa: BLE001 - encoder/disk failures are one-line errors
        raise ImageWriteError(f"{path}: cannot write ({one_line(exc)})") from None


def _pil_image(rgb: np.ndarray | RowSource, alpha: np.ndarray | None) -> Image.Image:
    """An 8-bit RGB(A) Pillow image filled strip by strip (no full-size float or uint8 copy)."""
    h, w = rgb.shape[0], rgb.shape[1]
    img = Image.new("RGB" if alpha is None else "RGBA", (w, h))
    for r0, r1 in row_ranges(h, w):
        block = to_uint(rgb[r0:r1], 8)
        if alpha is not None:
            a = alpha[r0:r1]
            a8 = a if a.dtype == np.uint8 else (a >> 8).astype(np.uint8)
            block = np.concatenate([block, a8[..., None]], axis=-1)
        img.paste(Image.fromarray(np.ascontiguousarray(block)), (0, r0))
    return img


def _save_8bit(tmp: Path, fmt: str, rgb: np.ndarray | RowSource, alpha: np.ndarray | None,
               source: LoadedImage | None, icc: bytes | None, quality: int) -> None:
    img = _pil_image(rgb, alpha if fmt in ("PNG", "TIFF", "WEBP") else None)
    kwargs: dict = {}
    if icc:
        kwargs["icc_profile"] = icc
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SOFTWARE_TAG)
        info.add_text("Comment", MACHINE_NOTE)
        kwargs.update(pnginfo=info, compress_level=3)
    elif fmt == "JPEG":
        kwargs.update(quality=quality, subsampling=0)
    elif fmt == "TIFF":
        kwargs.update(compression="tiff_deflate")
    elif fmt == "WEBP":
        kwargs.update(quality=quality)
    kwargs["exif"] = _exif_payload(source, _JPEG_EXIF_LIMIT if fmt == "JPEG" else None)
    img.save(tmp, fmt, **kwargs)
