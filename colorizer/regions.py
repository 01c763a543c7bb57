"""One object, one colour: pool the predicted histograms over regions that the lightness says
belong together.

Each pixel decides its hue alone, so an uncertain object (a jetty, a facade, a lawn) can come out
in several colours. Regions come from an edge-respecting over-segmentation of the working
lightness (Felzenszwalb & Huttenlocher's graph segmentation, which follows the photo's edges);
within a region, pixels' histograms are averaged with weights that trust confident pixels (low
entropy; for hue also high expected chroma), and each pixel moves towards its region's histogram
by ``strength`` times its own doubt, so confident pixels keep their colour and unsure ones follow
their region instead of picking a hue each.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

SEGMENT_SCALE = 150.0
SEGMENT_MIN_CELLS = 6


def segment_grid(guide: np.ndarray, grid: tuple[int, int], scale: float = SEGMENT_SCALE) -> np.ndarray:
    """Region labels (h, w) int32 on the prediction grid from the lightness ``guide`` (any size).

    Segments at the guide's resolution (edges there are sharper than on the grid), then reads each
    grid cell's label at its centre. Regions smaller than ``SEGMENT_MIN_CELLS`` grid cells are
    merged into a neighbour by the segmentation's ``min_size``.
    """
    h, w = grid
    gh, gw = guide.shape[:2]
    cell_area = (gh / h) * (gw / w)
    labels = felzenszwalb(guide.astype(np.float64), scale=scale, sigma=0.8,
                          min_size=max(4, int(SEGMENT_MIN_CELLS * cell_area)))
    rows = np.minimum(((np.arange(h) + 0.5) * gh / h).astype(int), gh - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * gw / w).astype(int), gw - 1)
    return labels[rows[:, None], cols[None, :]].astype(np.int32)


def normalised_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy along the last axis divided by log K, in [0, 1]."""
    return -(p * np.log(np.maximum(p, 1e-12))).sum(-1) / math.log(p.shape[-1])


def region_mean(p: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted mean histogram of each region, broadcast back to its pixels: (h, w, K)."""
    n = int(labels.max()) + 1
    flat = labels.ravel()
    k = p.shape[-1]
    wsum = np.bincount(flat, weights=weight.ravel(), minlength=n)
    sums = np.stack([np.bincount(flat, weights=(p[..., j] * weight).ravel(), minlength=n) for j in range(k)], axis=-1)
    means = sums / np.maximum(wsum, 1e-12)[:, None]
    return means[labels].astype(np.float32)


def pool_regions(probs: list[np.ndarray], labels: np.ndarray, strength: float, channels: tuple[str, ...],
                 chroma_centres: np.ndarray | None = None) -> list[np.ndarray]:
    """Histograms moved towards their region's confidence-weighted mean (see the module docstring).

    ``channels``: the scheme's channel names; for ``hue`` the pooling weight also counts the
    pixel's expected chroma (``chroma_centres`` are the chroma bin centres), since the hue of a
    gray pixel means nothing.
    """
    if strength <= 0:
        return probs
    out = []
    confidence = [1.0 - normalised_entropy(p) for p in probs]
    expected_chroma = None
    if "chroma" in channels and chroma_centres is not None:
        expected_chroma = probs[channels.index("chroma")] @ chroma_centres
    for name, p, conf in zip(channels, probs, confidence):
        weight = conf * expected_chroma if name == "hue" and expected_chroma is not None else conf
        mean = region_mean(p, labels, weight + 1e-6)
        follow = np.clip(strength * (1.0 - conf), 0.0, 1.0)[..., None]
        out.append(((1.0 - follow) * p + follow * mean).astype(np.float32))
    return out


def resize_labels(labels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map (for previews on a smaller grid)."""
    if labels.shape == grid:
        return labels
    return cv2.resize(labels.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_NEAREST).astype(np.int32)
