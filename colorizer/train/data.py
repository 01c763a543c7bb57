"""Training data: finding colour photos, loading them with alpha masks, label-true augmentation,
and sparse training samples (lightness crop + a few hundred positions with target histograms).

Every random choice takes an explicit ``numpy.random.Generator`` so that runs are reproducible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from colorizer.bins import BinScheme
from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.imageio import ImageReadError, load_rgb_alpha
from colorizer.recipe import file_sha256
from colorizer.train.augment import AugmentConfig, augment, jitter_lightness

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
MAX_SOURCE_SIDE = 1024


class DataError(RuntimeError):
    """A training image or data folder cannot be used."""


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


def read_manifest_rows(manifest: str | Path) -> tuple[Path, list[dict[str, str]]]:
    """(folder of the manifest, its rows) of a corpus ``MANIFEST.tsv`` (or its folder)."""
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "MANIFEST.tsv"
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest not found")
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if rows and "file" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'file' column")
    return manifest.parent, rows


def read_manifest(manifest: str | Path, split: str | None = None, exclude_sources: Sequence[str] = ()) -> list[Path]:
    """Image paths of a corpus manifest, filtered by its ``split`` column, leaving out the photos
    of the ``exclude_sources`` packages (a cross-validation fold)."""
    folder, rows = read_manifest_rows(manifest)
    if split is not None and rows and "split" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'split' column")
    if exclude_sources and rows and "source_package" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'source_package' column")
    excluded = set(exclude_sources)
    paths = [folder / r["file"] for r in rows
             if (split is None or r.get("split") == split) and r.get("source_package") not in excluded]
    if split is not None and not paths:
        raise DataError(f"{manifest}: no images with split={split!r}")
    return paths


def manifest_licences(manifest: str | Path, split: str | None = None) -> dict[str, int]:
    """Count of images per licence (for provenance records)."""
    rows = [r for r in read_manifest_rows(manifest)[1] if split is None or r.get("split") == split]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.get("licence", "?")] = counts.get(r.get("licence", "?"), 0) + 1
    return counts


def load_color_image(path: str | Path, max_side: int = MAX_SOURCE_SIDE) -> tuple[np.ndarray, np.ndarray | None]:
    """(rgb float32 (H, W, 3) in [0, 1], opaque mask (H, W) bool or None when fully opaque).

    Read through :mod:`colorizer.imageio` (EXIF orientation, 16-bit, CMYK, palette); images larger
    than ``max_side`` are reduced (area filter). Raises :class:`DataError` naming the file on any problem.
    """
    path = Path(path)
    try:
        arr, alpha = load_rgb_alpha(path)
    except ImageReadError as exc:
        raise DataError(str(exc)) from exc
    mask = None if alpha is None else alpha >= 255
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


def mean_chroma(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean chroma (max - min of RGB) over valid pixels."""
    _, c = rgb_to_hue_chroma(rgb)
    return float(c[mask].mean()) if mask is not None and mask.any() else float(c.mean())


def is_near_gray(rgb: np.ndarray, mask: np.ndarray | None = None, threshold: float = 0.03) -> bool:
    """True when the photo carries (almost) no colour: mean chroma below ``threshold``.

    Such photos (black-and-white scans stored as RGB) would teach the network to leave things gray.
    """
    return mean_chroma(rgb, mask) < threshold


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
                aug: AugmentConfig, samp: SampleConfig, size: int | None = None, tries: int = 5,
                backgrounds: Sequence[np.ndarray] = ()) -> Sample | None:
    """One augmented crop with ``samp.positions`` supervised positions drawn among valid pixels
    (``backgrounds``: photos that cut-outs may be composited onto, see :func:`augment`).

    Returns None when no crop with at least ``samp.min_valid`` valid pixels is found.
    """
    for _ in range(tries):
        crop, valid = augment(rgb, mask, rng, aug, size, backgrounds)
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


def file_key(path: Path) -> str:
    """Content hash of a file (so a renamed or moved photo is still the same photo)."""
    return file_sha256(path)[:20]


@dataclass
class ImageSet:
    """Loaded images (kept in memory; the corpus is small) with their paths, opaque masks and
    content keys (:func:`file_key`)."""

    paths: list[Path]
    images: list[np.ndarray]
    masks: list[np.ndarray | None]
    skipped: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def load_image_set(paths: list[Path], gray_threshold: float = 0.03, max_side: int = MAX_SOURCE_SIDE,
                   strict: bool = False, min_opaque: int = 64,
                   report: Callable[[int, int], None] | None = None) -> ImageSet:
    """Load every image; unreadable and near-gray ones are skipped and recorded in ``skipped``.
    ``report(done, total)`` is called after each file (it may raise to cancel)."""
    out = ImageSet([], [], [])
    for n, p in enumerate(paths):
        if report is not None and n:
            report(n, len(paths))
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
        out.keys.append(file_key(p))
    return out
