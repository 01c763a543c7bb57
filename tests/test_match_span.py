"""The app's match control spans "no change" to "full match" perceptibly (issue 11, point 3).

Measured with the bundled model on resources/samples/cameraman.jpg and a warm/teal reference: the
share of pixels whose colour changes by more than 5 CIELAB units (Delta E 1976). Moving the control
from 0 % to 100 % changes 94 % of the pixels, each quarter of its travel 31-48 %; the former control
(lambda multiplier 1.0 -> 6.1, what its slider's travel covered above the default) changed 23 % (30 % with
the chroma gain 1.2 of 2026-12-04)
(0 % on grey-architecture.jpg, 88 % there for the new control).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.color import rgb_to_lab
from colorizer.imageio import load_image
from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe, Reference, RenderCache, render

from conftest import BUNDLED_WEIGHTS, REPO

PHOTO = REPO / "resources" / "samples" / "cameraman.jpg"


def warm_teal_reference(path: Path) -> Path:
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    rgb = np.stack([200 * (1 - yy) + 40, 90 + 60 * xx, 40 + 160 * yy], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def changed_share(a: np.ndarray, b: np.ndarray, delta_e: float = 5.0) -> float:
    return float((np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b), axis=-1) > delta_e).mean())


@pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file() or not PHOTO.is_file(), reason="needs the bundled model")
def test_match_amount_changes_a_meaningful_share_of_pixels(tmp_path: Path) -> None:
    prediction = Colorizer.load(BUNDLED_WEIGHTS, device="cpu").predict(load_image(PHOTO).lightness)
    reference = Reference.from_file(warm_teal_reference(tmp_path / "ref.png"))
    cache = RenderCache()
    amounts = (0.0, 0.25, 0.5, 0.75, 1.0)
    pictures = [render(prediction, Recipe(reference=dataclasses.replace(reference, amount=a)), cache=cache).rgb
                for a in amounts]
    np.testing.assert_array_equal(pictures[0], render(prediction, Recipe()).rgb)  # 0 %: no change at all
    assert changed_share(pictures[0], pictures[-1]) > 0.8                           # measured 0.94
    steps = [changed_share(a, b) for a, b in zip(pictures, pictures[1:])]
    assert min(steps) > 0.2                                                         # measured 0.31 .. 0.48
    old = render(prediction, Recipe(reference=dataclasses.replace(reference, strength=6.1)), cache=cache).rgb
    assert changed_share(pictures[-1], old) < 0.35                                  # the old travel: 0.30
