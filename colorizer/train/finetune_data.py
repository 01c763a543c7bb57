"""A user's colour photos for fine-tuning: find them, screen out the unusable ones (with a count per
reason, never a crash), and hold out a deterministic tenth for early stopping and the final check.

Photos are known by their content (:func:`colorizer.train.data.file_key`), so a copy under another
name is a duplicate, and the held-out choice does not depend on file names or their order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from colorizer.train.data import DataError, find_images, file_key, is_near_gray, load_color_image

# Why a photo was not used (keys of ``Screening.skipped``), in the order they are checked.
SKIP_REASONS = ("unreadable", "duplicate", "tiny", "transparent", "near-gray")


@dataclass
class Screening:
    """The usable photos (sorted by path) with their content keys, and the skipped ones by reason
    (``skipped[reason]`` lists ``(path, detail)``)."""

    usable: list[Path] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def skipped_counts(self) -> dict[str, int]:
        """How many photos were skipped for each reason (reasons with none are left out)."""
        return {reason: len(items) for reason, items in self.skipped.items() if items}

    @property
    def found(self) -> int:
        return len(self.usable) + sum(self.skipped_counts.values())

    def skip(self, reason: str, path: Path, detail: str) -> None:
        self.skipped.setdefault(reason, []).append((str(path), detail))


def collect_photos(inputs: Sequence[str | Path]) -> list[Path]:
    """Every image file under the given folders (recursive) plus the files named directly, sorted,
    each once. Raises :class:`DataError` naming an input that does not exist."""
    for item in inputs:
        if not Path(item).exists():
            raise DataError(f"{item}: no such file or folder")
    return find_images(list(inputs))


def screen_photos(paths: Sequence[Path], min_side: int = 128, gray_threshold: float = 0.03, min_opaque: int = 4096,
                  report: Callable[[int, int], None] | None = None) -> Screening:
    """Sort ``paths`` into usable photos and skipped ones: unreadable, duplicate (same content as an
    earlier path), tiny (shorter side below ``min_side`` after the trainer's size limit), transparent
    (fewer than ``min_opaque`` opaque pixels) and near-gray (mean chroma below ``gray_threshold``).
    ``report(done, total)`` is called after each file (it may raise to cancel)."""
    out = Screening()
    seen: dict[str, Path] = {}
    for n, path in enumerate(paths):
        try:
            key = file_key(path)
        except OSError as exc:
            out.skip("unreadable", path, f"{path}: cannot read ({exc.strerror or exc})")
            key = None
        if key is not None and key in seen:
            out.skip("duplicate", path, f"same photo as {seen[key]}")
        elif key is not None:
            reason, detail = _check_photo(path, min_side, gray_threshold, min_opaque)
            if reason is None:
                seen[key] = path
                out.usable.append(path)
                out.keys.append(key)
            else:
                out.skip(reason, path, detail)
        if report is not None:
            report(n + 1, len(paths))
    return out


def _check_photo(path: Path, min_side: int, gray_threshold: float, min_opaque: int) -> tuple[str | None, str]:
    """(reason, detail) why one photo cannot be used, or (None, "") when it can."""
    try:
        rgb, mask = load_color_image(path)
    except DataError as exc:
        return "unreadable", str(exc)
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        return "tiny", f"{w}x{h} pixels, the shorter side is below {min_side}"
    if mask is not None and int(mask.sum()) < min_opaque:
        return "transparent", f"only {int(mask.sum())} opaque pixels"
    if is_near_gray(rgb, mask, gray_threshold):
        return "near-gray", "almost no colour (a black-and-white photo?)"
    return None, ""


def holdout_count(n: int, share: float = 0.1, minimum: int = 2) -> int:
    """How many of ``n`` usable photos are held out: ``share`` of them, rounded, at least ``minimum``."""
    return max(minimum, int(round(n * share)))


def split_holdout(photos: Sequence[Path], keys: Sequence[str], count: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices) into ``photos``: ``count`` photos held out, chosen by a
    seeded shuffle of the content keys (the same photos give the same split whatever their names)."""
    order = sorted(range(len(photos)), key=lambda i: keys[i])
    perm = np.random.default_rng([seed, 1207]).permutation(len(order))
    held = sorted(order[int(j)] for j in perm[:count])
    held_set = set(held)
    return [i for i in range(len(photos)) if i not in held_set], held


def photos_digest(keys: Sequence[str]) -> str:
    """A hash of a set of photos (their sorted content keys): the same photos give the same hash."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
