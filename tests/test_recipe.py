"""Recipes: the one render function, looks, and the JSON file format with its errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer import energy, recipe_file
from colorizer.energy import Hint
from colorizer.pipeline import posterior, preview_prediction, render_probs
from colorizer.recipe import (ModelRef, Recipe, RecipeError, Reference, ReferencePixels, RenderCache, SampleChoice,
                              recipe_biases, render, render_alternatives)
from colorizer.render_settings import RenderSettings
from colorizer.recipe_file import (VERSION, PhotoRef, load_recipe, read_recipe_file, recipe_from_json,
                                   recipe_to_json, save_recipe)


@pytest.fixture
def prediction(tiny_colorizer, rng):
    return tiny_colorizer.predict(rng.uniform(size=(48, 64)).astype(np.float32))


@pytest.fixture
def reference_file(tmp_path: Path) -> Path:
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 2] = 220
    rgb[:15, :, 0] = 180
    path = tmp_path / "ref.png"
    Image.fromarray(rgb).save(path)
    return path


def block_hint(shape: tuple[int, int], color=(170, 51, 34), follow_edges: bool = True) -> Hint:
    mask = np.zeros(shape, np.uint8)
    mask[shape[0] // 4: shape[0] // 2, shape[1] // 4: shape[1] // 2] = 255
    return Hint(mask=mask, color=color, follow_edges=follow_edges)


# ----- rendering -------------------------------------------------------------------------------
def test_default_recipe_renders_the_plain_prediction(tiny_colorizer, prediction) -> None:
    out = render(prediction, Recipe())
    np.testing.assert_array_equal(out.rgb, tiny_colorizer.render(prediction).rgb)


def test_reference_and_hints_compose_as_the_energy_fits_them(prediction, reference_file) -> None:
    reference = Reference.from_file(reference_file, strength=2.0)
    hint = block_hint(prediction.size, follow_edges=False)  # (edge-following ones are also matted: test_hint_regions)
    recipe = Recipe(settings=RenderSettings().replace(chroma_gain=1.2), reference=reference, hints=(hint,))
    cache = RenderCache()
    out = render(prediction, recipe, cache=cache)
    rgb = cache.references.get(reference)
    ref_b = energy.reference_biases(prediction, rgb, 2.0)
    expected_b = energy.add_biases(ref_b, energy.hint_biases(prediction, [hint], base=ref_b))
    settings = recipe.settings.replace(cast_removal=0.0)  # a full-amount reference owns the overall tint
    expected = render_probs(prediction, posterior(prediction, settings, expected_b), settings)
    np.testing.assert_array_equal(out.rgb, expected.rgb)
    assert not np.allclose(out.rgb, render(prediction, Recipe(settings=recipe.settings)).rgb)


def test_reference_amount_interpolates_the_fitted_bias(prediction, reference_file) -> None:
    """amount scales the bias fitted at the reference's strength: 0 is the prediction, 1 the full match,
    and dragging it needs no new fit (the cache holds one reference fit)."""
    cache = RenderCache()
    full = Reference.from_file(reference_file, strength=2.0)
    none = render(prediction, Recipe(reference=dataclasses.replace(full, amount=0.0)), cache=cache).rgb
    np.testing.assert_array_equal(none, render(prediction, Recipe()).rgb)
    half_b = recipe_biases(prediction, Recipe(reference=dataclasses.replace(full, amount=0.5)), cache)
    full_b = recipe_biases(prediction, Recipe(reference=full), cache)
    for h, f in zip(half_b, full_b):
        np.testing.assert_allclose(h, 0.5 * f, atol=1e-6)
    assert sum(1 for key in cache._items if key[0] == "reference") == 1
    with pytest.raises(ValueError, match="amount"):
        dataclasses.replace(full, amount=1.5)


def test_version_1_files_keep_their_meaning(tmp_path: Path) -> None:
    """A version 1 recipe's hints covered exactly their mask, and its reference was fully applied."""
    hint = block_hint((20, 20))
    data = recipe_file.recipe_to_json(Recipe(hints=(hint,)))
    data["version"] = 1
    for h in data["hints"]:
        del h["follow_edges"], h["erased"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    old = load_recipe(path).hints[0]
    assert not old.follow_edges and old.erased is None
    np.testing.assert_array_equal(old.mask, hint.mask)
    erased = hint.erase(np.eye(20, dtype=np.uint8) * 255)
    save_recipe(tmp_path / "new.json", Recipe(hints=(erased,)))
    again = load_recipe(tmp_path / "new.json").hints[0]
    assert again == erased and again.follow_edges and json.loads((tmp_path / "new.json").read_text())["version"] == VERSION


def test_files_from_before_cast_removal_render_as_they_did(tmp_path: Path) -> None:
    """Versions 1-2 had no cast removal and a default gain of 1: leaving them out meant that."""
    path = tmp_path / "look.json"
    for version in (1, 2):
        path.write_text(json.dumps({"format": "colorizer-recipe", "version": version, "settings": {"smoothing": 2.0}}))
        settings = load_recipe(path).settings
        assert settings.cast_removal == 0.0 and settings.value("chroma_gain") == 1.0 and settings.smoothing == 2.0
    path.write_text(json.dumps({"format": "colorizer-recipe", "version": 2, "settings": {"chroma_gain": 1.5}}))
    assert load_recipe(path).settings.value("chroma_gain") == 1.5
    path.write_text(json.dumps({"format": "colorizer-recipe", "version": VERSION, "settings": {}}))
    assert load_recipe(path).settings == RenderSettings()
    save_recipe(path, Recipe())
    assert load_recipe(path) == Recipe()  # the current defaults survive a round trip


def test_fits_are_cached_and_reference_read_once(prediction, reference_file) -> None:
    reference = Reference.from_file(reference_file)
    recipe = Recipe(reference=reference, hints=(block_hint(prediction.size),))
    cache = RenderCache()
    first = recipe_biases(prediction, recipe, cache)
    reference_file.unlink()  # the pixels were read once and are kept
    second = recipe_biases(prediction, recipe.replace(settings=RenderSettings().replace(chroma_gain=2.0)), cache)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RecipeError, match="ref.png"):
        ReferencePixels().get(reference)


