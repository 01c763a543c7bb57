"""Calibration: does the model's confidence in a hue match how often that hue is right?

Samples are held-out pixels (from cross-validation folds): the predicted log-histograms, the true
bins and the true chroma. Hue is judged where it exists (true chroma >= ``MIN_CHROMA``):

- confidence of a pixel = the probability mass of its most likely hue bin and its two
  neighbours (a 34-degree wedge of 32 bins); it is right when the true hue falls in that wedge;
- the reliability curve bins pixels by confidence; ECE = sum over bins of share x |accuracy -
  confidence|; a calibrated model has accuracy = confidence in every bin;
- ``fit_temperatures`` finds the per-channel T minimising the held-out negative log-likelihood of
  the true bins (hue weighted by chroma, as in training) for ``p^(1/T)`` renormalised.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from colorizer.bins import softmax_last

MIN_CHROMA = 0.1
WEDGE = 1
CONFIDENCE_BINS = 10


def pooled(samples: Sequence[dict], channel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-probs (N, K) float64, true bins (N,), true chroma (N,)) of one channel over all samples."""
    logp = np.concatenate([s["log_probs"][channel] for s in samples]).astype(np.float64)
    bins = np.concatenate([s["bins"][channel] for s in samples]).astype(np.int64)
    chroma = np.concatenate([s["chroma"] for s in samples]).astype(np.float64)
    return logp, bins, chroma


def tempered(logp: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) along the last axis."""
    return softmax_last(logp / temperature)


def hue_reliability(samples: Sequence[dict], temperature: float = 1.0, n_bins: int = CONFIDENCE_BINS) -> dict:
    """Reliability curve and ECE of the hue channel (channel 0 of hue/chroma schemes)."""
    logp, true, chroma = pooled(samples, 0)
    keep = chroma >= MIN_CHROMA
    p, true = tempered(logp[keep], temperature), true[keep]
    k = p.shape[-1]
    top = p.argmax(-1)
    offsets = np.arange(-WEDGE, WEDGE + 1)
    confidence = np.take_along_axis(p, (top[:, None] + offsets[None, :]) % k, axis=-1).sum(-1)
    distance = np.abs(true - top)
    right = np.minimum(distance, k - distance) <= WEDGE
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, n_bins - 1)
    curve, ece = [], 0.0
    for b in range(n_bins):
        sel = which == b
        if not sel.any():
            continue
        conf, acc = float(confidence[sel].mean()), float(right[sel].mean())
        curve.append({"confidence": round(conf, 3), "accuracy": round(acc, 3), "pixels": int(sel.sum())})
        ece += sel.mean() * abs(acc - conf)
    return {"ece": round(float(ece), 4), "pixels": int(keep.sum()), "accuracy": round(float(right.mean()), 4),
            "mean_confidence": round(float(confidence.mean()), 4), "curve": curve}


def nll(logp: np.ndarray, true: np.ndarray, weight: np.ndarray, temperature: float) -> float:
    """Weighted mean negative log-likelihood of the true bins under ``p^(1/T)``."""
    z = logp / temperature
    log_norm = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    ll = np.take_along_axis(z, true[:, None], axis=-1)[:, 0] - log_norm
    return float(-(weight * ll).sum() / max(weight.sum(), 1e-12))


def fit_temperature(logp: np.ndarray, true: np.ndarray, weight: np.ndarray, low: float = 0.3, high: float = 5.0) -> float:
    """The T in [low, high] minimising ``nll`` (golden-section search on log T; the NLL is unimodal in T)."""
    a, b = math.log(low), math.log(high)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logp, true, weight, math.exp(c)), nll(logp, true, weight, math.exp(d))
    for _ in range(40):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logp, true, weight, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logp, true, weight, math.exp(d))
    return round(math.exp((a + b) / 2), 4)


def fit_temperatures(samples: Sequence[dict], channels: tuple[str, ...]) -> tuple[float, ...]:
    """One temperature per channel; the hue channel's pixels are weighted by their true chroma."""
    temps = []
    for c, name in enumerate(channels):
        logp, true, chroma = pooled(samples, c)
        weight = chroma if name == "hue" else np.ones_like(chroma)
        temps.append(fit_temperature(logp, true, weight))
    return tuple(temps)
