"""The ``colorizer train`` and ``colorizer eval`` sub-commands (argparse only; cli.py registers them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizer.model import DEFAULT_LAYERS


def add_train_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``colorizer train``: train (or fine-tune) a colouriser on folders of colour photos."""
    p = subparsers.add_parser("train", help="train a colouriser on colour photos",
                              description="Train a colouriser (Larsson et al. hypercolumn histograms) on colour photos. "
                                          "A killed run continues with --resume from its last checkpoint.")
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", default=[], metavar="DIR", help="folders of colour photos (recursive; JPEG/PNG/WebP/TIFF)")
    d.add_argument("--manifest", help="corpus MANIFEST.tsv (or its folder) with a 'split' column")
    d.add_argument("--split", default="train", help="manifest split to train on (default: train)")
    d.add_argument("--val-data", nargs="+", default=[], metavar="DIR", help="held-out folders for validation")
    d.add_argument("--val-split", default=None, help="manifest split to validate on (e.g. val)")
    d.add_argument("--gray-threshold", type=float, default=0.03, help="skip photos whose mean chroma is below this")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--out", default="runs/colorizer.safetensors", help="weights file to write")
    o.add_argument("--run-dir", default="runs/train", help="checkpoints, CSV log and feature cache")
    o.add_argument("--cache-dir", default=None, help="where cached backbone features go (default: RUN_DIR)")
    o.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    o.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt if present")
    o.add_argument("--no-final-eval", dest="final_eval", action="store_false", help="skip validation metrics at the end")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    m = p.add_argument_group("model")
    m.add_argument("--scheme", default="hue_chroma", choices=("hue_chroma", "lab_marginal", "lab_joint"))
    m.add_argument("--bins", type=int, default=32)
    m.add_argument("--backbone", default="lite0", choices=("lite0", "lite1", "lite2", "lite3", "lite4"))
    m.add_argument("--layers", default=",".join(DEFAULT_LAYERS), help="comma-separated hypercolumn layers")
    m.add_argument("--hidden", type=int, default=256, help="hypercolumn projection width")
    m.add_argument("--init", help="start from these weights (fine-tuning; their architecture is kept)")
    m.add_argument("--freeze", default="all", choices=("all", "partial", "none"), help="backbone layers kept frozen")
    t = p.add_argument_group("optimisation")
    t.add_argument("--cache-features", dest="cache_features", action="store_true", default=None,
                   help="cache sampled backbone features (default when --freeze all)")
    t.add_argument("--no-cache-features", dest="cache_features", action="store_false")
    t.add_argument("--augs-per-image", type=int, default=4, help="cached augmentations per image")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--steps", type=int, default=None, help="total steps (overrides --epochs)")
    t.add_argument("--batch-size", type=int, default=8, help="images per step (live mode)")
    t.add_argument("--pixel-batch", type=int, default=4096, help="pixels per step (cached mode)")
    t.add_argument("--positions", type=int, default=256, help="supervised pixels per crop")
    t.add_argument("--window", type=int, default=7, help="target histogram window (pixels)")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.05)
    t.add_argument("--schedule", default="cosine", choices=("cosine", "onecycle", "constant"))
    t.add_argument("--lambda-hue", type=float, default=5.0)
    t.add_argument("--dropout", type=float, default=0.6, help="hypercolumn dropout while training the head (cached mode)")
    t.add_argument("--no-keep-best", dest="keep_best", action="store_false",
                   help="keep the last step, not the step with the lowest validation loss")
    t.add_argument("--min-size", type=int, default=224, help="smallest crop side")
    t.add_argument("--max-size", type=int, default=320, help="largest crop side")
    t.add_argument("--rotate", type=float, default=8.0, help="max rotation (degrees)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--no-amp", dest="amp", action="store_false", help="disable mixed precision on CUDA")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(func=run_train)
    return p


def run_train(args: argparse.Namespace) -> int:
    from colorizer.train.data import DataError
    from colorizer.train.trainer import TrainConfig, train
    from colorizer.weights import WeightsError

    if not args.data and not args.manifest:
        print("colorizer train: give --data FOLDER... or --manifest MANIFEST.tsv", file=sys.stderr)
        return 2
    try:
        cfg = TrainConfig(
            out=args.out, run_dir=args.run_dir, cache_dir=args.cache_dir, data=args.data, manifest=args.manifest, split=args.split,
            val_data=args.val_data, val_split=args.val_split, scheme=args.scheme, bins=args.bins, window=args.window,
            positions=args.positions, backbone=args.backbone, layers=tuple(x for x in args.layers.split(",") if x),
            hidden=args.hidden, freeze=args.freeze, cache_features=args.cache_features, augs_per_image=args.augs_per_image,
            epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, pixel_batch=args.pixel_batch, lr=args.lr,
            weight_decay=args.weight_decay, schedule=args.schedule, lambda_hue=args.lambda_hue, dropout=args.dropout, keep_best=args.keep_best, min_size=args.min_size,
            max_size=args.max_size, rotate=args.rotate, gray_threshold=args.gray_threshold, seed=args.seed,
            device=args.device, amp=args.amp, checkpoint_every=args.checkpoint_every, resume=args.resume, init=args.init,
            threads=args.threads, final_eval=args.final_eval, quiet=args.quiet)
        result = train(cfg)
    except (ValueError, DataError, WeightsError, RuntimeError) as exc:
        print(f"colorizer train: {exc}", file=sys.stderr)
        return 1
    if result.weights is not None:
        summary = {"weights": str(result.weights), "steps": result.steps, "train_loss": round(result.final_loss, 5),
                   "val_loss": result.val_loss, "seconds": round(result.seconds, 1), "val_metrics": result.val_metrics}
        print(json.dumps(summary))
    return 0


