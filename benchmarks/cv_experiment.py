"""Cross-validate a training recipe (grouped by source package) and print the JSON report.

Usage: python benchmarks/cv_experiment.py NAME [key=value ...] [--settings "k=v,k=v" ...] [--folds A,B]
Keys are TrainConfig fields (the base is the bundled model's recipe); results go to runs/cv/NAME/.
Caches (crops per photo, dense features per photo) are shared in runs/cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import torch

from colorizer.render_settings import RenderSettings
from colorizer.train.crossval import CVConfig, cross_validate
from colorizer.train.cv_command import format_cv_table, parse_value
from colorizer.train.config import TrainConfig

CORPUS = "../shared/data/corpus/MANIFEST.tsv"
BASE = dict(backbone="lite1", augs_per_image=8, lr=1e-3, weight_decay=0.05, dropout=0.6, steps=600, save_at=(300,),
            threads=2, checkpoint_every=200)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--settings", nargs="*", default=[""])
    p.add_argument("--folds", default="")
    p.add_argument("--variants", default="clean,old_print")
    p.add_argument("--calibrate", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    base = TrainConfig(**BASE)
    names = {f.name for f in fields(TrainConfig)}
    changes = {}
    for kv in a.overrides:
        k, v = kv.split("=", 1)
        if k not in names:
            raise SystemExit(f"unknown TrainConfig field {k}")
        value = parse_value(getattr(base, k), v)
        changes[k] = tuple(int(x) for x in value) if k == "save_at" else value
    base = TrainConfig(**{**{f: getattr(base, f) for f in names}, **changes})
    settings = tuple(RenderSettings().replace(**{k: (v if k == "method" else float(v))
                                                 for k, v in (kv.split("=") for kv in spec.split(",") if kv)})
                     for spec in a.settings)
    cv = CVConfig(out_dir=Path("runs/cv") / a.name, cache_dir=Path("runs/cache"), manifest=CORPUS, settings=settings,
                  folds=tuple(x for x in a.folds.split(",") if x), variants=tuple(a.variants.split(",")),
                  calibrate=a.calibrate)
    report = cross_validate(base, cv, progress=lambda m: print(m, file=sys.stderr, flush=True))
    report["recipe"] = changes
    out = cv.out_dir / "report.json"
    out.write_text(json.dumps(report, indent=1))
    print(format_cv_table(report), file=sys.stderr)
    for r in report["results"]:
        o = r["overall"]
        print(f"{r['model']:8s} {r['variant']:9s} s{r['settings']} gain {o['psnr_gain']:+.2f} dB  ab {o['ab_rmse']:.2f} "
              f"(gray {o['gray_ab_rmse']:.2f})  auc {o['auc']:.3f}  colourf {o['colorfulness_ratio']:.2f}  "
              f"worse3dB {o['worse_than_gray_3db']:.1%}  worst fold {o['worst_fold_gain']:+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