def test_quantile_reference_sample_and_preview(prediction, reference_file) -> None:
    reference = Reference.from_file(reference_file, method="quantile")
    plain = render(prediction, Recipe())
    matched = render(prediction, Recipe(reference=reference))
    assert matched.rgb.shape == plain.rgb.shape and not np.allclose(matched.rgb, plain.rgb)
    sample = SampleChoice(seed=3, index=1, count=4)
    adopted = render(prediction, Recipe(sample=sample))
    alternatives = list(render_alternatives(prediction, Recipe(), 4, seed=3))
    np.testing.assert_array_equal(adopted.rgb, alternatives[1].rgb)
    assert not np.allclose(alternatives[0].rgb, alternatives[1].rgb)
    display = preview_prediction(prediction, 32, grid_side=None)
    assert render(prediction, Recipe(hints=(block_hint(prediction.size),)), display=display).rgb.shape[:2] == (24, 32)
    with pytest.raises(ValueError, match="grid"):
        render(prediction, Recipe(), display=preview_prediction(prediction, 32, grid_side=4))


def test_looks_carry_settings_and_reference_not_hints(reference_file) -> None:
    hint = block_hint((20, 20))
    mine = Recipe(hints=(hint,), sample=SampleChoice(0, 1, 3))
    look = Recipe(settings=RenderSettings().replace(chroma_gain=0.5), reference=Reference.from_file(reference_file),
                  hints=(block_hint((8, 8)),))
    pasted = mine.with_look(look.look())
    assert pasted.settings == look.settings and pasted.reference == look.reference
    assert pasted.hints == (hint,) and pasted.sample is None
    assert look.look().hints == ()


def test_reference_validation_and_change_detection(reference_file) -> None:
    ref = Reference.from_file(reference_file)
    assert len(ref.sha256) == 64 and not ref.changed()
    reference_file.write_bytes(reference_file.read_bytes() + b"\0")
    assert ref.changed()
    with pytest.raises(ValueError):
        Reference("x.png", method="histogram")
    with pytest.raises(ValueError):
        Reference("x.png", strength=-1)
    with pytest.raises(RecipeError, match="nope.png"):
        Reference.from_file(reference_file.parent / "nope.png")
    with pytest.raises(ValueError):
        SampleChoice(0, 3, 3)


