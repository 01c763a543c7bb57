"""A fine-tune's look: how much of the overall tint to take away (``cast_removal``), chosen on the user's photos.

The rendering defaults remove half of a picture's overall tint, chosen on cross-validation over many sources
because a blue backdrop or a beige wall is a common failure. A user's photos may say otherwise: a collection
shot in warm evening light or on a green estate has a tint that is right, and a model fine-tuned on it learns
that tint, which the default removal would then halve. So the fine-tune measures, on the user's *training*
photos, how the *start* model scores with less removal (never more: the look may only keep more colour), and
the new model is shown with the best one. The start model is used because it has not learned these photos
(the fine-tuned one would always prefer keeping the tint it was just taught); the held-out photos are not
used, so the refusal check stays unbiased.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe, RenderCache, render
from colorizer.render_settings import RenderSettings
from colorizer.train.data import DataError
from colorizer.train.eval_inputs import photo_input
from colorizer.train.metrics import MetricAccumulator

# Candidate shares of the overall tint to remove; only those up to the start model's own are tried.
CAST_REMOVAL_GRID = (0.0, 0.25, 0.5)
# Less removal must beat the start's own by this much (dB of mean PSNR), so noise keeps the start's look.
MIN_LOOK_GAIN_DB = 0.05


@dataclass(frozen=True)
class LookChoice:
    """The chosen ``cast_removal`` and the start model's mean PSNR on the user's photos for each candidate."""

    cast_removal: float
    start_cast_removal: float
    psnr: dict[float, float]
    photos: int

    def render_defaults(self) -> dict[str, float]:
        """What the fine-tuned weights record (``render_defaults``); empty when the start's look stays."""
        return {} if self.cast_removal == self.start_cast_removal else {"cast_removal": self.cast_removal}

    def to_json(self) -> dict:
        return {"cast_removal": self.cast_removal, "start_cast_removal": self.start_cast_removal,
                "psnr": {str(k): v for k, v in self.psnr.items()}, "photos": self.photos}


def choose_look(start: Colorizer, paths: Sequence[Path],
                report: Callable[[int, int], bool | None] | None = None) -> LookChoice:
    """Render the start model on ``paths`` with each candidate removal (one network run per photo) and keep
    the start's own look unless less removal scores ``MIN_LOOK_GAIN_DB`` higher (mean PSNR, as ``colorizer
    eval``). Unreadable photos are left out (they were screened before; this is only a safeguard). When
    ``report`` returns False (cancel, or finish now) the start's look is kept without measuring further."""
    base: RenderSettings = start.default_settings
    keep = LookChoice(base.cast_removal, base.cast_removal, {}, 0)
    candidates = sorted({c for c in CAST_REMOVAL_GRID if c < base.cast_removal} | {base.cast_removal})
    if len(candidates) == 1:
        return keep  # nothing to choose from: no need to run the network
    scores = {c: MetricAccumulator() for c in candidates}
    measured = 0
    for n, path in enumerate(paths):
        if report is not None and report(n, len(paths)) is False:
            return keep
        try:
            photo = photo_input(path)
        except (DataError, OSError):
            continue
        prediction = start.predict(photo.lightness)
        cache = RenderCache()
        sel = (slice(None),) if photo.mask is None else (photo.mask,)
        for c in candidates:
            result = render(prediction, Recipe(settings=base.replace(cast_removal=c)), cache=cache)
            scores[c].add(result.rgb[sel], photo.truth[sel])
        measured += 1
    if report is not None:
        report(len(paths), len(paths))
    if measured == 0:
        return keep
    psnr = {c: round(float(acc.summary()["psnr"]), 3) for c, acc in scores.items()}
    best = max(candidates, key=lambda c: (psnr[c], c))
    chosen = best if psnr[best] >= psnr[base.cast_removal] + MIN_LOOK_GAIN_DB else base.cast_removal
    return LookChoice(chosen, base.cast_removal, psnr, measured)
