"""Cross-validation grouped by source package: retrain a recipe with each fold's sources left out,
score the left-out photos (clean and "old print" inputs) under one or more render settings, and
report per fold and overall.

Everything is resumable and cached: each photo's training crops and dense evaluation features are
computed once (the backbone is frozen), a fold whose weights exist is not retrained, and a fold's
scores are stored beside its weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import torch

from colorizer.pipeline import WORKING_SIZE
from colorizer.render_settings import RenderSettings
from colorizer.train.calibration import fit_temperatures, hue_reliability
from colorizer.train.fold_scoring import SCORED_SIDE, ScoreBook, ScoringSetup, merge, score_photos, summarise
from colorizer.train.folds import Fold, grouped_folds
from colorizer.train.storage import atomic_torch_save
from colorizer.train.config import TrainConfig
from colorizer.train.trainer import snapshot_path, train
from colorizer.weights import load_weights


@dataclass(frozen=True)
class CVConfig:
    """A cross-validation run: where it lives, how folds are made, how photos are scored."""

    out_dir: Path
    cache_dir: Path
    manifest: str
    split: str = "train"
    large: int = 15
    pooled: int = 2
    max_side: int = SCORED_SIDE
    working_size: int = WORKING_SIZE
    variants: tuple[str, ...] = ("clean", "old_print")
    settings: tuple[RenderSettings, ...] = (RenderSettings(),)
    folds: tuple[str, ...] = ()
    calibrate: bool = False

    def scoring(self) -> ScoringSetup:
        return ScoringSetup(cache_dir=Path(self.cache_dir), max_side=self.max_side, working_size=self.working_size,
                            variants=self.variants)


@dataclass
class FoldResult:
    """A fold's models (name -> weights file), its score book and how long training took."""

    fold: Fold
    weights: dict[str, Path]
    book: ScoreBook
    train_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def fold_train_config(base: TrainConfig, fold: Fold, cv: CVConfig) -> TrainConfig:
    """The base recipe with the fold's sources left out, no split=val involvement, resumable."""
    run = Path(cv.out_dir) / fold.name
    return replace(base, manifest=cv.manifest, split=cv.split, exclude_sources=fold.sources, val_split=None,
                   val_data=[], out=str(run / "weights.safetensors"), run_dir=str(run), cache_dir=str(cv.cache_dir),
                   final_eval=False, keep_best=False, resume=True, quiet=True)


def train_fold(base: TrainConfig, fold: Fold, cv: CVConfig) -> tuple[dict[str, Path], float]:
    """Train (or reuse) a fold's model; returns its weights files (snapshots and final) and seconds."""
    cfg = fold_train_config(base, fold, cv)
    out = Path(cfg.out)
    seconds = 0.0
    if not out.is_file():
        result = train(cfg)
        seconds = result.seconds
    else:
        seconds = float(load_weights(out).training.get("train_seconds", 0.0))
    files = {f"step{s}": snapshot_path(out, s) for s in cfg.save_at if snapshot_path(out, s).is_file()}
    files["final"] = out
    return files, seconds


