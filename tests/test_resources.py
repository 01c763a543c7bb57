"""resources/: small, licensed sample photos, the icon and desktop entry; README's main job without ../shared."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

RESOURCES = REPO / "resources"


def test_samples_are_small_gray_and_licensed() -> None:
    samples = sorted((RESOURCES / "samples").iterdir())
    assert len(samples) >= 3
    licences = (RESOURCES / "LICENSES.md").read_text(encoding="utf-8")
    for path in samples:
        with Image.open(path) as im:
            assert im.mode == "L" and max(im.size) <= 1200, path
        assert f"`samples/{path.name}`" in licences, f"{path.name} has no licence entry"
    total = sum(p.stat().st_size for p in RESOURCES.rglob("*") if p.is_file())
    assert total < 1_500_000


def test_icon_and_desktop_entry() -> None:
    with Image.open(RESOURCES / "colorizer.png") as icon:
        assert icon.size == (256, 256) and icon.mode == "RGBA"
    entry = (RESOURCES / "colorizer.desktop").read_text(encoding="utf-8")
    assert entry.startswith("[Desktop Entry]") and "\nExec=colorizer-app %F\n" in entry and "\nIcon=colorizer\n" in entry


def test_app_finds_the_samples_and_icon() -> None:
    from app.resources import icon_path, sample_photos

    assert sample_photos() == sorted((RESOURCES / "samples").iterdir())
    assert icon_path() == RESOURCES / "colorizer.png"


@pytest.mark.slow
def test_readme_main_job_runs_in_a_fresh_tree(tmp_path: Path) -> None:
    """README's command, run in a copy of the tree that has no ../shared beside it (the bundled model)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Colourise", 1)[1]
    command = re.search(r"```bash\n(colorizer colorize [^\n]+)\n```", section).group(1)
    assert "../shared" not in command
    fresh = tmp_path / "fresh"
    for part in ("colorizer", "app", "models", "resources"):
        shutil.copytree(REPO / part, fresh / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(fresh)}
    env.pop("COLORIZER_WEIGHTS", None)
    where = subprocess.run([sys.executable, "-c", "import colorizer; print(colorizer.__file__)"], cwd=fresh, env=env,
                           capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(fresh)  # the copy runs, not this checkout
    args = command.split()[1:]
    proc = subprocess.run([sys.executable, "-m", "colorizer.cli", *args, "-q"], cwd=fresh, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for src in sorted((fresh / "resources" / "samples").iterdir()):
        out = fresh / "out" / f"{src.stem}.png"
        with Image.open(src) as gray, Image.open(out) as result:
            assert result.size == gray.size
            rgb = np.asarray(result.convert("RGB"), np.float32)
            assert np.percentile(rgb.max(-1) - rgb.min(-1), 90) > 8  # coloured, not left gray
