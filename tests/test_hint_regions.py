"""Edge-aware region hints (colorizer.hint_regions): a stroke colours the object it is on, stopping at
its edges, and thin objects crossed by the stroke keep their own colour (synthetic scenes, no network)."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer.bins import BinScheme
from colorizer.color import rgb_to_hue_chroma
from colorizer.energy import Hint
from colorizer.hint_regions import RegionSettings, disbelief, hint_region, refine_region
from colorizer.pipeline import Prediction, make_prediction
from colorizer.recipe import Recipe, render
from colorizer.render_settings import RenderSettings

K = 32
GREEN = (60, 170, 40)


def scene(h: int = 128, w: int = 192, pole: bool = True, sky_hue: float | None = None) -> Prediction:
    """A dark 'field' (bottom, L 0.35, grain) under a light 'sky' (top, L 0.8), and a thin light 'pole'
    standing in the field; the network knows nothing (flat histograms) unless ``sky_hue`` says the sky
    is surely that hue."""
    rng = np.random.default_rng(0)
    light = np.full((h, w), 0.8, np.float32)
    light[h // 2:] = 0.35 + rng.normal(0, 0.02, (h - h // 2, w)).astype(np.float32)
    if pole:
        light[h // 2 - 10:, w // 2 - 2: w // 2 + 2] = 0.75
    gh, gw = h // 4, w // 4
    hue = np.full((gh, gw, K), 1.0 / K, np.float32)
    chroma = np.full((gh, gw, K), 1.0 / K, np.float32)
    if sky_hue is not None:
        peak = np.exp(-0.5 * (((np.arange(K) - sky_hue * K + 0.5 + K / 2) % K - K / 2) / 0.6) ** 2)
        hue[: gh // 2] = (peak / peak.sum()).astype(np.float32)
        cpeak = np.exp(-0.5 * ((np.arange(K) - 0.3 * K) / 0.8) ** 2)
        chroma[: gh // 2] = (cpeak / cpeak.sum()).astype(np.float32)
    return make_prediction([np.log(hue + 1e-12), np.log(chroma + 1e-12)], light, light, BinScheme())


def stroke(h: int = 128, w: int = 192) -> np.ndarray:
    """A horizontal stroke through the field, across the pole, touching nothing of the sky."""
    mask = np.zeros((h, w), np.uint8)
    mask[96:106, 40:150] = 255
    return mask


def test_region_fills_the_object_and_stops_at_its_edge() -> None:
    pred = scene()
    region = refine_region(pred, stroke(), (0.25, 0.6, 0.2))
    h = region.shape[0]
    field, sky = region[int(h * 0.6):, :], region[: int(h * 0.45), :]
    assert field.mean() > 0.8          # the whole field, far beyond the stroke's 10 rows
    assert sky.max() < 0.05            # nothing of the sky
    pole = region[int(h * 0.6):, region.shape[1] // 2 - 1: region.shape[1] // 2 + 1]
    assert pole.mean() < 0.3           # the pole crossed by the stroke resists


def test_a_footprint_hint_colours_only_its_mask() -> None:
    pred = scene()
    region = hint_region(pred, Hint(stroke(), GREEN, follow_edges=False))
    assert region.shape == pred.grid_size
    assert region[:20].max() == 0 and region[25, 10:37].min() > 0.99 and region[28:].max() == 0


def test_eraser_holds_pixels_back() -> None:
    pred = scene(pole=False)
    eraser = np.zeros((128, 192), np.uint8)
    eraser[64:, 140:150] = 255            # a wall across the field, right of the stroke
    hint = Hint(stroke(), GREEN).erase(eraser)
    assert hint is not None and hint.erased is not None and hint.mask[100, 145] == 0
    region = hint_region(pred, hint)
    h, w = region.shape
    assert region[int(h * 0.8), int(w * 0.3)] > 0.8 and region[int(h * 0.8), int(w * 0.9)] < 0.2
    assert Hint(stroke(), GREEN).erase(np.full((128, 192), 255, np.uint8)) is None  # all erased: no hint


def test_the_model_belief_resists_an_implausible_colour() -> None:
    """A sky the model is sure is blue resists a green stroke more than the field it knows nothing about."""
    pred = scene(pole=False, sky_hue=0.6)
    doubt = disbelief(pred, (0.25, 0.6, 0.2))
    assert doubt[:8].mean() > 0.5 and doubt[-8:].max() < 0.05
    assert disbelief(pred, (0.2, 0.35, 0.8))[:8].mean() < 0.2     # blue is plausible there
    # no lightness edge between them: only the model's belief keeps a green stroke on the field out of the sky
    flat = make_prediction(pred.log_probs, np.full((128, 192), 0.5, np.float32), np.full((128, 192), 0.5, np.float32),
                           BinScheme())
    believing = refine_region(flat, stroke(), (0.25, 0.6, 0.2))
    ignoring = refine_region(flat, stroke(), (0.25, 0.6, 0.2), settings=RegionSettings(belief=0.0))
    assert believing[:24].mean() < 0.1 < 0.5 < ignoring[:24].mean()
    assert believing[40:].mean() > 0.8


def test_rendered_hint_stops_at_the_edge_and_spares_the_pole() -> None:
    pred = scene()
    plain = RenderSettings().replace(fading_eta=0.0)
    base = render(pred, Recipe(settings=plain)).rgb
    out = render(pred, Recipe(settings=plain, hints=(Hint(stroke(), GREEN),))).rgb
    hue, chroma = rgb_to_hue_chroma(out[110:, 10:60])
    assert chroma.mean() > 0.15 and abs(hue.mean() - 0.3) < 0.06      # the field is green, also outside the stroke
    np.testing.assert_allclose(out[:50], base[:50], atol=0.02)         # the sky is not
    pole_change = np.abs(out[100:, 95:97] - base[100:, 95:97]).mean()
    field_change = np.abs(out[100:, 80:88] - base[100:, 80:88]).mean()
    assert pole_change < 0.35 * field_change                           # the pole keeps its colour
    footprint = render(pred, Recipe(settings=plain, hints=(Hint(stroke(), GREEN, follow_edges=False),))).rgb
    assert np.abs(footprint[100:, 95:97] - base[100:, 95:97]).mean() > pole_change * 2


@pytest.mark.parametrize("name", ["lab_marginal", "lab_joint"])
def test_refinement_works_for_lab_schemes(name: str) -> None:
    scheme = BinScheme(name=name)
    base = scene()
    log_probs = [np.full(base.grid_size + (k,), -np.log(k), np.float32) for k in scheme.channel_sizes]
    pred = make_prediction(log_probs, base.lightness, base.lightness, scheme)
    region = refine_region(pred, stroke(), (0.25, 0.6, 0.2))
    assert region[int(region.shape[0] * 0.7):].mean() > 0.8 and region[:20].max() < 0.05
