"""`colorizer colorize` with --samples, --reference and --hint (tiny random network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    Image.fromarray((rng.uniform(size=(40, 56)) * 255).astype(np.uint8)).save(path)
    return path


def run(tiny_weights: Path, *args: str) -> int:
    return main(["colorize", *args, "--weights", str(tiny_weights), "--device", "cpu", "--working-size", "64", "-q"])


def test_samples_written_and_reproducible(tiny_weights: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(tiny_weights, str(photo), "-o", str(out), "--samples", "3", "--seed", "5", "--uncertainty") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["photo.png", "photo_s1.png", "photo_s2.png", "photo_s3.png", "photo_uncertainty.png"]
    for name in names:
        assert Image.open(out / name).size == (56, 40)
    out2 = tmp_path / "out2"
    assert run(tiny_weights, str(photo), "-o", str(out2), "--samples", "3", "--seed", "5") == 0
    for k in (1, 2, 3):
        a = np.asarray(Image.open(out / f"photo_s{k}.png"))
        b = np.asarray(Image.open(out2 / f"photo_s{k}.png"))
        np.testing.assert_array_equal(a, b)


def test_reference_and_hint(tiny_weights: Path, photo: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[...] = (30, 80, 220)
    Image.fromarray(rgb).save(ref)
    mask = tmp_path / "mask.png"
    m = np.zeros((40, 56), np.uint8)
    m[5:20, 5:30] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "out"
    assert run(tiny_weights, str(photo), "-o", str(out), "--reference", str(ref), "--match-strength", "2",
               "--hint", f"{mask}:#20c030") == 0
    assert (out / "photo.png").exists()
    gray = np.asarray(Image.open(photo), np.float32)
    result = np.asarray(Image.open(out / "photo.png"), np.float32)
    luma = result @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(luma - gray).max() <= 0.51


def test_bad_reference_and_hint_are_named(tiny_weights: Path, photo: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(tiny_weights, str(photo), "-o", str(out), "--reference", str(tmp_path / "nope.jpg")) == 2
    assert "nope.jpg" in capsys.readouterr().err
    assert run(tiny_weights, str(photo), "-o", str(out), "--hint", "mask.png:green") == 2
    assert "MASK.png:#RRGGBB" in capsys.readouterr().err
    assert run(tiny_weights, str(photo), "-o", str(out), "--hint", f"{tmp_path / 'gone.png'}:#00ff00") == 2
    assert "gone.png" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_reference_method_quantile_pulls_towards_reference_palette(tiny_weights: Path, photo: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    Image.fromarray(np.full((16, 16, 3), (40, 90, 230), np.uint8)).save(ref)
    out = tmp_path / "out"
    assert run(tiny_weights, str(photo), "-o", str(out), "--reference", str(ref), "--reference-method", "quantile") == 0
    result = np.asarray(Image.open(out / "photo.png"), np.float32)
    gray = np.asarray(Image.open(photo), np.float32)
    assert np.abs(result @ np.array([0.299, 0.587, 0.114], np.float32) - gray).max() <= 0.51
    assert (result[..., 2] - result[..., 0]).mean() > 5  # bluish, like the reference
