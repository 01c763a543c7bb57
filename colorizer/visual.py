"""Pictures made from data: uncertainty colour maps and contact sheets (no Qt)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

WHITE = 255
LABEL_HEIGHT = 22


def uncertainty_to_rgb(uncertainty: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 with the perceptually uniform *inferno* map.

    0 (sure) is black, 1 (a guess) is pale yellow; the scale is linear, so a legend is a plain ramp.
    """
    u8 = np.clip(uncertainty * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def legend_ramp(width: int = 256, height: int = 16) -> np.ndarray:
    """A horizontal ramp of the uncertainty colour map (left: certain, right: uncertain)."""
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return uncertainty_to_rgb(ramp)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Gray or RGB, float in [0, 1] or uint8 -> (H, W, 3) uint8."""
    if image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` as uint8 RGB scaled (area) to ``height`` rows, keeping its aspect."""
    rgb = to_rgb8(image)
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def with_label(tile: np.ndarray, text: str) -> np.ndarray:
    """A white caption bar with ``text`` above a uint8 RGB ``tile``."""
    bar = np.full((LABEL_HEIGHT, tile.shape[1], 3), WHITE, np.uint8)
    cv2.putText(bar, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def contact_row(tiles: Sequence[np.ndarray], height: int = 192, labels: Sequence[str] | None = None,
                gap: int = 4) -> np.ndarray:
    """Tiles (gray/RGB, float or uint8) side by side at one ``height``, white gaps, optional captions."""
    fitted = [fit_height(t, height) for t in tiles]
    if labels is not None:
        fitted = [with_label(t, text) for t, text in zip(fitted, labels)]
    sep = np.full((fitted[0].shape[0], gap, 3), WHITE, np.uint8)
    parts: list[np.ndarray] = []
    for tile in fitted:
        parts += [tile, sep]
    return np.concatenate(parts[:-1], axis=1)


def contact_sheet(rows: Sequence[np.ndarray], gap: int = 4, footer: np.ndarray | None = None) -> np.ndarray:
    """Rows stacked with white gaps, each padded on the right to the widest; ``footer`` (e.g. a legend)
    goes last, padded the same way."""
    rows = list(rows) + ([footer] if footer is not None else [])
    width = max(r.shape[1] for r in rows)
    gap_row = np.full((gap, width, 3), WHITE, np.uint8)
    parts: list[np.ndarray] = []
    for r in rows:
        pad = np.full((r.shape[0], width - r.shape[1], 3), WHITE, np.uint8)
        parts += [np.concatenate([r, pad], axis=1), gap_row]
    return np.concatenate(parts[:-1], axis=0)


def uncertainty_legend(width: int, caption: str = "uncertainty") -> np.ndarray:
    """A white strip: ``caption: sure`` [inferno ramp] ``unsure``."""
    legend = np.full((30, width, 3), WHITE, np.uint8)
    font, ink = cv2.FONT_HERSHEY_SIMPLEX, (20, 20, 20)
    cv2.putText(legend, f"{caption}: sure", (6, 20), font, 0.45, ink, 1, cv2.LINE_AA)
    ramp = legend_ramp(256, 12)
    x0 = 190
    legend[9:21, x0:x0 + min(256, width - x0)] = ramp[:, : max(0, min(256, width - x0))]
    cv2.putText(legend, "unsure", (x0 + 262, 20), font, 0.45, ink, 1, cv2.LINE_AA)
    return legend
