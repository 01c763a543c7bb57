"""Simulate users who "teach it their colours" on the corpus, and measure what they gain and what is forgotten.

For each source package (a "photographer": its photos share style and subjects), a user fine-tunes a
start model on 20-40 of that package's photos with ``colorizer.train.finetune`` (its defaults, its own
held-out tenth for early stopping and the refusal check), from an empty feature cache, then the
start model and the fine-tuned one are measured (PSNR as ``colorizer eval``, each with its own render defaults:
the fine-tuned model's look is chosen on the user's photos, ``colorizer.train.finetune_look``) on:
- ``rest``: the package's other photos (its split=train and split=val ones; never one the user gave);
- ``val``: the split=val photos of the *other* packages (forgetting). The package's own split=val
  photos are left out of this figure: they are part of ``rest``.
Only whole photographs with colour are measured (cut-outs with transparency and photos whose truth
is colourless are left out, as in cross-validation, ``colorizer.train.folds``).

Honesty: the bundled model was trained on all of split=train, every package included, so a fine-tune
measured against it on "the rest of a package" would be measured on the bundled model's own training
photos. Each package therefore starts from its cross-validation fold model, which was trained with the
same recipe as the bundled model on split=train *without that package* (``--init-dir``, default
``runs/cv/e0_base/<package>/weights.safetensors``): neither the start model nor the user's fine-tune has
seen a photo it is measured on, and the start model has never seen the package at all, which is the
user's situation (their family's photos are in no corpus). A package without a fold model is skipped.

To tell what the training taught from what the look gives, the fine-tuned model is also measured on the rest
with the start model's look (``rest_new_start_look``, column "taught"), and the start model with the chosen
look (``rest_start_new_look``, column "look alone"); on split=val the fine-tuned model is measured with its own
look (what a user would see) and with the start model's (``val_new_start_look``: what training forgot).

The minutes are the user's whole ``finetune()`` call (photo checks, feature cache, training, the
held-out comparison), wall clock, with the process's CPU seconds and the 1-minute load average beside
them (other jobs on the machine inflate the wall clock). ``--threads`` sets torch's threads.

Usage: python benchmarks/bench_finetune.py [--sources A,B] [--train-photos N] [--threads T]
       [--steps N --l2sp X --lr X ...] [--json-out FILE] [--md-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from colorizer.pipeline import Colorizer, model_default_settings
from colorizer.train.data import read_manifest_rows
from colorizer.train.finetune import PHASES, FinetuneConfig, finetune
from colorizer.train.folds import has_transparency, is_colourless
from colorizer.train.metrics import evaluate
from colorizer.weights import load_weights, read_metadata

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "corpus"
SOURCES = ("gcompris-qt-data", "opencv-doc", "scratch")
INIT_DIR = ROOT / "runs" / "cv" / "e0_base"


def corpus_photos(corpus: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(source -> whole photos of split=train and val, source -> its split=val photos), sorted."""
    folder, rows = read_manifest_rows(corpus)
    by_source: dict[str, list[Path]] = {}
    val: dict[str, list[Path]] = {}
    for r in rows:
        path = folder / r["file"]
        if r.get("split") not in ("train", "val") or has_transparency(path):
            continue
        by_source.setdefault(r["source_package"], []).append(path)
        if r["split"] == "val":
            val.setdefault(r["source_package"], []).append(path)
    return {k: sorted(v) for k, v in by_source.items()}, {k: sorted(v) for k, v in val.items()}


def choose(photos: list[Path], n_train: int, max_rest: int, seed: int, source: str) -> tuple[list[Path], list[Path]]:
    """(the user's photos, the package's rest to measure on), a seeded draw per package."""
    rng = np.random.default_rng([seed, sum(source.encode())])
    order = [photos[int(i)] for i in rng.permutation(len(photos))]
    return sorted(order[:n_train]), sorted(order[n_train:n_train + max_rest])


def mean_psnr(weights, photos: list[Path], working_size: int, settings=None) -> float:
    """Mean PSNR (as ``colorizer eval``; ``settings`` default to the model's own) of ``weights`` on ``photos``,
    computed now: scores are never cached between runs, since they depend on the rendering code as much as on
    the model."""
    res = evaluate(Colorizer(weights, device="cpu", working_size=working_size), photos, settings)
    return round(float(res["model"]["psnr"]), 3)