def run_fold(base: TrainConfig, fold: Fold, cv: CVConfig, progress: Callable[[str], None] | None = None) -> FoldResult:
    """Train and score one fold (scores are reused when the stored ones match the settings)."""
    weights, seconds = train_fold(base, fold, cv)
    store = Path(cv.out_dir) / fold.name / "scores.pt"
    key = json.dumps({"settings": [s.as_dict() for s in cv.settings], "variants": list(cv.variants),
                      "photos": [p.name for p in fold.photos],
                      "max_side": cv.max_side, "working_size": cv.working_size,
                      "weights": {k: str(v) for k, v in weights.items()}}, sort_keys=True, default=str)
    if store.is_file():
        saved = torch.load(store, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            return FoldResult(fold, weights, ScoreBook.from_state(saved["book"]), seconds)
    models = {name: load_weights(path) for name, path in weights.items()}
    t0 = time.time()
    book = score_photos(models, fold.photos, cv.scoring(), cv.settings)
    if progress:
        progress(f"{fold.name}: scored {len(fold.photos)} photos in {time.time() - t0:.0f} s")
    atomic_torch_save({"key": key, "book": book.to_state()}, store)
    return FoldResult(fold, weights, book, seconds)


def cross_validate(base: TrainConfig, cv: CVConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Run every fold and report per fold and overall (photos of all folds pooled), for each model
    snapshot, input variant and render settings."""
    folds = grouped_folds(cv.manifest, cv.split, cv.large, cv.pooled)
    if cv.folds:
        unknown = set(cv.folds) - {f.name for f in folds}
        if unknown:
            raise ValueError(f"unknown folds {sorted(unknown)}; folds are {', '.join(f.name for f in folds)}")
        folds = [f for f in folds if f.name in cv.folds]
    results = []
    for fold in folds:
        t0 = time.time()
        results.append(run_fold(base, fold, cv, progress))
        if progress:
            progress(f"{fold.name}: done in {time.time() - t0:.0f} s")
    out = report(results, cv) if not cv.calibrate else report(results, cv, calibrate_folds(results, cv, progress))
    return out


def calibrate_folds(results: Sequence[FoldResult], cv: CVConfig,
                    progress: Callable[[str], None] | None = None) -> dict:
    """Nested calibration: each fold's final model gets temperatures fitted on the *other* folds'
    held-out pixels and is scored again as model ``calibrated``; returns the temperatures and the
    hue reliability before and after."""
    temps: dict[str, tuple[float, ...]] = {}
    before, after = [], []
    for r in results:
        others = [s for o in results if o is not r for s in o.book.calibration.get(("final", "clean"), [])]
        loaded = load_weights(r.weights["final"])
        t = fit_temperatures(others, loaded.scheme.channels)
        temps[r.fold.name] = t
        loaded.model.config.temperatures = t
        store = Path(cv.out_dir) / r.fold.name / "calibrated_scores.pt"
        key = json.dumps({"t": t, "settings": [s.as_dict() for s in cv.settings], "variants": list(cv.variants)},
                         sort_keys=True)
        saved = torch.load(store, map_location="cpu", weights_only=True) if store.is_file() else {}
        if saved.get("key") == key:
            book = ScoreBook.from_state(saved["book"])
        else:
            book = score_photos({"calibrated": loaded}, r.fold.photos, cv.scoring(), cv.settings)
            atomic_torch_save({"key": key, "book": book.to_state()}, store)
        r.book.model.update(book.model)
        mine = r.book.calibration.get(("final", "clean"), [])
        before += mine
        after += book.calibration.get(("calibrated", "clean"), [])
        if progress:
            progress(f"{r.fold.name}: calibrated with T = {t}")
    return {"temperatures": temps, "all_folds": fit_temperatures(before, loaded.scheme.channels),
            "hue_reliability_before": hue_reliability(before), "hue_reliability_after": hue_reliability(after)}


def report(results: Sequence[FoldResult], cv: CVConfig, calibration: dict | None = None) -> dict:
    """The JSON report: for each (model, variant, settings) the per-fold and overall metrics (and
    the nested calibration's temperatures and reliability, when run)."""
    out: dict = {"folds": [{"name": r.fold.name, "sources": list(r.fold.sources), "photos": len(r.fold.photos),
                            "colourless_not_scored": [p.name for p in r.fold.colourless],
                            "train_seconds": round(r.train_seconds, 1)} for r in results],
                 "settings": [s.as_dict() for s in cv.settings], "results": []}
    if calibration is not None:
        out["calibration"] = calibration
    names = sorted({m for r in results for (m, _, _) in r.book.model})
    for name in names:
        for variant in cv.variants:
            for i in range(len(cv.settings)):
                per_fold = {}
                models, grays = [], []
                for r in results:
                    acc = r.book.model.get((name, variant, i))
                    if acc is None:
                        continue
                    per_fold[r.fold.name] = summarise(acc, r.book.gray[variant])
                    models.append(acc)
                    grays.append(r.book.gray[variant])
                if not models:
                    continue
                overall = summarise(merge(models), merge(grays))
                overall["worst_fold_gain"] = min(f["psnr_gain"] for f in per_fold.values())
                out["results"].append({"model": name, "variant": variant, "settings": i, "overall": overall,
                                       "per_fold": per_fold})
    return out