# ----- files -----------------------------------------------------------------------------------
def test_round_trip_keeps_every_field(tmp_path: Path, reference_file: Path) -> None:
    recipe = Recipe(settings=RenderSettings().replace(chroma_gain=1.2, method="mode", edge_aware=False, hue_bias=0.5),
                    reference=Reference.from_file(reference_file, 2.0, "quantile"),
                    hints=(block_hint((30, 50)), Hint(np.full((4, 6), 128, np.uint8), (1, 2, 3), strength=2.0, feather=0.5)),
                    sample=SampleChoice(7, 2, 6), model=ModelRef("colorizer.safetensors", "ab" * 32, 768))
    path = save_recipe(tmp_path / "look.json", recipe, PhotoRef("a.jpg", "cd" * 32))
    found = read_recipe_file(path)
    assert found.recipe == recipe and found.photo == PhotoRef("a.jpg", "cd" * 32)
    np.testing.assert_array_equal(found.recipe.hints[0].mask, recipe.hints[0].mask)
    data = json.loads(path.read_text())
    assert data["format"] == "colorizer-recipe" and data["version"] == VERSION
    assert data["settings"]["chroma_gain"] == 1.2 and data["hints"][0]["color"] == "#aa3322"
    assert [p.name for p in tmp_path.iterdir()] == sorted(p.name for p in tmp_path.iterdir())  # no temporaries
    assert {p.name for p in tmp_path.iterdir()} == {"look.json", "ref.png"}


def test_relative_reference_path_is_relative_to_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "looks").mkdir()
    path = tmp_path / "looks" / "warm.json"
    path.write_text(json.dumps({"format": "colorizer-recipe", "version": 1,
                                "reference": {"path": "../ref.jpg", "strength": 3}}))
    assert load_recipe(path).reference == Reference(str(tmp_path / "looks" / ".." / "ref.jpg"), "", 3.0, "energy")


@pytest.mark.parametrize("text, message", [
    ('{"format": "colorizer-recipe", "version": 4}', "version 4 is newer"),
    ('{"format": "colorizer-recipe", "version": 0}', "unknown recipe version 0"),
    ('{"format": "colorizer-recipe"', "broken JSON at line 1"),
    ('{"format": "something-else", "version": 1}', "not a colorizer recipe"),
    ('[1, 2]', "must be a JSON object"),
    ('{"format": "colorizer-recipe", "version": 1, "colour": 3}', "unknown field 'colour'"),
    ('{"format": "colorizer-recipe", "version": 1, "settings": {"chroma_gain": "lots"}}', "chroma_gain"),
    ('{"format": "colorizer-recipe", "version": 1, "settings": {"sharpness": 1}}', "unknown render setting"),
    ('{"format": "colorizer-recipe", "version": 1, "reference": {"path": "r.png", "method": "x"}}', "reference method"),
    ('{"format": "colorizer-recipe", "version": 1, "hints": [{"color": "#ff0000"}]}', "hint 1: 'mask' is missing"),
    ('{"format": "colorizer-recipe", "version": 1, "hints": [{"color": "red", "mask": {"width": 1, "height": 1, '
     '"png": "AAAA"}}]}', "not an 8-bit gray"),
    ('{"format": "colorizer-recipe", "version": 1, "sample": {"index": 5, "count": 2}}', "sample index 5"),
    ('{"format": "colorizer-recipe", "version": true}', "'version' has the wrong type"),
    ('{"format": "colorizer-recipe", "version": 1, "settings": {"temperature": -5}}', "'temperature' must be"),
    ('{"format": "colorizer-recipe", "version": 1, "settings": {"region_pooling": 7}}', "'region_pooling' must be"),
])
def test_broken_files_give_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "look.json"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(path) in str(info.value) and message in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_bad_colour(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "gone.json")
    data = recipe_to_json(Recipe(hints=(block_hint((4, 4)),)))
    data["hints"][0]["color"] = "reddish"
    with pytest.raises(RecipeError, match="#RRGGBB"):
        recipe_from_json(data, "x.json")


def test_eval_renders_through_the_recipe(tiny_colorizer, tmp_path: Path) -> None:
    """``colorizer eval`` scores exactly what ``render`` makes; its own palette as reference helps."""
    from colorizer.train.metrics import evaluate

    yy, xx = np.mgrid[0:40, 0:56] / 56
    truth = np.clip(np.stack([0.5 + 0.4 * np.sin(7 * xx), 0.5 + 0.4 * np.cos(6 * yy), 0.4 + 0.3 * xx], -1), 0, 1)
    Image.fromarray((truth * 255).astype(np.uint8)).save(tmp_path / "p.png")
    paths = [tmp_path / "p.png"]
    plain = evaluate(tiny_colorizer, paths, RenderSettings().replace(chroma_gain=0.0))
    assert plain["model"]["ab_rmse"] == pytest.approx(plain["gray"]["ab_rmse"], abs=0.05)  # gain 0 renders gray
    auto, matched = evaluate(tiny_colorizer, paths), evaluate(tiny_colorizer, paths, reference_from_gt=True)
    assert matched["model"]["ab_rmse"] < auto["model"]["ab_rmse"]
