"""Old-print degradations of the input lightness: blur, faded contrast, film grain, dust, JPEG.

Users' photos are scans of old prints, not clean modern grays. The trainer applies these to the
network *input* only (the colour labels stay those of the clean photo), and the evaluation uses a
fixed, seeded version (``EVAL_OLD_PRINT``) to check that colour quality survives old-print inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class OldPrintConfig:
    """Ranges of each degradation (each drawn uniformly per image).

    ``blur``: Gaussian sigma in pixels; ``fade``: share of the tonal range lost (black lifted and
    white lowered); ``grain``: standard deviation of film grain (lightness units, clumped by a
    0.7 px blur); ``dust``: chance of a few specks and a scratch; ``jpeg``: quality range (0 = no
    JPEG); ``probability``: chance that an image is degraded at all (training).
    """

    blur: tuple[float, float] = (0.0, 1.6)
    fade: tuple[float, float] = (0.0, 0.35)
    grain: tuple[float, float] = (0.0, 0.05)
    dust: float = 0.3
    jpeg: tuple[int, int] = (30, 90)
    probability: float = 0.5

    def __post_init__(self) -> None:
        for name in ("blur", "fade", "grain", "jpeg"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"old-print {name} range must satisfy 0 <= low <= high, got {(lo, hi)}")
        if self.fade[1] >= 1 or self.jpeg[1] > 100:
            raise ValueError("old-print fade must stay below 1 and JPEG quality at most 100")
        if not (0 <= self.dust <= 1 and 0 <= self.probability <= 1):
            raise ValueError("old-print dust and probability are chances in [0, 1]")


# The fixed "old print" of the evaluation: like the team's independent check (blur, faded contrast,
# grain, JPEG q50), the same for every photo apart from the seeded grain.
EVAL_OLD_PRINT = OldPrintConfig(blur=(1.2, 1.2), fade=(0.3, 0.3), grain=(0.03, 0.03), dust=0.0, jpeg=(50, 50),
                                probability=1.0)


def degrade_lightness(lightness: np.ndarray, rng: np.random.Generator, cfg: OldPrintConfig) -> np.ndarray:
    """An "old print" version of a (H, W) lightness image in [0, 1] (float32); may return the input
    unchanged with chance ``1 - cfg.probability``."""
    if cfg.probability <= 0 or rng.random() >= cfg.probability:
        return lightness
    out = lightness.astype(np.float32, copy=True)
    sigma = float(rng.uniform(*cfg.blur))
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    fade = float(rng.uniform(*cfg.fade))
    if fade > 0:
        lift = fade * float(rng.uniform(0.3, 0.7))  # share of the loss taken from the blacks
        out = lift + (1.0 - fade) * out
    grain = float(rng.uniform(*cfg.grain))
    if grain > 0:
        noise = cv2.GaussianBlur(rng.standard_normal(out.shape).astype(np.float32), (0, 0), 0.7)
        out = out + noise * (grain / max(float(noise.std()), 1e-6))
    if cfg.dust > 0 and rng.random() < cfg.dust:
        out = add_dust(out, rng)
    out = np.clip(out, 0.0, 1.0)
    quality = int(rng.integers(cfg.jpeg[0], cfg.jpeg[1] + 1)) if cfg.jpeg[1] > 0 else 0
    if quality > 0:
        out = jpeg_roundtrip(out, quality)
    return out.astype(np.float32)


def add_dust(lightness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A few bright and dark specks and one faint scratch, sized relative to the image."""
    h, w = lightness.shape
    out = lightness.copy()
    scale = max(h, w) / 512.0
    for _ in range(int(rng.integers(3, 15))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        radius = max(1, int(round(rng.uniform(0.5, 2.5) * scale)))
        cv2.circle(out, centre, radius, float(rng.choice([0.05, 0.95])), -1, lineType=cv2.LINE_AA)
    x0, x1 = (int(v) for v in rng.integers(0, w, size=2))
    cv2.line(out, (x0, 0), (x1, h - 1), float(rng.uniform(0.6, 0.9)), max(1, int(scale)), lineType=cv2.LINE_AA)
    return out


def jpeg_roundtrip(lightness: np.ndarray, quality: int) -> np.ndarray:
    """Encode as an 8-bit gray JPEG at ``quality`` and decode again (block artefacts, quantised tones)."""
    img = np.clip(lightness * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
