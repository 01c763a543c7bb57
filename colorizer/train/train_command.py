"""The ``colorizer train`` sub-command. Every option maps to a :class:`TrainConfig` field and takes
its default from there (the defaults are the bundled model's recipe), so the command line and the
library cannot disagree."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import fields

from colorizer.messages import one_line
from colorizer.train.augment import BACKGROUNDS
from colorizer.train.config import HEAD_SCOPES, TrainConfig

log = logging.getLogger("colorizer")

DEFAULTS = TrainConfig()


def _d(name: str) -> str:
    """`` (default: X)`` for a help text, from TrainConfig."""
    value = getattr(DEFAULTS, name)
    if isinstance(value, tuple):
        value = ",".join(str(v) for v in value) or "none"
    return f" (default: {value})"


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


def _steps(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in _csv(text))


def add_train_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``colorizer train``: train (or fine-tune) a colouriser on folders of colour photos."""
    p = subparsers.add_parser("train", help="train a colouriser on colour photos", argument_default=argparse.SUPPRESS,
                              description="Train a colouriser (Larsson et al. hypercolumn histograms) on colour photos. "
                                          "Defaults reproduce the bundled model. A killed run continues with --resume "
                                          "from its last checkpoint.")
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", metavar="DIR", help="folders of colour photos (recursive; JPEG/PNG/WebP/TIFF)")
    d.add_argument("--manifest", help="corpus MANIFEST.tsv (or its folder) with a 'split' column")
    d.add_argument("--split", help="manifest split to train on" + _d("split"))
    d.add_argument("--exclude-sources", type=_csv, metavar="PKG,...",
                   help="leave out the photos of these source packages (cross-validation)")
    d.add_argument("--val-data", nargs="+", metavar="DIR", help="held-out folders for validation")
    d.add_argument("--val-split", help="manifest split to validate on (e.g. val)")
    d.add_argument("--gray-threshold", type=float, help="skip photos whose mean chroma is below this" + _d("gray_threshold"))
    o = p.add_argument_group("output")
    o.add_argument("-o", "--out", help="weights file to write" + _d("out"))
    o.add_argument("--run-dir", help="checkpoints and CSV log" + _d("run_dir"))
    o.add_argument("--cache-dir", help="where per-photo backbone features are cached (default: RUN_DIR)")
    o.add_argument("--checkpoint-every", type=int, help="steps between checkpoints" + _d("checkpoint_every"))
    o.add_argument("--save-at", type=_steps, metavar="STEP,...", help="also write OUT-stepN weights at these steps")
    o.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt if present")
    o.add_argument("--no-final-eval", dest="final_eval", action="store_false", help="skip validation metrics at the end")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    m = p.add_argument_group("model")
    m.add_argument("--scheme", choices=("hue_chroma", "lab_marginal", "lab_joint"), help="colour histograms" + _d("scheme"))
    m.add_argument("--bins", type=int, help="bins per histogram" + _d("bins"))
    m.add_argument("--backbone", choices=("lite0", "lite1", "lite2", "lite3", "lite4"), help="EfficientNet" + _d("backbone"))
    m.add_argument("--layers", type=_csv, help="comma-separated hypercolumn layers" + _d("layers"))
    m.add_argument("--hidden", type=int, help="hypercolumn projection width per member" + _d("hidden"))
    m.add_argument("--members", type=int, help="bagged ensemble members (heads on bootstraps of photos)" + _d("members"))
    m.add_argument("--global-features", action=argparse.BooleanOptionalAction,
                   help="feed the backbone's pooled scene features to every pixel" + _d("global_features"))
    m.add_argument("--input-levels", action=argparse.BooleanOptionalAction,
                   help="stretch each input's tonal range before the network (faded prints)" + _d("input_levels"))
    m.add_argument("--init", help="start from these weights (fine-tuning; their architecture is kept)")
    m.add_argument("--freeze", choices=("all", "partial", "none"), help="backbone layers kept frozen" + _d("freeze"))
    m.add_argument("--head-scope", choices=HEAD_SCOPES,
                   help="head parts that learn (classifier: only hidden -> bins)" + _d("head_scope"))
    t = p.add_argument_group("optimisation")
    t.add_argument("--cache-features", dest="cache_features", action="store_true",
                   help="cache sampled backbone features (default when --freeze all)")
    t.add_argument("--no-cache-features", dest="cache_features", action="store_false")
    t.add_argument("--augs-per-image", type=int, help="cached augmentations per image" + _d("augs_per_image"))
    t.add_argument("--epochs", type=int, help="passes over the data" + _d("epochs"))
    t.add_argument("--steps", type=int, help="total steps (overrides --epochs; --epochs alone replaces this default)"
                   + _d("steps"))
    t.add_argument("--batch-size", type=int, help="images per step (live mode)" + _d("batch_size"))
    t.add_argument("--pixel-batch", type=int, help="pixels per step (cached mode)" + _d("pixel_batch"))
    t.add_argument("--positions", type=int, help="supervised pixels per crop" + _d("positions"))
    t.add_argument("--window", type=int, help="target histogram window (pixels)" + _d("window"))
    t.add_argument("--lr", type=float, help="learning rate" + _d("lr"))
    t.add_argument("--weight-decay", type=float, help="AdamW weight decay" + _d("weight_decay"))
    t.add_argument("--schedule", choices=("cosine", "onecycle", "constant"), help="learning-rate schedule" + _d("schedule"))
    t.add_argument("--lambda-hue", type=float, help="weight of the hue loss" + _d("lambda_hue"))
    t.add_argument("--l2sp", type=float, help="pull towards the --init weights (L2-SP; fine-tuning)" + _d("l2sp"))
    t.add_argument("--dropout", type=float, help="hypercolumn dropout while training the head" + _d("dropout"))
    t.add_argument("--no-keep-best", dest="keep_best", action="store_false",
                   help="keep the last step, not the step with the lowest validation loss")
    t.add_argument("--min-size", type=int, help="smallest crop side" + _d("min_size"))
    t.add_argument("--max-size", type=int, help="largest crop side" + _d("max_size"))
    t.add_argument("--rotate", type=float, help="max rotation (degrees)" + _d("rotate"))
    t.add_argument("--background", choices=BACKGROUNDS, help="what cut-outs are composited onto" + _d("background"))
    t.add_argument("--old-print", type=float, metavar="SHARE",
                   help="share of crops whose input gets old-print degradations" + _d("old_print"))
    t.add_argument("--robust-steps", type=int, metavar="N",
                   help="steps of the old-print robustness phase after the head (deep backbone stages learn to "
                        "give old prints the clean photo's colours; 0 skips it)" + _d("robust_steps"))
    t.add_argument("--seed", type=int, help="random seed" + _d("seed"))
    t.add_argument("--device", help="auto, cpu or cuda" + _d("device"))
    t.add_argument("--no-amp", dest="amp", action="store_false", help="disable mixed precision on CUDA")
    t.add_argument("--threads", type=int, help="CPU threads for torch")
    p.set_defaults(func=run_train)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of the options given (the rest keep TrainConfig's defaults); ValueError on a bad value."""
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    if "epochs" in values and "steps" not in values:
        values["steps"] = None  # --epochs alone replaces the default number of steps
    return TrainConfig(**values)


def finite_or_none(value: object) -> object:
    """JSON has no NaN or infinity: such numbers (anywhere in dicts and lists) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def run_train(args: argparse.Namespace) -> int:
    """``colorizer train``: options and every file the run writes are checked before the first step;
    every failure is one line on stderr (``-v`` adds the traceback)."""
    from colorizer.train.trainer import train

    if not getattr(args, "data", None) and not getattr(args, "manifest", None):
        print("colorizer train: give --data FOLDER... or --manifest MANIFEST.tsv", file=sys.stderr)
        return 2
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"colorizer train: {exc}", file=sys.stderr)
        return 2
    try:
        result = train(cfg)
    except Exception as exc:  # noqa: BLE001 - data, weights, files, CUDA...: one line each, never a traceback
        log.debug("training failed", exc_info=True)
        known = isinstance(exc, (ValueError, RuntimeError, OSError))  # DataError, WeightsError are RuntimeErrors
        text = one_line(exc) if known else f"failed ({type(exc).__name__}: {one_line(exc)})"
        print(f"colorizer train: {text}", file=sys.stderr)
        return 1
    if result.weights is not None:
        summary = {"weights": str(result.weights), "steps": result.steps, "train_loss": round(result.final_loss, 5),
                   "val_loss": result.val_loss, "seconds": round(result.seconds, 1), "val_metrics": result.val_metrics,
                   "interrupted": result.interrupted}
        print(json.dumps(finite_or_none(summary), allow_nan=False))
    if result.note:
        print(f"colorizer train: {result.note}", file=sys.stderr)
    if result.interrupted:
        print(f"colorizer train: interrupted at step {result.steps}; the weights so far are in {result.weights}; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 130
    return 1 if result.note else 0
