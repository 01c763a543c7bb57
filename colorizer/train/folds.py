"""Cross-validation folds grouped by source package.

A package is a photo's "photographer": its photos share style and subjects, so random splits
flatter a model. Sources with at least ``large`` evaluation photos are left out one at a time; the
smaller ones are pooled into ``pooled`` folds of similar size. Cut-outs (images with transparency)
train in every fold whose sources they do not belong to, but are never scored: users colourise
whole photographs. Nor are photos whose truth has no colour at all (mean chroma below
``MIN_TRUTH_CHROMA``, e.g. a segmentation mask stored as a JPEG): the gray input *is* their truth,
so PSNR is capped there and one such file would outweigh a whole fold; they are listed instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from colorizer.train.data import DataError, load_color_image, mean_chroma, read_manifest_rows

MIN_TRUTH_CHROMA = 0.005


@dataclass(frozen=True)
class Fold:
    """One fold: its name, the source packages it holds out, the photos scored on it, and its
    photos left unscored because their truth is colourless."""

    name: str
    sources: tuple[str, ...]
    photos: tuple[Path, ...]
    colourless: tuple[Path, ...] = ()


def has_transparency(path: Path) -> bool:
    """True for images with an alpha channel (cut-outs); reads the header only."""
    with Image.open(path) as im:
        return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)


def is_colourless(path: Path) -> bool:
    """True when a photo carries no colour to recover (see ``MIN_TRUTH_CHROMA``)."""
    rgb, mask = load_color_image(path, max_side=256)
    return mean_chroma(rgb, mask) < MIN_TRUTH_CHROMA


def grouped_folds(manifest: str | Path, split: str = "train", large: int = 15, pooled: int = 2) -> list[Fold]:
    """Folds over the ``split`` photos of a corpus manifest (see the module docstring).

    Deterministic: large sources in order of size, small ones assigned greedily (largest first) to
    the pooled fold with the fewest photos so far.
    """
    folder, rows = read_manifest_rows(manifest)
    if rows and "source_package" not in rows[0]:
        raise DataError(f"{manifest}: manifest has no 'source_package' column")
    by_source: dict[str, list[Path]] = {}
    for r in rows:
        if r.get("split", split) != split:
            continue
        path = folder / r["file"]
        if not has_transparency(path):
            by_source.setdefault(r["source_package"], []).append(path)
    colourless = {p for paths in by_source.values() for p in paths if is_colourless(p)}
    ordered = sorted(by_source.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    folds = [Fold(src, (src,), tuple(sorted(set(p) - colourless)), tuple(sorted(set(p) & colourless)))
             for src, p in ordered if len(p) >= large]
    small = [(src, p) for src, p in ordered if len(p) < large]
    if small:
        n = max(1, min(pooled, len(small)))
        bins: list[list[tuple[str, list[Path]]]] = [[] for _ in range(n)]
        for src, p in small:
            target = min(range(n), key=lambda b: (sum(len(q) for _, q in bins[b]), b))
            bins[target].append((src, p))
        for b, members in enumerate(bins):
            sources = tuple(sorted(src for src, _ in members))
            photos = {q for _, p in members for q in p}
            folds.append(Fold(f"pooled-{b + 1}", sources, tuple(sorted(photos - colourless)),
                              tuple(sorted(photos & colourless))))
    return folds
