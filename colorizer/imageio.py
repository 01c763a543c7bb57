"""Robust photo loading and atomic saving.

Loading honours EXIF orientation, reads 8/16-bit, palette, alpha, CMYK and colour photos, and
reduces everything to the lightness the network sees; anything unreadable raises
:class:`ImageReadError` whose message names the file and the reason in one line.

Decisions (see also ``docs``):

- 16-bit inputs (PNG, TIFF, gray or colour) are read at full precision; Pillow would reduce
  16-bit colour to 8 bits, so those go through OpenCV. ``save_image(depth=16)`` writes a 16-bit
  PNG (other formats stay 8-bit): the output then keeps the scan's tonal precision exactly.
- The pixel limit (``max_pixels``, default 89.5 MP, Pillow's own warning level) is checked from
  the header before any pixel is decoded; Pillow independently refuses anything above twice its
  limit (~179 MP), so larger ``max_pixels`` values cannot lift that.
- Metadata: descriptive EXIF (camera, dates, author, GPS) is kept, orientation is reset to 1
  (pixels are stored upright), thumbnails/maker notes/file-structure tags are dropped; an ICC
  profile is kept only if it is an RGB profile (a gray or CMYK profile would mislabel RGB output).
  Software/ImageDescription (EXIF) and PNG text chunks say the colour is machine-made.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from colorizer.color import gray_to_lightness, rgb_to_hue_chroma

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
DEFAULT_MAX_PIXELS = 89_478_485
SOFTWARE_TAG = "colorizer (machine colourised)"
MACHINE_NOTE = "Colours were generated automatically by a neural network (machine-colourised)."
COLOUR_CHROMA_THRESHOLD = 0.04
TINT_RESULTANT = 0.9
CONVERT_CHUNK_PIXELS = 1 << 20
# EXIF tags that describe the file's structure (or a stale gray thumbnail), not the photo.
_STRUCTURE_TAGS = frozenset({0x00FE, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0116, 0x0117,
                             0x0118, 0x0119, 0x011C, 0x013D, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x0152,
                             0x0153, 0x0201, 0x0202, 0x02BC, 0x83BB, 0x8649, 0x8773, 0x0112})
_MAKER_NOTE = 0x927C
_EXIF_IFD = 0x8769
_JPEG_EXIF_LIMIT = 65_000


class ImageReadError(ValueError):
    """A file could not be read as a photo."""


class ImageWriteError(OSError):
    """An output could not be written."""


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


def is_image_file(path: Path) -> bool:
    """A supported extension (any case) and not a hidden file (our temporaries are hidden)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


# ----------------------------------------------------------------------------------------- reading

