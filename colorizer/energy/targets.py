"""Target histograms: a reference photo's palette (a single colour's soft histogram is
:func:`colorizer.bins.colour_histograms`)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from colorizer.bins import BinScheme, uniform_centers


def reference_histograms(scheme: BinScheme, rgb: np.ndarray, max_side: int = 384,
                         mask: np.ndarray | None = None) -> list[np.ndarray]:
    """Target histograms of a colour photo in the model's scheme (one (K,) per channel).

    Hue: each pixel counts with its chroma (gray pixels carry no hue); chroma, a, b, (a, b): plain counts.
    ``mask`` (H, W) marks the pixels that count (e.g. opaque ones).
    """
    rgb = np.asarray(rgb, np.float32)[..., :3]
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    valid = np.ones(rgb.shape[:2], bool) if mask is None else mask.astype(bool)
    indices, chroma = scheme.bin_indices(rgb)
    out = []
    for c, (idx, k) in enumerate(zip(indices, scheme.channel_sizes)):
        weights = valid.astype(np.float64)
        if scheme.name == "hue_chroma" and c == 0:
            weights = weights * chroma
        hist = np.bincount(idx[valid].ravel(), weights=weights[valid].ravel(), minlength=k).astype(np.float64)
        if hist.sum() <= 0:
            hist = np.ones(k)
        out.append((hist / hist.sum()).astype(np.float32))
    return out


def expected_chroma(p_chroma: np.ndarray) -> np.ndarray:
    """Mean chroma of each chroma histogram (the hue channel's pixel weight)."""
    return np.einsum("...k,k->...", p_chroma, uniform_centers(p_chroma.shape[-1]).astype(p_chroma.dtype))


def image_hue_histogram(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The chroma-weighted mean hue histogram of rendered posteriors ``[hue, chroma]`` (hue/chroma scheme)."""
    k = probs[0].shape[-1]
    p_hue = probs[0].reshape(-1, k)
    weights = expected_chroma(probs[1].reshape(-1, probs[1].shape[-1]))
    hist = (weights[:, None] * p_hue).sum(0)
    return hist / max(float(hist.sum()), 1e-8)
