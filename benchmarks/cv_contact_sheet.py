"""Before/after contact sheet of the worst cross-validation photos: each photo is colourised by the
fold models that never saw it (one run "before", one "after").

Usage: python benchmarks/cv_contact_sheet.py BEFORE AFTER OUT.png [--worst N] [--settings-before I]
       [--after-render k=v,...] [--photos NAME,...]
Rows: gray input | before | after | truth, for the N photos that BEFORE did worst on (PSNR gain
over the gray input, clean inputs, final models), worst first, or the --photos named. BEFORE and AFTER
are run names under runs/cv/ (the same run compares two renderings). The columns are rendered with
--before-render / --after-render settings (default: the defaults); their labels give each picture's
PSNR gain over the gray input, computed here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from colorizer.imageio import save_image
from colorizer.recipe import Recipe, render
from colorizer.render_settings import RenderSettings
from colorizer.train.fold_scoring import ScoreBook, ScoringSetup, dense_features, photo_input, predict_from_features
from colorizer.train.folds import grouped_folds
from colorizer.train.metrics import psnr
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


def gain_over_gray(rgb: np.ndarray, gray: np.ndarray, truth: np.ndarray, mask: np.ndarray | None) -> float:
    """PSNR gain (dB) of ``rgb`` over the gray input, on the photo's valid pixels (as the scores count)."""
    sel = (lambda x: x) if mask is None else (lambda x: x[mask])
    return psnr(sel(rgb), sel(truth)) - psnr(sel(gray), sel(truth))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("out")
    p.add_argument("--worst", type=int, default=8)
    p.add_argument("--settings-before", type=int, default=0)
    p.add_argument("--before-render", default="")
    p.add_argument("--after-render", default="")
    p.add_argument("--photos", default="", help="these photo file names instead of the worst ones")
    a = p.parse_args(argv)
    parse = lambda spec: RenderSettings().replace(**{k: float(v) for k, v in (kv.split("=") for kv in spec.split(",") if kv)})
    setup = ScoringSetup(cache_dir=Path("runs/cache"))
    gains = photo_gains(a.before, a.settings_before)
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
        photo = photo_input(path, "clean", setup.max_side)
        gain = lambda rgb: gain_over_gray(rgb, gray, photo.truth, photo.mask)
        rows.append(contact_row([gray, before, after, photo.truth], labels=[
            path.name[-40:], f"before {gain(before):+.1f} dB", f"after {gain(after):+.1f} dB", "truth"]))
        print(f"{path.name}: gain before {gain(before):+.2f} dB, after {gain(after):+.2f} dB (fold {fold})",
              file=sys.stderr)
    save_image(Path(a.out), contact_sheet(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
