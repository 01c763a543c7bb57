"""Fitting global biases on a cached prediction: per channel, optionally inside a region."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from colorizer.bins import softmax_last
from colorizer.energy.solver import LAMBDA_SCALE, EnergySettings, SolveResult, solve_bias, subsample_indices
from colorizer.energy.targets import expected_chroma, reference_histograms
from colorizer.pipeline import Prediction

BiasList = list  # list[np.ndarray | None], one entry per colour channel: (K,) global or (h, w, K) map


def fit_biases(prediction: Prediction, targets: Sequence[np.ndarray], settings: EnergySettings | None = None,
               region: np.ndarray | None = None, base: Sequence[np.ndarray | None] | None = None,
               lam: float | None = None) -> tuple[list[np.ndarray], list[SolveResult]]:
    """One global bias per channel so the (region's) histogram moves towards ``targets``.

    ``region`` (h, w) on the prediction grid weights the pixels (hints); ``base`` biases are applied
    first (the fitted bias is added on top). Hue/chroma: chroma is solved first, then hue with pixels
    weighted by their transferred expected chroma (``hue_weighting="chroma"``).
    """
    settings = settings or EnergySettings()
    lam = settings.lam if lam is None else lam
    scheme = prediction.scheme
    n_ch = len(prediction.log_probs)
    base = list(base) if base is not None else [None] * n_ch
    weights = None if region is None else region.reshape(-1).astype(np.float64)
    order = [1, 0] if scheme.name == "hue_chroma" else list(range(n_ch))
    biases: list[np.ndarray] = [np.zeros(s, np.float32) for s in scheme.channel_sizes]
    results: list[SolveResult | None] = [None] * n_ch
    sel = _solve_pixels(prediction, weights, settings.max_pixels)

    def channel_logits(c: int, extra: np.ndarray | None = None) -> np.ndarray:
        logits = prediction.log_probs[c]
        for b in (base[c], extra):
            if b is not None:
                logits = logits + b
        flat = np.broadcast_to(logits, prediction.log_probs[c].shape).reshape(-1, logits.shape[-1])
        return flat[sel]

    for c in order:
        probs = softmax_last(channel_logits(c))
        kl_w = None if weights is None else weights[sel]
        mean_w = kl_w
        if scheme.name == "hue_chroma" and c == 0 and settings.hue_weighting == "chroma":
            ec = expected_chroma(softmax_last(channel_logits(1, biases[1])))
            mean_w = ec if kl_w is None else ec * kl_w
        res = solve_bias(probs, targets[c], lam, settings, kl_weights=kl_w, mean_weights=mean_w)
        biases[c] = res.bias
        results[c] = res
    return biases, [r for r in results if r is not None]


def _solve_pixels(prediction: Prediction, weights: np.ndarray | None, max_pixels: int) -> np.ndarray:
    """Flat indices of the grid pixels the solve uses (those inside the region, subsampled)."""
    gh, gw = prediction.grid_size
    if weights is None:
        return subsample_indices(gh * gw, max_pixels)
    sel = np.flatnonzero(weights > 1e-3)
    if sel.size == 0:
        sel = np.array([int(np.argmax(weights))])
    return sel[subsample_indices(sel.size, max_pixels)]


def add_biases(*lists: Sequence[np.ndarray | None] | None) -> list[np.ndarray | None]:
    """Per-channel sum of bias lists (None entries skipped; global (K,) and (h, w, K) maps broadcast)."""
    lists = tuple(lst for lst in lists if lst is not None)
    if not lists:
        return []
    out: list[np.ndarray | None] = []
    for parts in zip(*lists):
        present = [p for p in parts if p is not None]
        out.append(None if not present else sum(present[1:], present[0]))
    return out


def scale_biases(biases: Sequence[np.ndarray | None], amount: float) -> list[np.ndarray | None]:
    """``amount`` times each bias: 0 is the prediction, 1 the fitted match, and every amount in between
    moves the posteriors part of the way (the strength interpolation of the app's match control)."""
    return [None if b is None else (b * np.float32(amount)).astype(np.float32) for b in biases]


def reference_biases(prediction: Prediction, reference_rgb: np.ndarray, strength: float = 1.0,
                     settings: EnergySettings | None = None) -> list[np.ndarray]:
    """Global biases that pull the prediction towards a reference photo's palette."""
    settings = settings or EnergySettings()
    targets = reference_histograms(prediction.scheme, reference_rgb)
    biases, _ = fit_biases(prediction, targets, settings, lam=float(strength) * LAMBDA_SCALE)
    return biases