def _to_float_rgb(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(H, W, 3) or (H, W) float32 array in [0, 1], alpha (uint8) or None, and the bit depth."""
    alpha = None
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        top = float(arr.max()) if arr.size else 0.0
        peak = 65535.0 if mode.startswith("I;16") or 255 < top <= 65535 else (4294967295.0 if top > 65535 else 255.0)
        return np.clip(arr / peak, 0, 1), None, 16 if peak > 255 else 8
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32))
        return np.clip(arr / (255.0 if arr.size and arr.max() > 1.0 else 1.0), 0, 1), None, 16
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "CMYK":
        img = _cmyk_to_rgb(img)
    elif mode in ("YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode in ("PA", "RGBa", "RGBX"):
        img = img.convert("RGBA" if mode != "RGBX" else "RGB")
    elif mode == "La":
        img = img.convert("LA")
    if img.mode in ("RGBA", "LA"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        img = img.convert("RGB" if img.mode == "RGBA" else "L")
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    return _u8_to_float(np.asarray(img)), alpha, 8


def _u8_to_float(arr: np.ndarray) -> np.ndarray:
    out = arr.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    """CMYK -> sRGB through the embedded profile when there is one, else Pillow's naive formula."""
    icc = img.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken profile falls back to the plain conversion
            pass
    return img.convert("RGB")


def _png_header_depth(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return (head[24], head[25]) if len(head) >= 26 else (8, 0)


def _is_deep_colour(img: Image.Image, path: Path) -> bool:
    """16-bit colour (or gray + alpha) that Pillow would reduce to 8 bits."""
    if img.format == "PNG":
        depth, colour_type = _png_header_depth(path)
        return depth == 16 and colour_type in (2, 4, 6)
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) > 1 and max(bits) == 16 and img.mode not in ("CMYK",)
    return False


def _decode_deep(path: Path) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A 16-bit file through OpenCV: float (H, W[, 3]) in [0, 1] and uint8 alpha; None if it fails."""
    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    peak = float(np.iinfo(arr.dtype).max) if np.issubdtype(arr.dtype, np.integer) else 1.0
    alpha = None
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        alpha = np.clip(arr[..., -1].astype(np.float32) * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        arr = arr[..., :-1]
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # BGR -> RGB
    out = arr.astype(np.float32)
    out *= np.float32(1.0 / peak)
    return np.clip(out, 0.0, 1.0, out=out), alpha


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W[, C]) array, as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(arr, -1)
    if orientation == 7:
        return arr[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(arr, 1)
    return arr


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


def _rgb_icc(icc: bytes | None) -> bytes | None:
    """The ICC profile if it describes RGB data (bytes 16..20 of the header), else None."""
    return icc if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB " else None


def classify_colour(rgb: np.ndarray) -> tuple[bool, bool]:
    """(has colour, is only tinted) for an (H, W, 3) array in [0, 1], from a subsample.

    Tinted = clearly coloured but nearly one hue everywhere (sepia, cyanotype, colour cast): the
    chroma-weighted hue resultant is above ``TINT_RESULTANT``.
    """
    sample = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)]
    hue, chroma = rgb_to_hue_chroma(sample)
    if float(np.percentile(chroma, 90)) <= COLOUR_CHROMA_THRESHOLD:
        return False, False
    w = np.where(chroma > COLOUR_CHROMA_THRESHOLD / 2, chroma, 0.0)
    z = np.sum(w * np.exp(2j * np.pi * hue)) / max(float(w.sum()), 1e-9)
    return True, bool(abs(z) > TINT_RESULTANT)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ImageReadError(f"{path}: file not found")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")


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


def _read(path: Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, int, dict]:
    """Decode pixels (upright); returns array, alpha, depth and metadata (exif, icc, format, frames)."""
    try:
        with _open_checked(path, max_pixels) as img:
            frames = getattr(img, "n_frames", 1)
            decoded = _decode_deep(path) if _is_deep_colour(img, path) else None
            if decoded is not None:
                arr, alpha = decoded
                depth = 16
            else:
                img.seek(0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    img.load()
                arr, alpha, depth = _to_float_rgb(img)
            turn = _orientation(img)
            arr = np.ascontiguousarray(orient(arr, turn))
            alpha = None if alpha is None else np.ascontiguousarray(orient(alpha, turn))
            meta = {"exif": _exif_bytes(img), "icc": img.info.get("icc_profile"), "format": img.format,
                    "frames": frames}
            return arr, alpha, depth, meta
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
        raise ImageReadError(f"{path}: damaged or truncated image ({_one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a per-file error, never a crash
        raise ImageReadError(f"{path}: cannot decode ({type(exc).__name__}: {_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a photo and return its lightness (and alpha, metadata). Raises ImageReadError."""
    path = Path(path)
    _check_path(path)
    arr, alpha, depth, meta = _read(path, max_pixels)
    notes: list[str] = []
    was_colour = tinted = False
    if arr.ndim == 3:
        was_colour, tinted = classify_colour(arr)
        if tinted:
            was_colour = False
            notes.append("toned or colour-cast monochrome (e.g. sepia): colourised from its lightness")
        elif was_colour:
            notes.append("already in colour: colourised from its lightness")
    if meta["frames"] > 1:
        notes.append(f"first of {meta['frames']} frames used")
    if depth == 16:
        notes.append("16-bit input")
    lightness = gray_to_lightness(arr)
    del arr
    return LoadedImage(path=path, lightness=lightness, alpha=alpha, was_colour=was_colour, bit_depth=depth,
                       exif=meta["exif"], icc_profile=meta["icc"], notes=notes, tinted=tinted,
                       source_format=meta["format"])


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A colour photo as (H, W, 3) float32 in [0, 1] (EXIF-oriented); for references and ground truth."""
    path = Path(path)
    _check_path(path)
    arr, _, _, _ = _read(path, max_pixels)
    return arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, axis=-1)


# ----------------------------------------------------------------------------------------- writing

def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def reserve_temp_path(path: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` (mode 0666 less the umask).

    The name does not contain the output's stem, so long names cannot exceed the file-name limit.
    """
    while True:
        tmp = path.with_name(f".colorizer-{secrets.token_hex(6)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


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
    row_pixels = int(np.prod(rgb.shape[1:])) or 1
    rows = max(1, CONVERT_CHUNK_PIXELS // row_pixels)
    for r in range(0, rgb.shape[0], rows):
        block = rgb[r:r + rows].astype(np.float32) * np.float32(top)
        block += np.float32(0.5)
        np.clip(block, 0, top, out=block)
        out[r:r + rows] = block
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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16_bytes(rgb16: np.ndarray, alpha: np.ndarray | None, source: LoadedImage | None, icc: bytes | None) -> bytes:
    """A 16-bit RGB(A) PNG (OpenCV encodes the pixels; metadata chunks are added after IHDR)."""
    bgr = rgb16[..., ::-1]
    if alpha is not None:
        a16 = alpha.astype(np.uint16) * 257 if alpha.dtype == np.uint8 else alpha.astype(np.uint16)
        bgr = np.concatenate([bgr, a16[..., None]], axis=-1)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("OpenCV could not encode a 16-bit PNG")
    data = buf.tobytes()
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    exif = _exif_payload(source)
    extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)  # TIFF header first
    for key, text in (("Software", SOFTWARE_TAG), ("Comment", MACHINE_NOTE)):
        extra += _png_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    ihdr_end = 8 + 8 + 13 + 4
    return data[:ihdr_end] + extra + data[ihdr_end:]


def save_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, *,
               source: LoadedImage | None = None, protect: tuple[Path, ...] = (), quality: int = 95,
               depth: int = 8) -> Path:
    """Write an RGB(A) image atomically (temporary file in the same folder, then rename).

    ``rgb`` is float in [0, 1] or uint8/uint16. The format follows the extension (PNG, JPEG, TIFF,
    WebP); ``depth=16`` writes a 16-bit PNG (other formats are always 8-bit). Refuses to overwrite
    ``source`` or any path in ``protect``. Keeps EXIF/ICC of ``source`` where sensible and records
    that the colour is machine-made. Any failure raises ImageWriteError and leaves no file behind.
    """
    path = Path(path)
    guarded = list(protect) + ([source.path] if source is not None else [])
    if any(_same_file(path, p) or path.resolve() == Path(p).resolve() for p in guarded):
        raise ImageWriteError(f"{path}: refusing to overwrite an input file")
    ext = path.suffix.lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
    if ext not in formats:
        raise ImageWriteError(f"{path}: unsupported output format {ext!r} (use .png, .jpg, .tif or .webp)")
    fmt = formats[ext]
    icc = _rgb_icc(source.icc_profile) if source is not None else None
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = reserve_temp_path(path)
        if depth == 16 and fmt == "PNG":
            tmp.write_bytes(_png16_bytes(to_uint(rgb, 16), alpha, source, icc))
        else:
            _save_8bit(tmp, fmt, to_uint(rgb, 8), alpha, source, icc, quality)
        os.replace(tmp, path)
        tmp = None
    except ImageWriteError:
        raise
    except MemoryError:
        raise ImageWriteError(f"{path}: not enough memory to write this image") from None
    except Exception as exc:  # noqa: BLE001 - encoder/disk failures are one-line errors
        raise ImageWriteError(f"{path}: cannot write ({_one_line(exc)})") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def _save_8bit(tmp: Path, fmt: str, arr: np.ndarray, alpha: np.ndarray | None, source: LoadedImage | None,
               icc: bytes | None, quality: int) -> None:
    img = Image.fromarray(arr, "RGB")
    if alpha is not None and fmt in ("PNG", "TIFF", "WEBP"):
        a8 = alpha if alpha.dtype == np.uint8 else (alpha >> 8).astype(np.uint8)
        img.putalpha(Image.fromarray(a8, "L"))
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
