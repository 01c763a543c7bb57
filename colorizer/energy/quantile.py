"""Lightness-normalised quantile matching: the simpler alternative to the energy's reference transfer."""

from __future__ import annotations

import cv2
import numpy as np

from colorizer.color import ab_to_offset, compose_with_luma, luma, rgb_to_lab
from colorizer.pipeline import RenderResult


def _ab_scale(lab_l: np.ndarray) -> np.ndarray:
    """How much a/b room a lightness leaves (1 mid-gray, small near black/white): the normalisation."""
    return np.clip(np.minimum(lab_l, 100.0 - lab_l) / 50.0, 0.1, 1.0)


def quantile_transfer(result: RenderResult, reference_rgb: np.ndarray, strength: float = 1.0,
                      max_side: int = 384) -> RenderResult:
    """Lightness-normalised quantile matching of a rendered result's a*, b* onto a reference's.

    a and b are divided by a lightness-dependent scale (the room a lightness leaves for colour), mapped
    rank-for-rank onto the reference's normalised values, and scaled back; the lightness is kept.
    ``strength`` in [0, 1] blends from the input result (0) to the full match (1; more counts as 1).
    """
    rgb = result.rgb
    lab = rgb_to_lab(rgb)
    ref = np.asarray(reference_rgb, np.float32)[..., :3]
    scale_ref = min(1.0, max_side / max(ref.shape[:2]))
    if scale_ref < 1.0:
        ref = cv2.resize(ref, (max(1, round(ref.shape[1] * scale_ref)), max(1, round(ref.shape[0] * scale_ref))),
                         interpolation=cv2.INTER_AREA)
    ref_lab = rgb_to_lab(ref).reshape(-1, 3)
    s_img = _ab_scale(lab[..., 0])
    s_ref = _ab_scale(ref_lab[:, 0])
    w = float(np.clip(strength, 0.0, 1.0))
    mixed = np.empty(lab.shape[:2] + (2,), np.float32)
    for j in (1, 2):
        src = (lab[..., j] / s_img).ravel()
        ref_vals = np.sort(ref_lab[:, j] / s_ref)
        ranks = np.empty(src.size, np.float64)
        ranks[np.argsort(src, kind="stable")] = np.linspace(0.0, 1.0, src.size)
        matched = np.interp(ranks, np.linspace(0.0, 1.0, ref_vals.size), ref_vals)
        val = matched.reshape(lab.shape[:2]) * s_img
        mixed[..., j - 1] = (1 - w) * lab[..., j] + w * val
    lightness = luma(rgb)
    offset = ab_to_offset(mixed[..., 0], mixed[..., 1], lightness)
    out = compose_with_luma(lightness, offset)
    return RenderResult(rgb=out, uncertainty=result.uncertainty, probs=result.probs)
