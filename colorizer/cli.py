"""The ``colorizer`` command: colorize, train, eval, bench."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from colorizer import __version__
from colorizer.imageio import DEFAULT_MAX_PIXELS
from colorizer.batch import OUTPUT_FORMATS, ColorizeOptions, FileResult, ProgressTracker, collect_jobs, run_batch
from colorizer.pipeline import Colorizer, RenderSettings
from colorizer.weights import WeightsError

log = logging.getLogger("colorizer")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where the network runs (auto: CUDA if available)")


def add_colorize_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("colorize", help="colourise photos or folders of photos",
                              description="Colourise black-and-white photos. Writes OUTDIR/<stem>.png for each "
                                          "input (folders recursively, keeping sub-folders). Inputs are never modified.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--weights", metavar="FILE", help="weights file (default: the bundled model)")
    add_device_argument(p)
    p.add_argument("--format", default="png", choices=OUTPUT_FORMATS, help="output format (default png)")
    p.add_argument("--uncertainty", action="store_true", help="also write <stem>_uncertainty.png")
    p.add_argument("--reference", metavar="IMG", type=Path, help="pull colours towards this photo's palette")
    p.add_argument("--match-strength", type=float, default=1.0, metavar="LAMBDA",
                   help="strength of the reference match, 0 = none (default 1.0; the energy's lambda is "
                        "10 x this; the quantile method blends by min(this, 1))")
    p.add_argument("--reference-method", choices=("energy", "quantile"), default="energy",
                   help="energy: histogram transfer on the predicted histograms (default); "
                        "quantile: lightness-normalised quantile matching")
    p.add_argument("--samples", type=int, default=0, metavar="N", help="also write N alternative colourisations <stem>_sK.png")
    p.add_argument("--seed", type=int, default=0, help="random seed for --samples")
    p.add_argument("--hint", action="append", default=[], metavar="MASK.png:#RRGGBB",
                   help="colour the white area of MASK towards #RRGGBB (repeatable; the mask is resized to each photo)")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose output already exists (resume)")
    p.add_argument("--working-size", type=int, default=512, help="longest side the network sees (default 512)")
    p.add_argument("--batch-size", type=int, default=0, metavar="N",
                   help="photos per network pass (default: 16 on CUDA, 1 on the CPU)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images with more pixels, e.g. decompression bombs (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--8bit", dest="keep_16bit", action="store_false",
                   help="write 8-bit PNGs even for 16-bit inputs")
    p.add_argument("--chroma-gain", type=float, default=1.0, help="colour strength (default 1.0)")
    p.add_argument("--temperature", type=float, default=1.0, help="annealing temperature of the histograms (default 1.0)")
    p.add_argument("--fading", type=float, default=RenderSettings.fading_eta,
                   help=f"chromatic fading eta, 0 disables (default {RenderSettings.fading_eta})")
    p.add_argument("--json", action="store_true", help="print one JSON line of results per file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_colorize)


def run_colorize(args: argparse.Namespace) -> int:
    if args.samples < 0:
        print("colorizer: --samples must be 0 or more", file=sys.stderr)
        return 2
    hints = []
    try:
        from colorizer.energy import Hint
        from colorizer.imageio import ImageReadError, load_rgb
        hints = [Hint.from_spec(spec) for spec in args.hint]
        reference = None if args.reference is None else load_rgb(args.reference)  # read once for the batch
    except ValueError as exc:  # ImageReadError is a ValueError
        prefix = "cannot read the --reference image: " if isinstance(exc, ImageReadError) else ""
        print(f"colorizer: {prefix}{exc}", file=sys.stderr)
        return 2
    if args.match_strength < 0:
        print("colorizer: --match-strength must be 0 or more", file=sys.stderr)
        return 2
    try:
        colorizer = Colorizer.load(args.weights, device=args.device, working_size=args.working_size)
    except WeightsError as exc:
        print(f"colorizer: {exc}", file=sys.stderr)
        return 2
    settings = RenderSettings(chroma_gain=args.chroma_gain, temperature=args.temperature, fading_eta=args.fading)
    options = ColorizeOptions(settings=settings, uncertainty=args.uncertainty, reference=reference,
                              reference_method=args.reference_method,
                              match_strength=args.match_strength, samples=args.samples, seed=args.seed,
                              hints=hints, skip_existing=args.skip_existing, output_format=args.format,
                              batch_size=args.batch_size, max_pixels=args.max_pixels, keep_16bit=args.keep_16bit)
    jobs, problems = collect_jobs(args.inputs, args.output, args.format)
    for result in problems:
        report_result(result, args.json)
    bar = None
    if len(jobs) > 1 and not args.quiet and not args.json:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), unit="photo", file=sys.stderr)
    tracker = ProgressTracker(total=len(jobs))

    def progress(done: int, total: int, result: FileResult) -> None:
        tracker.update(result)
        if bar is not None:
            bar.set_postfix_str(tracker.eta_text(), refresh=False)
            bar.update(1)
            if not result.ok:
                bar.write(f"error: {result.error}", file=sys.stderr)
        else:
            report_result(result, args.json)

    try:
        report = run_batch(colorizer, jobs, options, progress=progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print("colorizer: interrupted; finished files are complete, no partial files were left", file=sys.stderr)
        return 130
    if bar is not None:
        bar.close()
        print(f"colorizer: {report.summary()}", file=sys.stderr)
    failures = report.failures + problems
    if failures:
        print(f"colorizer: {len(failures)} of {len(jobs) + len(problems)} inputs failed:", file=sys.stderr)
        for result in failures:
            print(f"  {result.error}", file=sys.stderr)
        return 1
    return 0


def report_result(result: FileResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json()), flush=True)
    elif not result.ok:
        print(f"error: {result.error}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorizer", description="Automatic colourisation of black-and-white photos.")
    parser.add_argument("--version", action="version", version=f"colorizer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_colorize_command(sub)
    from colorizer.bench import add_bench_command
    from colorizer.train.commands import add_eval_command, add_train_command

    add_train_command(sub)
    add_eval_command(sub)
    add_bench_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="colorizer: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
