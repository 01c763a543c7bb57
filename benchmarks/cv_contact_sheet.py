"""Before/after contact sheet of the worst cross-validation photos: each photo is colourised by the
fold models that never saw it (one run "before", one "after").

Usage: python benchmarks/cv_contact_sheet.py BEFORE AFTER OUT.png [--worst N] [--settings-before I]
       [--settings-after J] [--after-render k=v,...] [--photos NAME,...]
Rows: gray input | before | after | truth, for the N photos that BEFORE did worst on (PSNR gain
over the gray input, clean inputs, final models), worst first. BEFORE and AFTER are run names
under runs/cv/. The after column is rendered with --after-render settings (default: the defaults).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from colorizer.imageio import save_image
from colorizer.pipeline import RenderSettings
from colorizer.recipe import Recipe, render
from colorizer.train.fold_scoring import ScoreBook, ScoringSetup, dense_features, photo_input, predict_from_features
from colorizer.train.folds import grouped_folds
from colorizer.visual import contact_row, contact_sheet
from colorizer.weights import load_weights

CORPUS = "../shared/data/corpus/MANIFEST.tsv"


def photo_gains(run: str, settings: int) -> dict[Path, tuple[str, float]]:
    """Photo -> (fold name, PSNR gain over gray) for the final model of ``run`` on clean inputs."""
    out = {}
    for fold in grouped_folds(CORPUS):
        store = Path("runs/cv") / run / fold.name / "scores.pt"
        if not store.is_file():
            continue
        book = ScoreBook.from_state(torch.load(store, weights_only=True)["book"])
        model, gray = book.model[("final", "clean", settings)], book.gray["clean"]
        for path, m, g in zip(fold.photos, model.psnrs, gray.psnrs):
            out[path] = (fold.name, m - g)
    return out


def colourise(run: str, fold: str, path: Path, settings: RenderSettings, setup: ScoringSetup) -> tuple[np.ndarray, np.ndarray]:
    """(gray input, colourised) of ``path`` by ``run``'s model of ``fold`` (which never saw it)."""
    weights = load_weights(Path("runs/cv") / run / fold / "weights.safetensors")
    photo = photo_input(path, "clean", setup.max_side)
    working, feats = dense_features(weights.model, photo, "clean", setup)
    pred = predict_from_features(weights.model, weights.scheme, feats, photo, working)
    return np.repeat(photo.lightness[..., None], 3, -1), render(pred, Recipe(settings=settings)).rgb


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("out")
    p.add_argument("--worst", type=int, default=8)
    p.add_argument("--settings-before", type=int, default=0)
    p.add_argument("--settings-after", type=int, default=0)
    p.add_argument("--before-render", default="")
    p.add_argument("--after-render", default="")
    p.add_argument("--photos", default="", help="these photo file names instead of the worst ones")
    a = p.parse_args(argv)
    parse = lambda spec: RenderSettings().replace(**{k: float(v) for k, v in (kv.split("=") for kv in spec.split(",") if kv)})
    setup = ScoringSetup(cache_dir=Path("runs/cache"))
    gains = photo_gains(a.before, a.settings_before)
    after_gains = photo_gains(a.after, a.settings_after)
    if a.photos:
        wanted = set(a.photos.split(","))
        chosen = [q for q in gains if q.name in wanted]
    else:
        chosen = sorted(gains, key=lambda q: gains[q][1])[: a.worst]
    rows = []
    for path in chosen:
        fold = gains[path][0]
        gray, before = colourise(a.before, fold, path, parse(a.before_render), setup)
        _, after = colourise(a.after, fold, path, parse(a.after_render), setup)
        truth = photo_input(path, "clean", setup.max_side).truth
        after_text = f"after {after_gains[path][1]:+.1f} dB" if path in after_gains else "after"
        rows.append(contact_row([gray, before, after, truth], labels=[
            path.name[-40:], f"before {gains[path][1]:+.1f} dB", after_text, "truth"]))
        print(f"{path.name}: before gain {gains[path][1]:+.2f} dB (fold {fold})", file=sys.stderr)
    save_image(Path(a.out), contact_sheet(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
