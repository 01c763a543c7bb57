"""``colorizer eval --cv``: cross-validate the training recipe of a weights file, grouped by source
package (see :mod:`colorizer.train.crossval`). Prints the JSON report on stdout and a table on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from colorizer.train.config import TrainConfig
from colorizer.train.fold_scoring import SCORED_SIDE

# Recipe fields that describe where a run lived, not how it trained: never taken from a weights file.
PLACE_FIELDS = {"out", "run_dir", "cache_dir", "data", "manifest", "split", "exclude_sources", "val_data", "val_split",
                "resume", "quiet", "final_eval", "keep_best", "device", "init"}


def add_cv_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--cv`` options of ``colorizer eval``."""
    g = p.add_argument_group("cross-validation (--cv)")
    g.add_argument("--cv", action="store_true",
                   help="retrain the recipe of --weights with each fold of source packages left out and score "
                        "the left-out photos (clean and old-print inputs); folds are made of the manifest's "
                        "split=train photos; needs --manifest")
    g.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="change the recipe (TrainConfig fields, e.g. members=5 old_print=0.5)")
    g.add_argument("--cv-dir", default=None, help="fold weights and scores (default: runs/cv/<weights stem>)")
    g.add_argument("--cache-dir", default="runs/cache", help="per-photo feature caches shared by all runs")
    g.add_argument("--folds", default="", help="only these folds (comma-separated names)")
    g.add_argument("--fold-min-photos", type=int, default=15,
                   help="sources with at least this many photos are left out alone; smaller ones are pooled")
    g.add_argument("--pooled-folds", type=int, default=2, help="how many folds the small sources are pooled into")
    g.add_argument("--calibrate", action="store_true", help="also fit temperatures on the other folds (nested)")
    g.add_argument("--max-side", type=int, default=SCORED_SIDE, help="longest side of the scored photos")
    g.add_argument("--variants", default="clean,old_print", help="input variants to score")


def recipe_of(weights: str | None, overrides: list[str]) -> TrainConfig:
    """The TrainConfig that produced ``weights`` (its recorded recipe), with ``KEY=VALUE`` overrides."""
    from colorizer.weights import load_weights

    loaded = load_weights(weights)
    recorded = (loaded.training or {}).get("recipe")
    if not isinstance(recorded, dict):
        raise ValueError(f"{loaded.path}: the weights file records no training recipe to cross-validate")
    names = {f.name: f for f in fields(TrainConfig)}
    values = {k: v for k, v in recorded.items() if k in names and k not in PLACE_FIELDS}
    values.setdefault("robust_steps", 0)  # recorded before the phase existed: the model had none
    defaults = TrainConfig()
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--set {item}: expected KEY=VALUE with KEY a training option")
        values[key] = parse_value(getattr(defaults, key), text)
    return TrainConfig(**values)


def parse_value(current: object, text: str) -> object:
    """``text`` as the type of the option's default (bool, int, float, tuple or str)."""
    if isinstance(current, bool):
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"expected true or false, not {text!r}")
        return text.lower() in ("1", "true", "yes")
    if isinstance(current, tuple):
        return tuple(x for x in text.split(",") if x)
    if isinstance(current, (int, float)):
        return type(current)(text)
    if current is None:
        return None if text.lower() == "none" else (int(text) if text.lstrip("-").isdigit() else text)
    return text


def run_cv(args: argparse.Namespace, settings) -> int:
    """Run the cross-validation that ``args`` asks for; report as JSON on stdout."""
    from colorizer.train.crossval import CVConfig, cross_validate

    if not args.manifest:
        print("colorizer eval --cv: give --manifest MANIFEST.tsv (folds are made from its source packages)",
              file=sys.stderr)
        return 2
    base = recipe_of(args.weights, args.set)
    name = Path(args.weights).stem if args.weights else "bundled"
    cv = CVConfig(out_dir=Path(args.cv_dir or Path("runs/cv") / name), cache_dir=Path(args.cache_dir),
                  manifest=args.manifest, split="train", large=args.fold_min_photos, pooled=args.pooled_folds,
                  max_side=args.max_side, working_size=args.working_size, settings=(settings,),
                  variants=tuple(v for v in args.variants.split(",") if v),
                  folds=tuple(f for f in args.folds.split(",") if f), calibrate=args.calibrate)
    say = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    report = cross_validate(base, cv, progress=say)
    print(json.dumps(report))
    if not args.json:
        print(format_cv_table(report), file=sys.stderr)
    return 0


def format_cv_table(report: dict) -> str:
    """Per fold and overall figures of the final model (and the calibrated one), one block per variant."""
    lines = []
    for r in report["results"]:
        if r["model"] not in ("final", "calibrated"):
            continue
        lines.append(f"{r['model']} model, {r['variant']} inputs")
        lines.append(f"  {'fold':18s} {'photos':>6s} {'PSNR gain':>9s} {'ab RMSE':>8s} {'gray':>6s} {'AuC':>6s} "
                     f"{'colourf.':>8s} {'>3 dB worse':>11s}")
        for name, f in list(r["per_fold"].items()) + [("overall", r["overall"])]:
            lines.append(f"  {name[:18]:18s} {f['photos']:6d} {f['psnr_gain']:+9.2f} {f['ab_rmse']:8.2f} "
                         f"{f['gray_ab_rmse']:6.2f} {f['auc']:6.3f} {f['colorfulness_ratio']:8.2f} "
                         f"{f['worse_than_gray_3db']:11.1%}")
    return "\n".join(lines)
