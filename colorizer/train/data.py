"""Training data: finding colour photos, loading them with alpha masks, label-true augmentation,
and sparse training samples (lightness crop + a few hundred positions with target histograms).

Every random choice takes an explicit ``numpy.random.Generator`` so that runs are reproducible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorizer.bins import BinScheme
from colorizer.color import luma, rgb_to_hue_chroma

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
MAX_SOURCE_SIDE = 1024


class DataError(RuntimeError):
    """A training image or data folder cannot be used."""


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations that keep the colour labels true (geometry and input lightness only).

    ``min_size``/``max_size``: output crop side in pixels (drawn per sample); ``scale``: crop side as
    a fraction of the photo's shorter side; ``rotate``: max rotation in degrees; ``contrast``/``gamma``:
    relative jitter of the *input* lightness (targets keep the true colours); ``enabled=False`` gives a
    centred, unjittered view (validation).
    """

    min_size: int = 224
    max_size: int = 320
    scale: tuple[float, float] = (0.4, 1.0)
    flip: bool = True
    rotate: float = 8.0
    contrast: float = 0.15
    gamma: float = 0.2
    enabled: bool = True


@dataclass(frozen=True)
class SampleConfig:
    """Sparse supervision: ``positions`` pixels per crop, targets over a ``window`` x ``window`` box."""

    positions: int = 256
    window: int = 7
    min_valid: int = 64


@dataclass
class Sample:
    """One training crop: input lightness (S, S), positions (P, 2) as (x, y) in [-1, 1] (grid_sample,
    align_corners=False, pixel centres), one (P, K) target histogram per channel, hue weight (P,)."""

    lightness: np.ndarray
    positions: np.ndarray
    targets: list[np.ndarray]
    weight: np.ndarray
    pixels: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))


# ----- finding and loading -------------------------------------------------------------------------
def find_images(folders: list[str | Path]) -> list[Path]:
    """All images under ``folders`` (recursive, sorted), by extension (JPEG/PNG/WebP/TIFF)."""
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            found.append(folder)
            continue
        if not folder.is_dir():
            raise DataError(f"{folder}: data folder not found")
        found.extend(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    return sorted(set(found))


def read_manifest(manifest: str | Path, split: str | None = None) -> list[Path]:
    """Image paths of a corpus ``MANIFEST.tsv`` (or its folder), filtered by its ``split`` column."""
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "MANIFEST.tsv"
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest not found")
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if rows and "file" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'file' column")
    if split is not None and rows and "split" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'split' column")
    paths = [manifest.parent / r["file"] for r in rows if split is None or r.get("split") == split]
    if split is not None and not paths:
        raise DataError(f"{manifest}: no images with split={split!r}")
    return paths


def manifest_licences(manifest: str | Path, split: str | None = None) -> dict[str, int]:
    """Count of images per licence (for provenance records)."""
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "MANIFEST.tsv"
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if split is None or r.get("split") == split]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.get("licence", "?")] = counts.get(r.get("licence", "?"), 0) + 1
    return counts


def load_color_image(path: str | Path, max_side: int = MAX_SOURCE_SIDE) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb float32 (H, W, 3) in [0, 1], opaque mask (H, W) bool or None when fully opaque).

    EXIF orientation is applied; 16-bit gray images keep their precision (Pillow reads 16-bit colour
    at 8 bits, which is plenty for colour labels); images larger than ``max_side``
    are reduced (area filter). Raises :class:`DataError` naming the file on any problem.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            arr, alpha = _pil_to_float(im)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from exc
    mask = None if alpha is None else alpha >= 1.0 - 1e-6
    if mask is not None and mask.all():
        mask = None
    h, w = arr.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    return np.clip(arr, 0.0, 1.0).astype(np.float32), mask


