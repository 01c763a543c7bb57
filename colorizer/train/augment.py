"""Label-true augmentation of training photos: crops, flips, small rotations, cut-outs composited
onto backdrops, and jitter or old-print degradation of the network input (never of the colours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from colorizer.color import hue_chroma_to_offset
from colorizer.train.degrade import OldPrintConfig, degrade_lightness

BACKGROUNDS = ("flat", "flat_supervised", "photo", "mixed")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations that keep the colour labels true (geometry and input lightness only).

    ``min_size``/``max_size``: output crop side in pixels (drawn per sample); ``scale``: crop side as
    a fraction of the photo's shorter side; ``rotate``: max rotation in degrees; ``contrast``/``gamma``:
    relative jitter of the *input* lightness (targets keep the true colours); ``old_print``: old-print
    degradations of the input (None: none); ``enabled=False`` gives a centred, unjittered view (validation).

    ``background`` (cut-outs only): ``flat`` places the object on a flat gray that is not supervised;
    ``flat_supervised`` on a flat near-neutral backdrop with a soft light gradient, supervised with
    its own (low) colour; ``photo`` on a crop of another training photo, supervised with that photo's
    colours; ``mixed`` picks ``photo`` or ``flat_supervised`` half the time each.
    """

    min_size: int = 224
    max_size: int = 320
    scale: tuple[float, float] = (0.4, 1.0)
    flip: bool = True
    rotate: float = 8.0
    contrast: float = 0.15
    gamma: float = 0.2
    background: str = "flat"
    old_print: OldPrintConfig | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown cut-out background {self.background!r}; expected one of {', '.join(BACKGROUNDS)}")


def _warp(src: np.ndarray, cx: float, cy: float, zoom: float, angle: float, size: int,
          border: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotate/scale ``src`` about (cx, cy) into a size x size view centred there (area-filtered first
    when shrinking a lot, so the warp does not alias). Also returns which view pixels come from
    inside ``src`` (not from the border)."""
    h, w = src.shape[:2]
    if zoom < 0.75:
        nh, nw = max(1, round(h * zoom)), max(1, round(w * zoom))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        cy, cx = cy * nh / h, cx * nw / w
        zoom = zoom * h / nh
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, float(zoom))
    m[:, 2] += np.array([size / 2 - cx, size / 2 - cy])
    view = cv2.warpAffine(src.astype(np.float32), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border,
                          borderValue=0)
    inside = cv2.warpAffine(np.ones(src.shape[:2], np.uint8), m, (size, size), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return view, inside.astype(bool)


def _photo_view(rgb: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, size: int,
                angle: float) -> tuple[np.ndarray, np.ndarray]:
    """A random square of ``cfg.scale`` x the shorter side, resized to ``size`` (reflected borders),
    and which of its pixels lie inside the photo."""
    h, w = rgb.shape[:2]
    side = min(h, w) * (float(rng.uniform(*cfg.scale)) if cfg.enabled else 1.0)
    if cfg.enabled:
        cy = rng.uniform(side / 2, h - side / 2) if h > side else h / 2
        cx = rng.uniform(side / 2, w - side / 2) if w > side else w / 2
    else:
        cy, cx = h / 2, w / 2
    return _warp(rgb, cx, cy, size / side, angle, size, cv2.BORDER_REFLECT_101)


def flat_backdrop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A studio-like backdrop: one near-neutral colour (chroma <= 0.06) with a soft light gradient."""
    level = float(rng.uniform(0.2, 0.85))
    tint = hue_chroma_to_offset(np.float32(rng.uniform()), np.float32(rng.uniform(0.0, 0.06)))
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gy, gx = np.meshgrid(ramp, ramp, indexing="ij")
    theta = float(rng.uniform(0, 2 * np.pi))
    light = level + float(rng.uniform(0.0, 0.12)) * (np.cos(theta) * gx + np.sin(theta) * gy)
    return np.clip(light[..., None] + tint[None, None, :], 0.0, 1.0).astype(np.float32)


def _cutout_view(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, size: int,
                 angle: float, background: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The object scaled to fill half to all of the crop, composited on ``background`` (a size x size
    RGB view, supervised) or on a flat unsupervised gray when None."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("image has no opaque pixels")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    extent = max(y1 - y0, x1 - x0)
    zoom = (float(rng.uniform(0.5, 1.0)) if cfg.enabled else 0.9) * size / extent
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    if cfg.enabled:
        slack = max(0.0, (size / zoom - extent) / 2)
        cy += rng.uniform(-slack, slack)
        cx += rng.uniform(-slack, slack)
    alpha = mask.astype(np.float32)
    warped, _ = _warp(np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=-1), cx, cy, zoom, angle, size,
                      cv2.BORDER_CONSTANT)
    a = np.clip(warped[..., 3], 0.0, 1.0)
    if background is None:
        bg = np.full((size, size, 3), float(rng.uniform(0.2, 0.8)) if cfg.enabled else 0.5, np.float32)
        valid = a > 0.999
    else:
        bg = background
        valid = (a > 0.999) | (a < 0.001)  # object and backdrop are both ground truth; the seam is not
    return warped[..., :3] + (1.0 - a[..., None]) * bg, valid


def augment(rgb: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, cfg: AugmentConfig,
            size: int | None = None, backgrounds: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """A square crop (S, S, 3) and its valid mask (S, S): multi-scale, flip, small rotation.

    Photos: a random square of ``scale`` x the shorter side. Cut-outs (with ``mask``): the object on
    a backdrop chosen by ``cfg.background`` (``backgrounds``: photos to crop backdrops from; without
    any, ``photo`` falls back to ``flat_supervised``). Pixels brought in by rotation are not valid
    for photos; only opaque pixels (and supervised backdrops) are valid for cut-outs.
    """
    if size is None:
        size = int(rng.integers(cfg.min_size, cfg.max_size + 1)) if cfg.enabled else cfg.max_size
    angle = float(rng.uniform(-cfg.rotate, cfg.rotate)) if cfg.enabled and cfg.rotate > 0 else 0.0
    if mask is None:
        out, valid = _photo_view(rgb, rng, cfg, size, angle)
    else:
        kind = cfg.background
        if kind == "mixed":
            kind = "photo" if rng.random() < 0.5 else "flat_supervised"
        if kind == "photo" and not backgrounds:
            kind = "flat_supervised"
        backdrop = None
        if kind == "photo":
            source = backgrounds[int(rng.integers(len(backgrounds)))]
            backdrop = _photo_view(source, rng, cfg, size, 0.0)[0]
        elif kind == "flat_supervised":
            backdrop = flat_backdrop(rng, size)
        out, valid = _cutout_view(rgb, mask, rng, cfg, size, angle, backdrop)
    if cfg.enabled and cfg.flip and rng.random() < 0.5:
        out, valid = out[:, ::-1], valid[:, ::-1]
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0)), np.ascontiguousarray(valid.astype(bool))


def jitter_lightness(lightness: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Contrast and gamma jitter, then old-print degradations, of the network input only (the colour
    targets are unchanged)."""
    if not cfg.enabled:
        return lightness
    out = lightness
    if cfg.contrast > 0 or cfg.gamma > 0:
        c = 1.0 + float(rng.uniform(-cfg.contrast, cfg.contrast))
        g = float(np.exp(rng.uniform(-cfg.gamma, cfg.gamma)))
        m = float(lightness.mean())
        out = (np.clip((lightness - m) * c + m, 0.0, 1.0) ** g).astype(np.float32)
    if cfg.old_print is not None:
        out = degrade_lightness(out, rng, cfg.old_print)
    return out
