"""Pictures made from data: uncertainty colour maps and contact sheets (no Qt)."""

from __future__ import annotations

import cv2
import numpy as np


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
