"""Histogram schemes: which colour channels are binned, target encoding, and decoding.

Histograms always keep their bins on the last axis, so the same functions work on a whole map
(H, W, K), on a list of pixels (N, K) or on a single histogram (K,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence
from statistics import NormalDist

import numpy as np

from colorizer.color import ab_to_offset, hue_chroma_to_offset, rgb_to_hue_chroma, rgb_to_lab

SCHEMES = ("hue_chroma", "lab_marginal", "lab_joint")
EPS = 1e-8
UNCERTAINTY_FULL_CHROMA = 0.25


@dataclass(frozen=True)
class BinScheme:
    """How colour is discretised.

    ``hue_chroma``: marginal hue and chroma histograms, ``bins`` uniform bins each (Larsson's best).
    ``lab_marginal``: marginal a and b histograms, bins at Gaussian quantiles (mu 0, ``sigma``).
    ``lab_joint``: one joint (a, b) histogram of ``bins x bins`` cells on the same quantile grid.
    """

    name: str = "hue_chroma"
    bins: int = 32
    sigma: float = 25.0

    def __post_init__(self) -> None:
        if self.name not in SCHEMES:
            raise ValueError(f"unknown colour scheme {self.name!r}; expected one of {', '.join(SCHEMES)}")
        if self.bins < 2:
            raise ValueError("a histogram needs at least 2 bins")

    @property
    def channels(self) -> tuple[str, ...]:
        return {"hue_chroma": ("hue", "chroma"), "lab_marginal": ("a", "b"), "lab_joint": ("ab",)}[self.name]

    @property
    def channel_sizes(self) -> tuple[int, ...]:
        return (self.bins * self.bins,) if self.name == "lab_joint" else (self.bins, self.bins)

    def centers(self, channel: str) -> np.ndarray:
        """Bin centres of a channel: (K,) for marginals, (K*K, 2) (a, b) pairs for the joint grid."""
        if channel in ("hue", "chroma"):
            return uniform_centers(self.bins)
        q = gaussian_centers(self.bins, self.sigma)
        if channel == "ab":
            a, b = np.meshgrid(q, q, indexing="ij")
            return np.stack([a.ravel(), b.ravel()], axis=-1)
        return q

    def to_dict(self) -> dict:
        return {"name": self.name, "bins": self.bins, "sigma": self.sigma}

    # ----- encoding -------------------------------------------------------------------------
    def bin_indices(self, rgb: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Per-pixel bin index for each channel, and each pixel's chroma (the hue loss weight)."""
        hue, chroma = rgb_to_hue_chroma(rgb)
        if self.name == "hue_chroma":
            return [uniform_index(hue, self.bins), uniform_index(chroma, self.bins)], chroma
        lab = rgb_to_lab(rgb)
        q = gaussian_centers(self.bins, self.sigma)
        ia, ib = nearest_index(lab[..., 1], q), nearest_index(lab[..., 2], q)
        if self.name == "lab_joint":
            return [ia * self.bins + ib], chroma
        return [ia, ib], chroma

    def encode(self, rgb: np.ndarray, window: int = 7, mask: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Target histograms of every pixel from the colours in a ``window`` x ``window`` box.

        ``mask`` (H, W) marks valid pixels (e.g. opaque ones); only they count. Returns one
        (H, W, K) histogram per channel and the window's mean chroma (H, W), the hue loss weight.
        Pixels whose window holds no valid pixel get an all-zero histogram.
        """
        indices, chroma = self.bin_indices(rgb)
        valid = np.ones(rgb.shape[:2], np.float32) if mask is None else mask.astype(np.float32)
        count = box_sum(valid[..., None], window)[..., 0]
        norm = np.where(count > 0, 1.0 / np.maximum(count, EPS), 0.0)[..., None]
        hists = []
        for idx, k in zip(indices, self.channel_sizes):
            onehot = np.zeros(idx.shape + (k,), np.float32)
            np.put_along_axis(onehot, idx[..., None], 1.0, axis=-1)
            hists.append(box_sum(onehot * valid[..., None], window) * norm)
        weight = box_sum((chroma * valid)[..., None], window)[..., 0] * norm[..., 0]
        return hists, weight

    # ----- decoding -------------------------------------------------------------------------
    def decode_offset(self, probs: list[np.ndarray], lightness: np.ndarray, opts: "DecodeOptions") -> tuple[np.ndarray, np.ndarray]:
        """Zero-luma RGB offset (H, W, 3) and uncertainty (H, W) in [0, 1] from histograms."""
        if self.name == "hue_chroma":
            p_hue, p_chroma = probs
            hue, resultant = circular_mean(p_hue)
            raw = point_estimate(p_chroma, self.centers("chroma"), opts.method, opts.temperature, uniform_edges(self.bins))
            # hue entropy x chroma, with the chroma before fading (fading hides exactly the unsure hues);
            # chroma is scaled so that 0.25, a well-saturated natural colour, counts fully
            uncertainty = entropy(p_hue) * np.clip(raw / UNCERTAINTY_FULL_CHROMA, 0.0, 1.0)
            chroma = raw * fading(resultant, self.bins, opts.fading_eta) * opts.chroma_gain
            return hue_chroma_to_offset(hue, np.clip(chroma, 0.0, 1.0)), uncertainty
        if self.name == "lab_marginal":
            q = gaussian_centers(self.bins, self.sigma)
            edges = gaussian_edges(self.bins, self.sigma)
            a = point_estimate(probs[0], q, opts.method, opts.temperature, edges)
            b = point_estimate(probs[1], q, opts.method, opts.temperature, edges)
            uncertainty = 0.5 * (entropy(probs[0]) + entropy(probs[1]))
        else:
            p = annealed(probs[0], opts.temperature)
            ab = self.centers("ab")
            if opts.method == "mode":
                sel = ab[np.argmax(p, axis=-1)]
                a, b = sel[..., 0], sel[..., 1]
            else:
                a, b = p @ ab[:, 0], p @ ab[:, 1]
            uncertainty = entropy(probs[0])
        a, b = a * opts.chroma_gain, b * opts.chroma_gain
        chroma_scale = np.clip(np.hypot(a, b) / max(opts.chroma_gain, EPS) / 40.0, 0.0, 1.0)
        return ab_to_offset(a, b, lightness), uncertainty * chroma_scale


DECODE_METHODS = ("median", "mean", "mode")  # how a histogram becomes one value (see point_estimate)


@dataclass(frozen=True)
class DecodeOptions:
    """How histograms become one colour per pixel.

    ``method``: ``median`` (chroma/Lab default per Larsson), ``mean`` (expectation) or ``mode``.
    ``temperature``: annealed mean/median on ``p^(1/T)``; 1 leaves the histogram as predicted.
    ``fading_eta``: chromatic fading threshold on |z| with z = (1/K) sum p_k e^(i theta_k); 0 disables.
    ``chroma_gain``: multiplies the decoded chroma (a, b for Lab). Its default gives back the colour that
    the renderer's cast removal takes (both chosen together on grouped cross-validation, see
    ``models/MODEL_CARD.md``).
    """

    method: str = "median"
    temperature: float = 1.0
    fading_eta: float = 0.02
    chroma_gain: float = 1.2


# ----- bin geometry -----------------------------------------------------------------------------
def uniform_centers(k: int) -> np.ndarray:
    return ((np.arange(k, dtype=np.float32) + 0.5) / k).astype(np.float32)


def uniform_edges(k: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, k + 1, dtype=np.float32)


def uniform_index(values: np.ndarray, k: int) -> np.ndarray:
    return np.clip((values * k).astype(np.int64), 0, k - 1)


def gaussian_centers(k: int, sigma: float) -> np.ndarray:
    nd = NormalDist(0.0, sigma)
    return np.array([nd.inv_cdf((i + 0.5) / k) for i in range(k)], dtype=np.float32)


def gaussian_edges(k: int, sigma: float) -> np.ndarray:
    """Bin edges midway between Gaussian-quantile centres, outer edges mirrored."""
    c = gaussian_centers(k, sigma)
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]]).astype(np.float32)


def nearest_index(values: np.ndarray, centers: np.ndarray) -> np.ndarray:
    mid = (centers[1:] + centers[:-1]) / 2
    return np.searchsorted(mid, values).astype(np.int64)


def hue_angles(k: int) -> np.ndarray:
    """theta_k = 2 pi (k + 0.5) / K."""
    return (2.0 * math.pi * uniform_centers(k)).astype(np.float32)


# ----- histogram operations ---------------------------------------------------------------------
def box_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over a ``window`` x ``window`` box around each pixel (zero padding) of an (H, W, C) array."""
    r = window // 2
    if r == 0:
        return x.astype(np.float32, copy=True)
    h, w = x.shape[:2]
    padded = np.pad(x.astype(np.float64), ((r + 1, r), (r + 1, r), (0, 0)))
    s = padded.cumsum(0).cumsum(1)
    out = s[window:, window:] - s[:h, window:] - s[window:, :w] + s[:h, :w]
    return out.astype(np.float32)


def softmax_last(logits: np.ndarray) -> np.ndarray:
    """softmax along the last axis (the one softmax of the library: posteriors, annealing, calibration
    and the energy solver)."""
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def annealed(p: np.ndarray, temperature: float) -> np.ndarray:
    """p^(1/T) renormalised along the last axis (T = 1 returns p normalised)."""
    if abs(temperature - 1.0) < 1e-6:
        return p / np.maximum(p.sum(-1, keepdims=True), EPS)
    return softmax_last(np.log(np.maximum(p, 1e-12)) / max(temperature, 1e-3))


def expectation(p: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return (p / np.maximum(p.sum(-1, keepdims=True), EPS)) @ centers


def quantile(p: np.ndarray, q: float | np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Value at cumulative probability ``q`` (linear within each bin); ``q`` may be a map."""
    p = p / np.maximum(p.sum(-1, keepdims=True), EPS)
    cdf = np.cumsum(p, axis=-1)
    q = np.broadcast_to(np.asarray(q, dtype=np.float32), p.shape[:-1])
    k = np.minimum((cdf < q[..., None]).sum(-1), p.shape[-1] - 1)
    before = np.take_along_axis(cdf, k[..., None], -1)[..., 0] - np.take_along_axis(p, k[..., None], -1)[..., 0]
    mass = np.maximum(np.take_along_axis(p, k[..., None], -1)[..., 0], EPS)
    frac = np.clip((q - before) / mass, 0.0, 1.0)
    return (edges[k] + frac * (edges[k + 1] - edges[k])).astype(np.float32)


def median(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return quantile(p, 0.5, edges)


def mode(p: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return centers[np.argmax(p, axis=-1)]


def point_estimate(p: np.ndarray, centers: np.ndarray, method: str, temperature: float, edges: np.ndarray) -> np.ndarray:
    """One value per histogram by ``median``, ``mean`` or ``mode``, after annealing at ``temperature``."""
    pa = annealed(p, temperature)
    if method == "median":
        return median(pa, edges)
    if method == "mean":
        return expectation(pa, centers).astype(np.float32)
    if method == "mode":
        return mode(pa, centers)
    raise ValueError(f"unknown decoding method {method!r}; expected {', '.join(DECODE_METHODS)}")


def circular_mean(p_hue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Circular hue mean in [0, 1) and the resultant length K|z| in [0, 1] (1 = one sharp hue)."""
    k = p_hue.shape[-1]
    th = hue_angles(k)
    p = p_hue / np.maximum(p_hue.sum(-1, keepdims=True), EPS)
    x, y = p @ np.cos(th), p @ np.sin(th)
    hue = (np.arctan2(y, x) / (2 * math.pi)) % 1.0
    return hue.astype(np.float32), np.hypot(x, y).astype(np.float32)


def fading(resultant: np.ndarray, k: int, eta: float) -> np.ndarray:
    """Chromatic fading factor ``min(|z| / eta, 1)`` with ``|z| = resultant / K``.

    Larsson's eta = 0.03 with K = 32 keeps full chroma only above a resultant of 0.96; the
    default here (0.02, i.e. 0.64) is chosen on the validation pictures. ``eta <= 0`` disables it.
    """
    if eta <= 0:
        return np.ones_like(resultant)
    return np.minimum(resultant / k / eta, 1.0).astype(np.float32)


def entropy(p: np.ndarray) -> np.ndarray:
    """Entropy normalised to [0, 1] by log K."""
    k = p.shape[-1]
    p = p / np.maximum(p.sum(-1, keepdims=True), EPS)
    return (-(p * np.log(np.maximum(p, 1e-12))).sum(-1) / math.log(k)).astype(np.float32)


def colour_histograms(scheme: BinScheme, rgb: Sequence[float], spread: float = 0.75) -> list[np.ndarray]:
    """Soft target histograms for one colour (Gaussian of ``spread`` bins around its bin; hue circular)."""
    col = np.asarray(rgb, np.float32).reshape(1, 1, 3)
    k = scheme.bins
    if scheme.name == "hue_chroma":
        hue, chroma = rgb_to_hue_chroma(col)
        pos = [float(hue.ravel()[0]) * k - 0.5, float(chroma.ravel()[0]) * k - 0.5]
        circular = [True, False]
    else:
        lab = rgb_to_lab(col).ravel()
        q = gaussian_centers(k, scheme.sigma)
        pos = [float(np.interp(lab[1], q, np.arange(k))), float(np.interp(lab[2], q, np.arange(k)))]
        circular = [False, False]
    hists = []
    for x, circ in zip(pos, circular):
        d = np.arange(k) - x
        if circ:
            d = (d + k / 2) % k - k / 2
        hist = np.exp(-0.5 * (d / spread) ** 2)
        hists.append(hist / hist.sum())
    if scheme.name == "lab_joint":
        joint = np.outer(hists[0], hists[1]).ravel()
        return [(joint / joint.sum()).astype(np.float32)]
    return [h.astype(np.float32) for h in hists]
