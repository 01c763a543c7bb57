"""Contact sheet of old-print inputs coloured by two models (e.g. before/after the old-print
robustness phase), on photos neither was trained on (the corpus's split=val by default).

Usage: python benchmarks/old_print_sheet.py BEFORE.safetensors AFTER.safetensors OUT.png [--worst N]
Rows: old-print input | before | after | truth, for the N photos whose old-print ab RMSE differs most
between the two models (both directions: the N/2 where AFTER gains most, then the N/2 where it loses
most), each labelled with its ab RMSE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from colorizer.imageio import save_image
from colorizer.recipe import Recipe, render
from colorizer.train.data import read_manifest
from colorizer.train.fold_scoring import ScoringSetup, dense_features, photo_input, predict_from_features
from colorizer.train.metrics import ab_errors
from colorizer.visual import contact_row, contact_sheet
from colorizer.weights import load_weights

CORPUS = "../shared/data/corpus/MANIFEST.tsv"


def colourise(weights, photo, setup: ScoringSetup) -> np.ndarray:
    working, feats = dense_features(weights.model, photo, "old_print", setup)
    return render(predict_from_features(weights.model, weights.scheme, feats, photo, working), Recipe()).rgb


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("out")
    p.add_argument("--split", default="val")
    p.add_argument("--worst", type=int, default=6)
    a = p.parse_args(argv)
    setup = ScoringSetup(cache_dir=Path("runs/cache"))
    models = [load_weights(a.before), load_weights(a.after)]
    rows = []
    for path in read_manifest(CORPUS, a.split):
        photo = photo_input(path, "old_print", setup.max_side)
        if photo.mask is not None:
            continue
        outs = [colourise(m, photo, setup) for m in models]
        errs = [float(np.sqrt(np.mean(ab_errors(o, photo.truth) ** 2))) for o in outs]
        rows.append((errs[1] - errs[0], photo, outs, errs, path.name))
        print(f"{path.name}: ab RMSE before {errs[0]:.2f} after {errs[1]:.2f}", file=sys.stderr)
    rows.sort(key=lambda r: r[0])
    half = a.worst // 2
    chosen = rows[:half] + rows[-(a.worst - half):]
    tiles = [contact_row([np.repeat(ph.lightness[..., None], 3, -1), outs[0], outs[1], ph.truth],
                         labels=[name[-36:], f"before ab {e[0]:.1f}", f"after ab {e[1]:.1f}", "truth"])
             for _, ph, outs, e, name in chosen]
    save_image(Path(a.out), contact_sheet(tiles))
    before, after = np.mean([r[3][0] for r in rows]), np.mean([r[3][1] for r in rows])
    print(f"{len(rows)} photos: mean old-print ab RMSE before {before:.2f}, after {after:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
