"""What an evaluation feeds the colouriser: the truth of a colour photo and the gray input made from
it, clean (its luma) or as a seeded "old print" (blur, faded contrast, grain, JPEG; see
:mod:`colorizer.train.degrade`). One place, so ``colorizer eval`` and cross-validation agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorizer.color import luma
from colorizer.train.data import MAX_SOURCE_SIDE, file_key, load_color_image
from colorizer.train.degrade import EVAL_OLD_PRINT, degrade_lightness
from colorizer.train.head_training import stable_key

VARIANTS = ("clean", "old_print")


@dataclass
class PhotoInput:
    """A photo prepared for scoring: truth, valid mask, the input lightness of a variant."""

    path: Path
    key: str
    truth: np.ndarray
    mask: np.ndarray | None
    lightness: np.ndarray


def photo_input(path: Path, variant: str = "clean", max_side: int = MAX_SOURCE_SIDE) -> PhotoInput:
    """The truth and the (possibly old-print) lightness the colouriser gets for one photo."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown input variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    truth, mask = load_color_image(path, max_side=max_side)
    key = file_key(path)
    lightness = luma(truth).astype(np.float32)
    if variant == "old_print":
        lightness = degrade_lightness(lightness, np.random.default_rng([stable_key(key), 5]), EVAL_OLD_PRINT)
    return PhotoInput(Path(path), key, truth, mask, lightness)
