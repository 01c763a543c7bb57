"""Alternative colourisations: set (not fitted) biases along directions in colour space.

Uncertain pixels follow the bias, confident ones stay; the chroma is read at one quantile for every
pixel, so a sample is spatially coherent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from colorizer.bins import BinScheme, gaussian_centers, hue_angles, uniform_centers
from colorizer.energy.fitting import add_biases
from colorizer.pipeline import (Prediction, RenderResult, RenderSettings, model_cast, picture_cast, posterior,
                                render_probs)


@dataclass(frozen=True)
class SampleDraw:
    """One sample's set (not fitted) biases: hue direction ``phi`` (turns), ``beta``, ``chroma_push``,
    and the chroma quantile ``q`` used for every pixel (spatially coherent sampling)."""

    phi: float
    beta: float
    chroma_push: float
    q: float


@dataclass(frozen=True)
class SampleSettings:
    """Ranges the samples are drawn from (uniform); phi is stratified so samples differ."""

    beta: tuple[float, float] = (1.0, 2.0)
    chroma_push: tuple[float, float] = (-0.2, 0.3)
    q: tuple[float, float] = (0.4, 0.65)
    fading_eta: float = 0.02


def draw_samples(n: int, seed: int = 0, sample_settings: SampleSettings | None = None) -> list[SampleDraw]:
    """``n`` reproducible bias draws; hue directions are stratified around the circle."""
    ss = sample_settings or SampleSettings()
    rng = np.random.default_rng(seed)
    start = rng.uniform()
    order = rng.permutation(n) if n > 0 else np.arange(0)
    draws = []
    for i in range(n):
        phi = (start + (order[i] + rng.uniform(0.1, 0.9)) / max(n, 1)) % 1.0
        draws.append(SampleDraw(phi=float(phi), beta=float(rng.uniform(*ss.beta)),
                                chroma_push=float(rng.uniform(*ss.chroma_push)), q=float(rng.uniform(*ss.q))))
    return draws


def sample_bias(scheme: BinScheme, draw: SampleDraw) -> list[np.ndarray | None]:
    """Set (not fitted) biases of one draw: ``beta cos(theta_k - 2 pi phi)`` on hue, a chroma tilt.

    Lab schemes: the same direction as a tilt ``beta (cos phi a_k + sin phi b_k) / sigma``.
    """
    k = scheme.bins
    if scheme.name == "hue_chroma":
        hue_b = draw.beta * np.cos(hue_angles(k) - 2 * math.pi * draw.phi)
        chroma_b = draw.chroma_push * 4.0 * (uniform_centers(k) - 0.5)
        return [hue_b.astype(np.float32), chroma_b.astype(np.float32)]
    q = gaussian_centers(k, scheme.sigma) / scheme.sigma
    ca, sa = math.cos(2 * math.pi * draw.phi), math.sin(2 * math.pi * draw.phi)
    if scheme.name == "lab_marginal":
        return [(draw.beta * ca * q).astype(np.float32), (draw.beta * sa * q).astype(np.float32)]
    a, b = np.meshgrid(q, q, indexing="ij")
    return [(draw.beta * (ca * a + sa * b)).ravel().astype(np.float32)]


def coherent_quantile(p: np.ndarray, q: float) -> np.ndarray:
    """Reweight histograms so their median sits at each one's own ``q``-quantile (same q everywhere).

    Mass below the q-quantile is scaled by 0.5/q and mass above by 0.5/(1-q), so a median decoder
    reads the q-quantile (exact at bin edges, within one bin otherwise): narrow (sure) histograms
    barely change, wide (unsure) ones move, all pixels in the same direction (spatially coherent).
    """
    q = float(np.clip(q, 1e-3, 1 - 1e-3))
    cdf = np.cumsum(p, axis=-1)
    below = np.clip(q - (cdf - p), 0.0, p)
    return (below * (0.5 / q) + (p - below) * (0.5 / (1.0 - q))).astype(np.float32)


def render_quantile(prediction: Prediction, probs: list[np.ndarray], settings: RenderSettings, q: float,
                    cast: np.ndarray | None = None, spared: np.ndarray | None = None) -> RenderResult:
    """Render with the chroma (or a, b) decoded at one quantile ``q`` for every pixel.

    Hue stays a circular mean (a quantile has no meaning on the circle; the hue bias moves it).
    ``cast``, ``spared``: see :func:`colorizer.pipeline.render_probs` (default cast: the tint of ``probs`` at
    the median).
    """
    if prediction.scheme.name == "lab_joint" or abs(q - 0.5) < 1e-6:
        return render_probs(prediction, probs, settings, cast, spared)
    start = 1 if prediction.scheme.name == "hue_chroma" else 0
    moved = list(probs[:start]) + [coherent_quantile(p, q) for p in probs[start:]]
    if cast is None and settings.cast_removal > 0:
        cast = picture_cast(prediction, probs, settings)
    result = render_probs(prediction, moved, settings, cast, spared)
    result.probs = probs
    return result


def render_sample(prediction: Prediction, draw: SampleDraw, settings: RenderSettings | None = None,
                  base: Sequence[np.ndarray | None] | None = None,
                  sample_settings: SampleSettings | None = None, cast: np.ndarray | None = None,
                  spared: np.ndarray | None = None) -> RenderResult:
    """One sample: the draw's biases on top of ``base``, decoded at the draw's coherent quantile, with
    cast removal measured on the model's own colours (``cast``, when known: :func:`colorizer.pipeline.model_cast`)
    and ``spared`` as in :func:`colorizer.pipeline.render_probs`."""
    ss = sample_settings or SampleSettings()
    settings = settings or RenderSettings()
    settings = settings.replace(fading_eta=min(settings.decode.fading_eta, ss.fading_eta))
    biases = add_biases(base, sample_bias(prediction.scheme, draw))
    if cast is None and settings.cast_removal > 0:
        cast = model_cast(prediction, settings)
    return render_quantile(prediction, posterior(prediction, settings, biases), settings, draw.q, cast, spared)


def iter_samples(prediction: Prediction, n: int, seed: int = 0, settings: RenderSettings | None = None,
                 base: Sequence[np.ndarray | None] | None = None,
                 sample_settings: SampleSettings | None = None) -> Iterator[RenderResult]:
    """``n`` plausible colourisations, one render at a time (keeps memory bounded for large photos)."""
    ss = sample_settings or SampleSettings()
    for draw in draw_samples(n, seed, ss):
        yield render_sample(prediction, draw, settings, base, ss)


def render_samples(prediction: Prediction, n: int, seed: int = 0, settings: RenderSettings | None = None,
                   base: Sequence[np.ndarray | None] | None = None,
                   sample_settings: SampleSettings | None = None) -> list[RenderResult]:
    """``n`` plausible colourisations: uncertain pixels follow the set biases, confident ones stay."""
    return list(iter_samples(prediction, n, seed, settings, base, sample_settings))