def _pil_to_float(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        g = np.asarray(im, dtype=np.float32) / (65535.0 if np.asarray(im).max() > 255 else 255.0)
        return np.repeat(g[..., None], 3, axis=-1), None
    if im.mode == "F":
        g = np.asarray(im, dtype=np.float32)
        return np.repeat(g[..., None], 3, axis=-1), None
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        a = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return a[..., :3], a[..., 3]
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, None


def mean_chroma(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean chroma (max - min of RGB) over valid pixels."""
    _, c = rgb_to_hue_chroma(rgb)
    return float(c[mask].mean()) if mask is not None and mask.any() else float(c.mean())


def is_near_gray(rgb: np.ndarray, mask: np.ndarray | None = None, threshold: float = 0.03) -> bool:
    """True when the photo carries (almost) no colour: mean chroma below ``threshold``.

    Such photos (black-and-white scans stored as RGB) would teach the network to leave things gray.
    """
    return mean_chroma(rgb, mask) < threshold


# ----- augmentation ----------------------------------------------------------------------------------
def augment(rgb: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, cfg: AugmentConfig,
            size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A square crop (S, S, 3) and its valid mask (S, S): multi-scale, flip, small rotation.

    Photos: a random square of ``scale`` x the shorter side. Cutouts (with ``mask``): the object is
    placed on a random flat gray background, scaled to fill half to all of the crop; only opaque
    pixels are valid. Pixels brought in by rotation are not valid either.
    """
    h, w = rgb.shape[:2]
    if size is None:
        size = int(rng.integers(cfg.min_size, cfg.max_size + 1)) if cfg.enabled else cfg.max_size
    bg = float(rng.uniform(0.2, 0.8)) if cfg.enabled else 0.5
    if mask is not None:
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            raise DataError("image has no opaque pixels")
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        extent = max(y1 - y0, x1 - x0)
        frac = float(rng.uniform(0.5, 1.0)) if cfg.enabled else 0.9
        zoom = frac * size / extent
        cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
        if cfg.enabled:
            slack = max(0.0, (size / zoom - extent) / 2)
            cy += rng.uniform(-slack, slack)
            cx += rng.uniform(-slack, slack)
    else:
        side = min(h, w) * (float(rng.uniform(*cfg.scale)) if cfg.enabled else 1.0)
        zoom = size / side
        if cfg.enabled:
            cy = rng.uniform(side / 2, h - side / 2) if h > side else h / 2
            cx = rng.uniform(side / 2, w - side / 2) if w > side else w / 2
        else:
            cy, cx = h / 2, w / 2
    src = rgb
    valid = np.ones((h, w), np.uint8) if mask is None else mask.astype(np.uint8)
    if mask is not None:
        src = rgb * mask[..., None] + bg * (1 - mask[..., None])
    if zoom < 0.75:  # area-filter first so the warp does not alias
        nh, nw = max(1, round(h * zoom)), max(1, round(w * zoom))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        valid = cv2.resize(valid, (nw, nh), interpolation=cv2.INTER_NEAREST)
        cy, cx = cy * nh / h, cx * nw / w
        zoom = zoom * h / nh
    angle = float(rng.uniform(-cfg.rotate, cfg.rotate)) if cfg.enabled and cfg.rotate > 0 else 0.0
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, float(zoom))
    m[:, 2] += np.array([size / 2 - cx, size / 2 - cy])
    border = cv2.BORDER_REFLECT_101 if mask is None else cv2.BORDER_CONSTANT
    out = cv2.warpAffine(src.astype(np.float32), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border,
                         borderValue=(bg, bg, bg))
    vmask = cv2.warpAffine(valid, m, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if cfg.enabled and cfg.flip and rng.random() < 0.5:
        out, vmask = out[:, ::-1], vmask[:, ::-1]
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0)), np.ascontiguousarray(vmask.astype(bool))


