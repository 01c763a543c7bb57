"""Colour-cast removal: a share of the picture's overall tint goes, measured on the model's own colours,
so slider biases, references and edge-following hints keep the colours the user asked for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.bins import BinScheme
from colorizer.cast import mean_cast, remove_cast
from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.energy import Hint
from colorizer.pipeline import Prediction, render_probs, posterior
from colorizer.recipe import Recipe, Reference, RenderCache, render
from colorizer.render_settings import RenderSettings

K = BinScheme().bins


def peaked(centre: float, width: float, circular: bool = False) -> np.ndarray:
    x = np.arange(K, dtype=np.float64)
    d = np.abs(x - centre)
    if circular:
        d = np.minimum(d, K - d)
    p = np.exp(-0.5 * (d / width) ** 2)
    return (p / p.sum()).astype(np.float32)


def tinted_prediction(h: int = 24, w: int = 32, hue_bin: float = 19.0, chroma: float = 0.12) -> Prediction:
    """A whole picture the model sees as one pale hue (bin 19 of 32: blue), like a studio backdrop; its
    right eighth surely red, an object in front of it."""
    hue = np.broadcast_to(peaked(hue_bin, 2.0, circular=True), (h, w, K)).copy()
    chroma_p = np.broadcast_to(peaked(chroma * K - 0.5, 0.8), (h, w, K)).copy()
    hue[:, 7 * w // 8:] = peaked(0.0, 0.6, circular=True)
    chroma_p[:, 7 * w // 8:] = peaked(0.25 * K - 0.5, 0.8)
    light = np.full((2 * h, 2 * w), 0.5, np.float32)
    return Prediction(log_probs=[np.log(hue + 1e-12), np.log(chroma_p + 1e-12)], lightness=light,
                      small_lightness=np.full((h, w), 0.5, np.float32), scheme=BinScheme(), working_size=(2 * h, 2 * w))


SETTINGS = RenderSettings().replace(smoothing=0.0, fading_eta=0.0, region_pooling=0.0, edge_aware=False)


def offsets(rgb: np.ndarray) -> np.ndarray:
    return rgb - luma(rgb)[..., None]


def test_mean_cast_and_its_removal_on_a_uniform_tint() -> None:
    tint = np.array([-0.03, -0.01, 0.09], np.float32)
    tint -= luma(tint)
    offset = np.broadcast_to(tint, (5, 7, 3)).copy()
    np.testing.assert_allclose(mean_cast(offset), tint, atol=1e-7)
    np.testing.assert_allclose(remove_cast(offset, mean_cast(offset), 0.5), 0.5 * offset, atol=1e-7)
    assert remove_cast(offset, tint, 0.0) is offset


def test_render_takes_the_share_of_the_overall_tint_away() -> None:
    pred = tinted_prediction()
    keep = render(pred, Recipe(settings=SETTINGS.replace(cast_removal=0.0))).rgb
    half = render(pred, Recipe(settings=SETTINGS.replace(cast_removal=0.5))).rgb
    cast = offsets(keep).reshape(-1, 3).mean(0)
    np.testing.assert_allclose(offsets(half), offsets(keep) - 0.5 * cast, atol=2e-3)
    backdrop_before, backdrop_after = rgb_to_hue_chroma(keep[:, :48])[1].mean(), rgb_to_hue_chroma(half[:, :48])[1].mean()
    assert backdrop_after < 0.8 * backdrop_before                      # the pale blue backdrop goes towards gray
    np.testing.assert_allclose(luma(half), pred.lightness, atol=1e-5)  # lightness untouched


def test_slider_biases_are_not_undone() -> None:
    """The cast is measured without the hue slider, so the slider moves the picture as far as without removal."""
    pred = tinted_prediction()
    moves = []
    for removal in (0.0, 0.5):
        plain = render(pred, Recipe(settings=SETTINGS.replace(cast_removal=removal))).rgb
        pushed = render(pred, Recipe(settings=SETTINGS.replace(cast_removal=removal, hue_bias=4.0, hue_direction=0.33))).rgb
        moves.append((offsets(pushed) - offsets(plain)).reshape(-1, 3).mean(0))
    assert np.abs(moves[0]).max() > 0.01
    np.testing.assert_allclose(moves[1], moves[0], atol=2e-3)
    pred_probs = posterior(pred, SETTINGS.replace(hue_bias=4.0, hue_direction=0.33))
    own = render_probs(pred, pred_probs, SETTINGS.replace(cast_removal=0.5, hue_bias=4.0, hue_direction=0.33)).rgb
    assert not np.allclose(own, pushed, atol=2e-3)  # measuring the cast on the biased picture would undo part of it


def test_a_full_reference_owns_the_tint_and_none_leaves_the_removal(tmp_path: Path) -> None:
    pred = tinted_prediction()
    path = tmp_path / "sepia.png"
    Image.fromarray(np.tile(np.array([150, 120, 80], np.uint8), (20, 30, 1))).save(path)
    reference = Reference.from_file(path, strength=2.0)
    cache = RenderCache()
    with_removal, without = SETTINGS.replace(cast_removal=0.5), SETTINGS.replace(cast_removal=0.0)
    full = render(pred, Recipe(settings=with_removal, reference=reference), cache=cache).rgb
    np.testing.assert_array_equal(full, render(pred, Recipe(settings=without, reference=reference), cache=cache).rgb)
    none = render(pred, Recipe(settings=with_removal, reference=dataclasses.replace(reference, amount=0.0)), cache=cache).rgb
    np.testing.assert_array_equal(none, render(pred, Recipe(settings=with_removal)).rgb)


@pytest.mark.parametrize("follow_edges", [True, False])
def test_a_hint_keeps_its_colour(follow_edges: bool) -> None:
    from test_hint_regions import GREEN, scene, stroke

    pred = scene(sky_hue=0.6)  # a surely blue sky: a cast to remove
    if follow_edges:
        hint, inside = (Hint(stroke(), GREEN),), (slice(110, None), slice(10, 60))
    else:  # a footprint hint colours exactly its mask: here the whole field
        mask = np.zeros((128, 192), np.uint8)
        mask[64:] = 255
        hint, inside = (Hint(mask, GREEN, follow_edges=False),), (slice(80, None), slice(None))
    hinted = {r: render(pred, Recipe(settings=RenderSettings().replace(cast_removal=r), hints=hint)).rgb for r in (0.0, 0.5)}
    np.testing.assert_allclose(hinted[0.5][inside], hinted[0.0][inside], atol=0.01)
    sky = (slice(0, 40), slice(None))
    plain = render(pred, Recipe(settings=RenderSettings().replace(cast_removal=0.5))).rgb
    np.testing.assert_allclose(hinted[0.5][sky], plain[sky], atol=0.02)  # outside the hint: the cast-removed picture
    assert not np.allclose(hinted[0.5][sky], hinted[0.0][sky], atol=0.01)


def test_half_a_reference_leaves_half_the_removal(tmp_path: Path) -> None:
    pred = tinted_prediction()
    path = tmp_path / "teal.png"
    Image.fromarray(np.tile(np.array([60, 140, 140], np.uint8), (20, 30, 1))).save(path)
    half = dataclasses.replace(Reference.from_file(path, strength=2.0), amount=0.5)
    cache = RenderCache()
    with_ref = [offsets(render(pred, Recipe(settings=SETTINGS.replace(cast_removal=r), reference=half), cache=cache).rgb)
                for r in (0.0, 1.0)]
    alone = [offsets(render(pred, Recipe(settings=SETTINGS.replace(cast_removal=r))).rgb) for r in (0.0, 0.5)]
    removed_with_ref, removed_alone = with_ref[0] - with_ref[1], alone[0] - alone[1]
    assert np.abs(removed_alone).max() > 0.02
    np.testing.assert_allclose(removed_with_ref, removed_alone, atol=2e-3)  # the model's tint, half of it


def test_slider_drags_keep_the_fits_cached(tmp_path: Path) -> None:
    """The tint changes with every colour-strength step; it must not crowd the reference fit out of the cache."""
    pred = tinted_prediction()
    path = tmp_path / "sepia.png"
    Image.fromarray(np.tile(np.array([150, 120, 80], np.uint8), (20, 30, 1))).save(path)
    reference = dataclasses.replace(Reference.from_file(path, strength=2.0), amount=0.5)
    cache = RenderCache(max_items=8)
    render(pred, Recipe(settings=SETTINGS, reference=reference), cache=cache)
    fits = [k for k in cache._items if k[0] == "reference"]
    for gain in np.linspace(0.5, 2.0, 40):
        render(pred, Recipe(settings=SETTINGS.replace(chroma_gain=float(gain)), reference=reference), cache=cache)
    assert fits and [k for k in cache._items if k[0] == "reference"] == fits and len(cache._items) == 1


@pytest.mark.parametrize("removal", [-0.1, 1.5, float("nan")])
def test_out_of_range_removal_is_refused(removal: float) -> None:
    with pytest.raises(ValueError, match="cast_removal"):
        RenderSettings.from_dict({"cast_removal": removal})