def run_source(source: str, photos: list[Path], val_others: list[Path], init: Path, config: FinetuneConfig,
               args: argparse.Namespace) -> dict:
    """One simulated user: fine-tune on part of ``source`` and measure on its rest and on ``val_others``."""
    n_train = min(args.train_photos, len(photos) - args.min_rest)
    mine, rest = choose(photos, n_train, args.max_rest, args.seed, source)
    rest = [p for p in rest if not is_colourless(p)]
    start = load_weights(init)
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        cfg = config if args.warm else replace(config, cache_dir=str(Path(tmp) / "cache"))
        load0, t0, cpu0 = os.getloadavg()[0], time.time(), time.process_time()
        res = finetune(mine, Path(tmp) / "mine.safetensors", init=init, config=cfg)
        minutes, cpu_minutes, load1 = (time.time() - t0) / 60, (time.process_time() - cpu0) / 60, os.getloadavg()[0]
    new = res.model
    row = {"source": source, "start": f"{init.parent.name}/{init.name}", "photos_given": len(mine),
           "photos": res.photos, "held_out": res.held_out, "skipped": res.skipped,
           "minutes": round(minutes, 2), "cpu_minutes": round(cpu_minutes, 2),
           "load_before": round(load0, 2), "load_after": round(load1, 2), "phase_seconds": res.phase_seconds,
           "written": res.written is not None, "steps": res.steps, "best_step": res.best_step,
           "held_out_start": res.start, "held_out_new": res.new, "rest_photos": len(rest), "val_photos": len(val_others),
           "start_sha256": read_metadata(init)["sha256"][:16], "look": res.look}
    ws = args.working_size
    start_look = model_default_settings(start)
    row.update(rest_start=mean_psnr(start, rest, ws), rest_new=mean_psnr(new, rest, ws),
               rest_new_start_look=mean_psnr(new, rest, ws, start_look),
               rest_start_new_look=mean_psnr(start, rest, ws, model_default_settings(new)),
               val_start=mean_psnr(start, val_others, ws), val_new=mean_psnr(new, val_others, ws),
               val_new_start_look=mean_psnr(new, val_others, ws, start_look))
    row["rest_gain"] = round(row["rest_new"] - row["rest_start"], 3)
    row["taught_gain"] = round(row["rest_new_start_look"] - row["rest_start"], 3)
    row["look_gain"] = round(row["rest_start_new_look"] - row["rest_start"], 3)
    row["val_gain"] = round(row["val_new"] - row["val_start"], 3)
    row["val_forgot"] = round(row["val_new_start_look"] - row["val_start"], 3)
    return row


def summarise(rows: list[dict]) -> dict:
    """Means over the packages, as trained and as delivered (a refused model leaves the start model)."""
    def mean(key: str, delivered: bool = False) -> float:
        return round(float(np.mean([r[key] if (r["written"] or not delivered) else 0.0 for r in rows])), 3)

    return {**{key: mean(key) for key in ("rest_gain", "taught_gain", "look_gain", "val_forgot", "val_gain")},
            "max_minutes": max(r["minutes"] for r in rows), "max_cpu_minutes": max(r["cpu_minutes"] for r in rows),
            "delivered_rest_gain": mean("rest_gain", True), "delivered_val_gain": mean("val_gain", True)}


def look_text(look: dict) -> str:
    """The chosen neutral balance, with the start model's when it differs ("-" when none was chosen)."""
    if not look:
        return "-"
    chosen, start = look["cast_removal"], look["start_cast_removal"]
    return f"{chosen:g}" if chosen == start else f"{chosen:g} (start {start:g})"