def jitter_lightness(lightness: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Contrast and gamma jitter of the network input only (the colour targets are unchanged)."""
    if not cfg.enabled or (cfg.contrast <= 0 and cfg.gamma <= 0):
        return lightness
    c = 1.0 + float(rng.uniform(-cfg.contrast, cfg.contrast))
    g = float(np.exp(rng.uniform(-cfg.gamma, cfg.gamma)))
    m = float(lightness.mean())
    out = np.clip((lightness - m) * c + m, 0.0, 1.0) ** g
    return out.astype(np.float32)


# ----- sparse targets --------------------------------------------------------------------------------
def sparse_targets(rgb: np.ndarray, valid: np.ndarray, pixels: np.ndarray, scheme: BinScheme,
                   window: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Target histograms (P, K) per channel and hue weight (P,) at integer ``pixels`` (P, 2) as (row, col).

    Identical to ``scheme.encode(rgb, window, mask=valid)`` read at those pixels, but only computed there.
    """
    indices, chroma = scheme.bin_indices(rgb)
    r = window // 2
    offs = np.arange(-r, r + 1)
    rows = pixels[:, 0, None, None] + offs[None, :, None]
    cols = pixels[:, 1, None, None] + offs[None, None, :]
    inside = (rows >= 0) & (rows < rgb.shape[0]) & (cols >= 0) & (cols < rgb.shape[1])
    rows_c = np.clip(rows, 0, rgb.shape[0] - 1)
    cols_c = np.clip(cols, 0, rgb.shape[1] - 1)
    wv = (valid[rows_c, cols_c] & inside).reshape(len(pixels), -1).astype(np.float32)
    count = np.maximum(wv.sum(1), 1e-8)
    p = len(pixels)
    targets = []
    for idx, k in zip(indices, scheme.channel_sizes):
        win = idx[rows_c, cols_c].reshape(p, -1)
        flat = (np.arange(p)[:, None] * k + win).ravel()
        hist = np.bincount(flat, weights=wv.ravel(), minlength=p * k).reshape(p, k)
        targets.append((hist / count[:, None]).astype(np.float32))
    weight = (chroma[rows_c, cols_c].reshape(p, -1) * wv).sum(1) / count
    return targets, weight.astype(np.float32)


def pixels_to_positions(pixels: np.ndarray, h: int, w: int) -> np.ndarray:
    """(row, col) pixel indices -> (x, y) pixel centres in [-1, 1] (align_corners=False)."""
    x = (pixels[:, 1] + 0.5) / w * 2 - 1
    y = (pixels[:, 0] + 0.5) / h * 2 - 1
    return np.stack([x, y], axis=-1).astype(np.float32)


def make_sample(rgb: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, scheme: BinScheme,
                aug: AugmentConfig, samp: SampleConfig, size: int | None = None, tries: int = 5) -> Sample | None:
    """One augmented crop with ``samp.positions`` supervised positions drawn among valid pixels.

    Returns None when no crop with at least ``samp.min_valid`` valid pixels is found.
    """
    for _ in range(tries):
        crop, valid = augment(rgb, mask, rng, aug, size)
        flat = np.flatnonzero(valid)
        if flat.size >= samp.min_valid:
            break
    else:
        return None
    replace = flat.size < samp.positions
    chosen = rng.choice(flat, size=samp.positions, replace=replace)
    pixels = np.stack(np.unravel_index(chosen, valid.shape), axis=-1).astype(np.int64)
    targets, weight = sparse_targets(crop, valid, pixels, scheme, samp.window)
    lightness = jitter_lightness(luma(crop).astype(np.float32), rng, aug)
    return Sample(lightness=lightness, positions=pixels_to_positions(pixels, *valid.shape), targets=targets,
                  weight=weight, pixels=pixels)


@dataclass
class ImageSet:
    """Loaded images (kept in memory; the corpus is small) with their paths and opaque masks."""

    paths: list[Path]
    images: list[np.ndarray]
    masks: list[np.ndarray | None]
    skipped: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)


def load_image_set(paths: list[Path], gray_threshold: float = 0.03, max_side: int = MAX_SOURCE_SIDE,
                   strict: bool = False, min_opaque: int = 64) -> ImageSet:
    """Load every image; unreadable and near-gray ones are skipped and recorded in ``skipped``."""
    out = ImageSet([], [], [])
    for p in paths:
        try:
            rgb, mask = load_color_image(p, max_side)
        except DataError as exc:
            if strict:
                raise
            out.skipped[str(p)] = str(exc)
            continue
        if mask is not None and int(mask.sum()) < min_opaque:
            out.skipped[str(p)] = f"fewer than {min_opaque} opaque pixels"
            continue
        if is_near_gray(rgb, mask, gray_threshold):
            out.skipped[str(p)] = "near-gray"
            continue
        out.paths.append(p)
        out.images.append(rgb)
        out.masks.append(mask)
    return out
