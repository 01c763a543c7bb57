"""The ``colorizer eval`` sub-command: measure a colouriser on colour photos (and, with ``--cv``,
cross-validate its training recipe)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizer.bins import DECODE_METHODS
from colorizer.pipeline import WORKING_SIZE
from colorizer.train.cv_command import add_cv_arguments, run_cv


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
                   help="use each photo's own colours as the reference palette (energy transfer, strength 1)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--working-size", type=int, default=WORKING_SIZE)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--old-print", action="store_true",
                   help="give the colouriser seeded old-print versions of the grays (blur, faded contrast, grain, "
                        "JPEG q50); scored against the clean colour photos")
    p.add_argument("--method", default=None, choices=DECODE_METHODS, help="chroma decoding (default: renderer's)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--fading-eta", type=float, default=None)
    p.add_argument("--chroma-gain", type=float, default=None)
    p.add_argument("--smoothing", type=float, default=None)
    p.add_argument("--region-pooling", type=float, default=None, help="0..1, one object one colour (default: renderer's)")
    p.add_argument("--cast-removal", type=float, default=None,
                   help="0..1, share of the overall tint taken away (default: renderer's)")
    add_cv_arguments(p)
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


def render_settings(args: argparse.Namespace, defaults=None):
    """The render settings that eval's options ask for, on top of ``defaults`` (a model's
    ``default_settings``; ``RenderSettings()`` when None)."""
    from colorizer.render_settings import RenderSettings

    names = ("method", "temperature", "fading_eta", "chroma_gain", "smoothing", "region_pooling", "cast_removal")
    changes = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    settings = (defaults or RenderSettings()).replace(**changes)
    settings.check()
    return settings


def run_eval(args: argparse.Namespace) -> int:
    from colorizer.pipeline import Colorizer
    from colorizer.provenance import describe_provenance, format_provenance
    from colorizer.train.data import DataError
    from colorizer.train.metrics import evaluate, format_table
    from colorizer.weights import WeightsError

    if not args.data and not args.manifest:
        print("colorizer eval: give --data FOLDER... or --manifest MANIFEST.tsv", file=sys.stderr)
        return 2
    try:
        if args.cv:
            return run_cv(args, render_settings(args))
        paths = eval_paths(args)
        if not paths:
            print("colorizer eval: no images found", file=sys.stderr)
            return 1
        colorizer = Colorizer.load(args.weights, device=args.device, working_size=args.working_size)
        settings = render_settings(args, colorizer.default_settings)
        result = evaluate(colorizer, paths, settings, contact_sheet=args.contact_sheet,
                          variant="old_print" if args.old_print else "clean",
                          reference_from_gt=args.reference_from_gt, progress=not args.json)
    except (DataError, WeightsError, OSError, ValueError) as exc:
        print(f"colorizer eval: {exc}", file=sys.stderr)
        return 1
    for item in result.get("skipped", []):
        print(f"colorizer eval: skipped {item['error']}", file=sys.stderr)
    if not result["images"]:
        print(f"colorizer eval: none of the {len(paths)} images could be read", file=sys.stderr)
        return 1
    if not args.per_image:
        result.pop("per_image", None)
    result["weights"] = str(colorizer.weights.path)
    result["provenance"] = describe_provenance(colorizer.weights.training)
    print(json.dumps(result))  # the contract: metrics as JSON on stdout
    if not args.json:  # and, for people, a readable table on stderr
        print(format_table(result), file=sys.stderr)
        print("\n".join(f"model: {line}" for line in format_provenance(result["provenance"])), file=sys.stderr)
        if args.contact_sheet:
            print(f"contact sheet: {args.contact_sheet}", file=sys.stderr)
    return 0