def format_table(rows: list[dict], summary: dict) -> str:
    """A Markdown table: one row per package, then the means against the issue's targets."""
    phases = " / ".join(p.split()[0] for p in PHASES)
    lines = ["| source | photos (train+held-out) / rest / val | minutes (CPU min, load) | seconds per phase "
             f"({phases}) | kept | best step | look (neutral balance) | rest PSNR start → new | gain | taught | look alone | "
             "val PSNR start → new | gain | with the start's look |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        secs = " / ".join(f"{r['phase_seconds'].get(p, 0):.0f}" for p in PHASES)
        lines.append(f"| {r['source']} | {r['photos']}+{r['held_out']} / {r['rest_photos']} / {r['val_photos']} | "
                     f"{r['minutes']:.1f} ({r['cpu_minutes']:.1f}, {r['load_before']:.1f}) | {secs} | "
                     f"{'yes' if r['written'] else 'no'} | {r['best_step']}/{r['steps']} | {look_text(r['look'])} | "
                     f"{r['rest_start']:.2f} → {r['rest_new']:.2f} | {r['rest_gain']:+.2f} | {r['taught_gain']:+.2f} | {r['look_gain']:+.2f} | "
                     f"{r['val_start']:.2f} → {r['val_new']:.2f} | {r['val_gain']:+.2f} | {r['val_forgot']:+.2f} |")
    lines.append("")
    lines.append(f"Mean gain on the packages' rest {summary['rest_gain']:+.2f} dB (target ≥ +0.5; taught by the "
                 f"training alone, with the start model's look: {summary['taught_gain']:+.2f}; the chosen look alone, "
                 f"on the start model: {summary['look_gain']:+.2f}), on split=val "
                 f"{summary['val_gain']:+.2f} dB (target ≥ −0.2; with the start model's look "
                 f"{summary['val_forgot']:+.2f}); slowest fine-tune {summary['max_minutes']:.1f} min "
                 f"wall, {summary['max_cpu_minutes']:.1f} CPU min (target ≤ 5 min). As delivered (a refused model "
                 f"leaves the start model): rest {summary['delivered_rest_gain']:+.2f}, "
                 f"val {summary['delivered_val_gain']:+.2f}.")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--init-dir", type=Path, default=INIT_DIR,
                   help="fold models: INIT_DIR/<package>/weights.safetensors never saw <package> (default: %(default)s)")
    p.add_argument("--sources", default=",".join(SOURCES))
    p.add_argument("--train-photos", type=int, default=30, help="photos per user (default 30)")
    p.add_argument("--min-rest", type=int, default=8, help="photos a package keeps for measuring at least")
    p.add_argument("--max-rest", type=int, default=40, help="photos of a package's rest measured at most")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    p.add_argument("--warm", action="store_true", help="share a feature cache between runs (tuning; not the user's time)")
    p.add_argument("--cache-dir", type=Path, default=ROOT / "runs" / "finetune-cache", help="feature cache for --warm")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--json-out", type=Path)
    p.add_argument("--md-out", type=Path)
    defaults = FinetuneConfig()
    p.add_argument("--keep-look", action="store_true", help="no look choice (the fine-tune's choose_look off)")
    for name in ("steps", "lr", "l2sp", "augs_per_image", "pixel_batch", "check_every", "head_scope"):
        p.add_argument("--" + name.replace("_", "-"), type=type(getattr(defaults, name)), default=getattr(defaults, name))
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = FinetuneConfig(steps=args.steps, lr=args.lr, l2sp=args.l2sp, augs_per_image=args.augs_per_image,
                            pixel_batch=args.pixel_batch, check_every=args.check_every, head_scope=args.head_scope,
                            choose_look=not args.keep_look,
                            device="cpu", threads=args.threads, cache_dir=str(args.cache_dir / "features"),
                            working_size=args.working_size)
    by_source, val = corpus_photos(args.corpus)
    rows = []
    for source in [s for s in args.sources.split(",") if s]:
        photos = by_source.get(source, [])
        init = args.init_dir / source / "weights.safetensors"
        if len(photos) < 12 + args.min_rest or not init.is_file():
            print(f"skipping {source}: {len(photos)} photos" + ("" if init.is_file() else f", no fold model {init}"),
                  file=sys.stderr)
            continue
        val_others = [q for s, ps in sorted(val.items()) if s != source for q in ps if not is_colourless(q)]
        rows.append(run_source(source, photos, val_others, init, config, args))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if not rows:
        print("no package has enough photos and a fold model", file=sys.stderr)
        return 1
    summary = summarise(rows)
    report = {"what": "fine-tune from each package's cross-validation fold model (never saw the package); rest = the "
                      "package's other photos; val = split=val photos of the other packages",
              "config": {k: v for k, v in vars(config).items() if k not in ("cache_dir", "overrides")},
              "threads": args.threads or torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "warm_cache": args.warm, "rows": rows, "summary": summary}
    table = format_table(rows, summary)
    print(table, file=sys.stderr)
    print(json.dumps(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1))
    if args.md_out:
        args.md_out.parent.mkdir(parents=True, exist_ok=True)
        args.md_out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
