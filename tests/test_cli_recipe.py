"""`colorizer colorize --save-recipe / --recipe`: a look saved by one run reproduces it exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    x = tmp_path / "photos" / "x.png"
    x.parent.mkdir()
    yy, xx = np.mgrid[0:40, 0:56]
    Image.fromarray((120 + 60 * np.sin(xx / 6) + rng.normal(0, 10, (40, 56))).clip(0, 255).astype(np.uint8)).save(x)
    ref = tmp_path / "ref.png"
    Image.fromarray(np.full((20, 20, 3), (30, 80, 220), np.uint8)).save(ref)
    mask = tmp_path / "mask.png"
    m = np.zeros((40, 56), np.uint8)
    m[5:25, 8:30] = 255
    Image.fromarray(m).save(mask)
    return {"x": x, "ref": ref, "mask": mask, "root": tmp_path}


def run(tiny_weights: Path, *args: str) -> int:
    return main(["colorize", *args, "--weights", str(tiny_weights), "--device", "cpu", "-q"])


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_recipe_reproduces_the_saving_run(tiny_weights: Path, scene: dict[str, Path]) -> None:
    root = scene["root"]
    look = root / "look.json"
    assert run(tiny_weights, str(scene["x"]), "--reference", str(scene["ref"]), "--match-strength", "2",
               "--chroma-gain", "1.2", "--hint", f"{scene['mask']}:#aa3322", "--working-size", "64",
               "--save-recipe", str(look), "-o", str(root / "a")) == 0
    saved = json.loads(look.read_text())
    assert saved["settings"]["chroma_gain"] == 1.2 and saved["reference"]["strength"] == 2.0
    assert saved["hints"][0]["color"] == "#aa3322" and saved["model"]["working_size"] == 64
    assert run(tiny_weights, str(scene["x"]), "--recipe", str(look), "-o", str(root / "b")) == 0
    np.testing.assert_array_equal(pixels(root / "a" / "x.png"), pixels(root / "b" / "x.png"))
    plain = root / "plain"
    assert run(tiny_weights, str(scene["x"]), "--working-size", "64", "-o", str(plain)) == 0
    assert not np.array_equal(pixels(plain / "x.png"), pixels(root / "a" / "x.png"))


def test_options_override_the_recipe(tiny_weights: Path, scene: dict[str, Path]) -> None:
    root = scene["root"]
    look = root / "look.json"
    assert run(tiny_weights, str(scene["x"]), "--chroma-gain", "1.5", "--working-size", "64", "--save-recipe", str(look),
               "-o", str(root / "a")) == 0
    assert run(tiny_weights, str(scene["x"]), "--recipe", str(look), "--chroma-gain", "0", "-o", str(root / "gray")) == 0
    rgb = pixels(root / "gray" / "x.png").astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 1 and np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 1
    merged = root / "merged.json"
    assert run(tiny_weights, str(scene["x"]), "--recipe", str(look), "--temperature", "0.7", "--save-recipe",
               str(merged), "-o", str(root / "c")) == 0
    settings = json.loads(merged.read_text())["settings"]
    assert settings["chroma_gain"] == 1.5 and settings["temperature"] == 0.7


def test_region_pooling_option_changes_the_look_and_is_range_checked(tiny_weights: Path, scene: dict[str, Path],
                                                                     capsys: pytest.CaptureFixture) -> None:
    root = scene["root"]
    look = root / "pooled.json"
    assert run(tiny_weights, str(scene["x"]), "--region-pooling", "1", "--save-recipe", str(look),
               "-o", str(root / "p1")) == 0
    assert run(tiny_weights, str(scene["x"]), "--region-pooling", "0", "-o", str(root / "p0")) == 0
    assert json.loads(look.read_text())["settings"]["region_pooling"] == 1.0
    assert not np.array_equal(pixels(root / "p1" / "x.png"), pixels(root / "p0" / "x.png"))
    assert run(tiny_weights, str(scene["x"]), "--region-pooling", "1.5", "-o", str(root / "bad")) == 2
    assert "--region-pooling" in capsys.readouterr().err


def test_save_recipe_never_replaces_a_photo(tiny_weights: Path, scene: dict[str, Path],
                                           capsys: pytest.CaptureFixture) -> None:
    root = scene["root"]
    before = scene["x"].read_bytes()
    assert run(tiny_weights, str(scene["x"]), "--save-recipe", str(scene["x"]), "-o", str(root / "a")) == 2
    assert scene["x"].read_bytes() == before and "not a recipe file" in capsys.readouterr().err
    look = root / "look.json"
    assert run(tiny_weights, str(scene["x"]), "--save-recipe", str(look), "-o", str(root / "b")) == 0
    assert run(tiny_weights, str(scene["x"]), "--chroma-gain", "2", "--save-recipe", str(look), "--overwrite",
               "-o", str(root / "b")) == 0  # an older look is replaced
    assert json.loads(look.read_text())["settings"]["chroma_gain"] == 2.0


@pytest.mark.parametrize("text, message", [
    ('{"format": "colorizer-recipe", "version": 7}', "version 7 is newer"),
    ('{"format": "colorizer-recipe", "vers', "broken JSON"),
])
def test_broken_or_future_recipe_is_one_line_naming_the_file(tiny_weights: Path, scene: dict[str, Path],
                                                            capsys: pytest.CaptureFixture[str], text: str,
                                                            message: str) -> None:
    bad = scene["root"] / "bad.json"
    bad.write_text(text)
    out = scene["root"] / "out"
    assert run(tiny_weights, str(scene["x"]), "--recipe", str(bad), "-o", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and message in err
    assert not out.exists()


def test_recipe_whose_reference_is_gone(tiny_weights: Path, scene: dict[str, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = scene["root"]
    look = root / "look.json"
    assert run(tiny_weights, str(scene["x"]), "--reference", str(scene["ref"]), "--save-recipe", str(look),
               "-o", str(root / "a")) == 0
    scene["ref"].unlink()
    assert run(tiny_weights, str(scene["x"]), "--recipe", str(look), "-o", str(root / "b")) == 2
    assert "ref.png" in capsys.readouterr().err
    unwritable = root / "a" / "x.png" / "look.json"  # a file stands where the folder should be
    assert run(tiny_weights, str(scene["x"]), "--save-recipe", str(unwritable), "-o", str(root / "c")) == 2
    assert "cannot write the recipe" in capsys.readouterr().err
