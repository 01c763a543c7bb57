"""Adapter between the app's EditState and ``colorizer.energy`` (reference transfer, samples, hints).

All functions are pure numpy and run in worker threads; fitted biases are cached per photo in a
``BiasCache`` (the fits depend only on the prediction grid, never on the display resolution).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorizer import energy
from colorizer.imageio import load_rgb
from colorizer.pipeline import Colorizer, Prediction, RenderResult

from app.editing import BiasCache, EditState, Hint, SampleChoice
from app.imaging import downscale

REFERENCE_MAX_SIDE = 384
HINT_MASK_SCALE = 4  # hint masks are rasterised at this multiple of the prediction grid


def _cached(cache: BiasCache | None, key: Any, make):
    if cache is None:
        return make()
    value = cache.get(key)
    if value is None:
        value = make()
        cache.put(key, value)
    return value


def reference_rgb(path: str, cache: BiasCache | None = None) -> np.ndarray:
    """The reference photo as small float RGB (raises ImageReadError)."""
    return _cached(cache, ("ref_rgb", path), lambda: downscale(load_rgb(path), REFERENCE_MAX_SIDE * 2))


def energy_hint(hint: Hint, grid: tuple[int, int]):
    """The app's brushed hint as an ``energy.Hint`` (mask rasterised near the prediction grid)."""
    mask = hint.mask((grid[0] * HINT_MASK_SCALE, grid[1] * HINT_MASK_SCALE)).astype(np.float32)
    return energy.Hint(mask=mask, rgb=tuple(c / 255.0 for c in hint.color))


def base_bias(prediction: Prediction, state: EditState, cache: BiasCache | None = None) -> list | None:
    """Reference-transfer (energy method) plus region-hint biases, or None when there are none."""
    parts: list = []
    ref = None
    if state.reference is not None and not state.quantile and state.match_strength > 0:
        ref = _cached(cache, ("ref_bias", state.reference, round(state.match_strength, 3)),
                      lambda: energy.reference_biases(prediction, reference_rgb(state.reference, cache),
                                                      state.match_strength))
        parts.append(ref)
    if state.hints:
        key = ("hints", tuple(id(h) for h in state.hints), None if ref is None else id(ref))
        hints = _cached(cache, key, lambda: energy.hint_biases(
            prediction, [energy_hint(h, prediction.grid_size) for h in state.hints], base=ref))
        parts.append(hints)
    if not parts:
        return None
    return energy.add_biases(*parts)


def sample_draw(choice: SampleChoice) -> energy.SampleDraw:
    return energy.draw_samples(choice.count, choice.seed)[choice.index]


def render(colorizer: Colorizer, prediction: Prediction, display: Prediction, state: EditState,
           cache: BiasCache | None = None) -> RenderResult:
    """Render ``state`` on ``display`` (a possibly downscaled copy of ``prediction``)."""
    settings = state.settings
    bias = base_bias(prediction, state, cache)
    if state.sample is not None:
        result = energy.render_sample(display, sample_draw(state.sample), settings, base=bias)
    else:
        result = colorizer.render(display, settings, extra_log_bias=bias)
    if state.reference is not None and state.quantile and state.match_strength > 0:
        result = energy.quantile_transfer(result, reference_rgb(state.reference, cache),
                                          min(1.0, state.match_strength))
    return result


def samples(prediction: Prediction, display: Prediction, state: EditState, n: int, seed: int,
            cache: BiasCache | None = None) -> list[RenderResult]:
    """``n`` alternatives of the current state (reference and hints kept) at ``display`` resolution."""
    bias = base_bias(prediction, state, cache)
    return energy.render_samples(display, n, seed, state.settings, base=bias)


def hue_histograms(prediction: Prediction, result: RenderResult, state: EditState,
                   cache: BiasCache | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(reference hue histogram or None, current image's chroma-weighted hue histogram)."""
    if prediction.scheme.name != "hue_chroma" or len(result.probs) < 2:
        return None, None
    p_hue = result.probs[0].reshape(-1, result.probs[0].shape[-1])
    ec = energy.expected_chroma(result.probs[1].reshape(-1, result.probs[1].shape[-1]))
    cur = (ec[:, None] * p_hue).sum(0)
    cur = cur / max(float(cur.sum()), 1e-8)
    ref = None
    if state.reference is not None:
        ref = _cached(cache, ("ref_hist", state.reference), lambda: energy.reference_histograms(
            prediction.scheme, reference_rgb(state.reference, cache))[0])
    return ref, cur