def add_eval_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``colorizer eval``: colourise the gray version of colour photos and score against the truth."""
    p = subparsers.add_parser("eval", help="measure a colouriser on colour photos",
                              description="Colourise the luma of each colour photo and report PSNR, ab RMSE, AuC, "
                                          "colourfulness ratio and share left gray, beside the gray baseline.")
    p.add_argument("--data", nargs="+", default=[], metavar="DIR", help="folders (or files) of colour photos")
    p.add_argument("--manifest", help="corpus MANIFEST.tsv (or its folder)")
    p.add_argument("--split", default="val", help="manifest split (default: val)")
    p.add_argument("--weights", help="weights file (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="JSON only (JSON always goes to stdout; without this flag a table also goes to stderr)")
    p.add_argument("--per-image", action="store_true", help="include per-image figures in the JSON")
    p.add_argument("--contact-sheet", metavar="OUT.png", help="write input | result | truth | uncertainty rows")
    p.add_argument("--reference-from-gt", action="store_true",
                   help="use each photo's own colours as the reference (needs colorizer.energy)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--method", default=None, choices=("median", "mean", "mode"), help="chroma decoding (default: renderer's)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--fading-eta", type=float, default=None)
    p.add_argument("--chroma-gain", type=float, default=None)
    p.add_argument("--smoothing", type=float, default=None)
    p.set_defaults(func=run_eval)
    return p


def eval_paths(args: argparse.Namespace) -> list[Path]:
    """Photos to measure. A ``--data`` folder that is (or lies in) a corpus with a MANIFEST.tsv is
    restricted to the manifest's ``--split`` (default val), so training photos never count."""
    from colorizer.train.data import find_images, read_manifest

    paths: list[Path] = []
    if args.manifest:
        paths += read_manifest(args.manifest, args.split)
    for folder in map(Path, args.data or []):
        found = find_images([folder])
        manifest = next((m for m in (folder / "MANIFEST.tsv", folder.parent / "MANIFEST.tsv") if m.is_file()), None)
        if folder.is_dir() and manifest is not None:
            listed = {p.resolve() for p in read_manifest(manifest, args.split)}
            found = [p for p in found if p.resolve() in listed]
            print(f"colorizer eval: {folder}: measuring the {len(found)} photos of split={args.split} "
                  f"listed in {manifest}", file=sys.stderr)
        paths += found
    return paths[: args.limit] if args.limit else paths


def run_eval(args: argparse.Namespace) -> int:
    from colorizer.pipeline import Colorizer, RenderSettings
    from colorizer.train.data import DataError
    from colorizer.train.metrics import evaluate, format_table
    from colorizer.weights import WeightsError

    if not args.data and not args.manifest:
        print("colorizer eval: give --data FOLDER... or --manifest MANIFEST.tsv", file=sys.stderr)
        return 2
    try:
        paths = eval_paths(args)
        if not paths:
            print("colorizer eval: no images found", file=sys.stderr)
            return 1
        colorizer = Colorizer.load(args.weights, device=args.device, working_size=args.working_size)
        changes = {k: getattr(args, k) for k in ("method", "temperature", "fading_eta", "chroma_gain", "smoothing")
                   if getattr(args, k) is not None}
        settings = RenderSettings().replace(**changes)
        result = evaluate(colorizer, paths, settings, contact_sheet=args.contact_sheet,
                          reference_from_gt=args.reference_from_gt, progress=not args.json)
    except NotImplementedError as exc:
        print(f"colorizer eval: {exc}", file=sys.stderr)
        return 2
    except (DataError, WeightsError, OSError, ValueError) as exc:
        print(f"colorizer eval: {exc}", file=sys.stderr)
        return 1
    if not args.per_image:
        result.pop("per_image", None)
    result["weights"] = str(colorizer.weights.path)
    print(json.dumps(result))  # the contract: metrics as JSON on stdout
    if not args.json:  # and, for people, a readable table on stderr
        print(format_table(result), file=sys.stderr)
        if args.contact_sheet:
            print(f"contact sheet: {args.contact_sheet}", file=sys.stderr)
    return 0
