"""Per-photo recipes: beside the photo, in the fallback folder, found again after a rename; batch jobs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.batch import collect_jobs
from colorizer.recipe import Recipe, RecipeError, file_sha256
from colorizer.recipe_file import save_recipe
from colorizer.render_settings import RenderSettings
from colorizer.sidecars import SidecarStore, sidecar_path

EDITED = Recipe(settings=RenderSettings().replace(chroma_gain=1.7))


def photo(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.uniform(size=(12, 16)) * 255).astype(np.uint8)).save(path)
    return path


def test_saved_beside_the_photo_and_read_back(tmp_path: Path) -> None:
    src = photo(tmp_path / "album" / "a.png")
    before = src.read_bytes()
    store = SidecarStore(tmp_path / "data")
    written = store.save(src, EDITED, file_sha256(src))
    assert written == sidecar_path(src) == tmp_path / "album" / "a.png.colorizer.json"
    found = store.load(src)
    assert found.recipe == EDITED and found.path == written
    assert src.read_bytes() == before and not (tmp_path / "data").exists()
    assert store.load(photo(tmp_path / "album" / "b.png", seed=1)) is None


def test_unwritable_folder_falls_back_to_the_data_folder(tmp_path: Path) -> None:
    src = photo(tmp_path / "ro" / "a.png")
    sidecar_path(src).mkdir()  # the sidecar cannot be written there (as in a read-only folder)
    store = SidecarStore(tmp_path / "data")
    sha = file_sha256(src)
    written = store.save(src, EDITED, sha)
    assert written == tmp_path / "data" / f"{sha}.colorizer.json"
    assert store.load(src).recipe == EDITED
    with pytest.raises(OSError):
        SidecarStore(None).save(src, EDITED, sha)


def test_newer_fallback_wins_over_an_older_sidecar_beside_the_photo(tmp_path: Path) -> None:
    src = photo(tmp_path / "album" / "a.png")
    store = SidecarStore(tmp_path / "data")
    sha = file_sha256(src)
    beside = store.save(src, Recipe(), sha)  # first edit saved beside the photo
    os.utime(beside, ns=(1_000_000_000, 1_000_000_000))
    newer = store.fallback_path(sha)
    save_recipe(newer, EDITED)  # a later save had to go to the data folder
    found = store.load(src)
    assert found.recipe == EDITED and found.path == newer


def test_renamed_photo_finds_its_recipe_by_content(tmp_path: Path) -> None:
    src = photo(tmp_path / "a.png")
    store = SidecarStore()
    store.save(src, EDITED, file_sha256(src))
    renamed = src.rename(tmp_path / "wedding-1931.png")
    found = store.load(renamed)
    assert found is not None and found.recipe == EDITED and found.path.name == "a.png.colorizer.json"
    assert store.load(photo(tmp_path / "other.png", seed=5)) is None  # different content: not its recipe


def test_broken_sidecar_is_a_clear_error(tmp_path: Path) -> None:
    src = photo(tmp_path / "a.png")
    sidecar_path(src).write_text("{ not json")
    with pytest.raises(RecipeError, match="a.png.colorizer.json"):
        SidecarStore().load(src)


def test_batch_jobs_get_their_own_recipes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    a, c = photo(folder / "a.png"), photo(folder / "c.png", 2)
    photo(folder / "b.png", 1)
    store = SidecarStore()
    store.save(a, EDITED, file_sha256(a))
    sidecar_path(c).write_text('{"format": "colorizer-recipe", "version": 99}')
    jobs, _ = collect_jobs([folder], tmp_path / "out")
    ready, problems = store.attach(jobs)
    assert {j.source.name: j.recipe for j in ready} == {"a.png": EDITED, "b.png": None}
    assert len(problems) == 1 and "c.png" in problems[0].error and "version 99" in problems[0].error
