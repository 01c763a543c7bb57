"""Decoded pixels -> float arrays in [0, 1]: Pillow modes, 16-bit files through OpenCV, EXIF orientation.

:class:`PixelStrips` converts a decoded image strip by strip, so a big photo is reduced to its
lightness without ever holding the whole photo as float RGB (a 81 MP colour photo would need ~1 GB).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

_WHOLE_MODES = ("I", "F")  # their scale depends on the whole image's maximum: converted at once


def to_float_rgb(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
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
        img = cmyk_to_rgb(img)
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
    return u8_to_float(np.asarray(img)), alpha, 8


def u8_to_float(arr: np.ndarray) -> np.ndarray:
    out = arr.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out


def cmyk_to_rgb(img: Image.Image) -> Image.Image:
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


def is_deep_colour(img: Image.Image, path: Path) -> bool:
    """16-bit colour (or gray + alpha) that Pillow would reduce to 8 bits."""
    if img.format == "PNG":
        depth, colour_type = _png_header_depth(path)
        return depth == 16 and colour_type in (2, 4, 6)
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) > 1 and max(bits) == 16 and img.mode not in ("CMYK",)
    return False


def decode_deep_raw(path: Path) -> np.ndarray | None:
    """A 16-bit file as OpenCV decodes it (integer BGR[A] or gray), None if it cannot."""
    return cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)


def deep_to_float(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """OpenCV pixels (rows of a 16-bit file) -> float RGB or gray in [0, 1] and uint8 alpha."""
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
    """Apply an EXIF orientation (1..8) to an (H, W[, C]) array, as ``ImageOps.exif_transpose`` does (a view)."""
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


def unorient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """The inverse of :func:`orient` (a view): writing the stored image into it fills ``arr`` upright."""
    if orientation == 6:
        return np.rot90(arr, 1)
    if orientation == 7:
        return arr.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(arr, -1)
    return orient(arr, orientation)  # 1..5 are their own inverses


class PixelStrips:
    """A decoded image (a loaded Pillow image, or OpenCV's array of a 16-bit file) as float strips.

    ``strip(r0, r1)`` gives rows of the stored (not yet oriented) image exactly as converting the whole
    image would: (float array in [0, 1], uint8 alpha or None).
    """

    def __init__(self, img: Image.Image | None = None, deep: np.ndarray | None = None) -> None:
        self.img, self.deep, self.depth = img, deep, 16 if deep is not None else 8
        self._whole: tuple[np.ndarray, np.ndarray | None] | None = None
        if img is not None and img.mode in _WHOLE_MODES:
            arr, alpha, self.depth = to_float_rgb(img)
            self._whole = (arr, alpha)
        elif img is not None and img.mode.startswith("I;16"):
            self.depth = 16

    @property
    def shape(self) -> tuple[int, int]:
        if self.deep is not None:
            return self.deep.shape[0], self.deep.shape[1]
        return self.img.size[1], self.img.size[0]

    def strip(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self._whole is not None:
            arr, alpha = self._whole
            return arr[r0:r1], None if alpha is None else alpha[r0:r1]
        if self.deep is not None:
            return deep_to_float(self.deep[r0:r1])
        whole = r0 == 0 and r1 >= self.img.size[1]
        arr, alpha, _ = to_float_rgb(self.img if whole else self.img.crop((0, r0, self.img.size[0], r1)))
        return arr, alpha
