"""The ``colorizer`` command: colorize, train, eval, bench."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

from colorizer import __version__
from colorizer.batch import (OUTPUT_FORMATS, ColorizeOptions, FileResult, OutputFolderError, ProgressTracker,
                             check_output_folder, collect_jobs, run_batch)
from colorizer.bins import DecodeOptions
from colorizer.energy import Hint
from colorizer.imageio import DEFAULT_MAX_PIXELS
from colorizer.interrupts import Terminated, terminate_as_interrupt
from colorizer.limits import check_number
from colorizer.pipeline import WORKING_SIZE, Colorizer
from colorizer.recipe import REFERENCE_METHODS, ModelRef, Recipe, RecipeError, Reference, ReferencePixels
from colorizer.recipe_file import load_recipe, save_recipe
from colorizer.render_settings import SETTING_LIMITS, RenderSettings
from colorizer.weights import WeightsError

log = logging.getLogger("colorizer")
MAX_SAMPLES = 100


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
    look = p.add_argument_group("the look (a recipe; options given here override --recipe)")
    look.add_argument("--recipe", metavar="LOOK.json", type=Path,
                      help="apply a recipe saved by --save-recipe or the app (a photo's .colorizer.json works too)")
    look.add_argument("--save-recipe", metavar="LOOK.json", type=Path,
                      help="write the recipe these options make (settings, reference, hints, model) to LOOK.json")
    look.add_argument("--reference", metavar="IMG", type=Path, help="pull colours towards this photo's palette")
    look.add_argument("--match-strength", type=float, metavar="LAMBDA",
                      help="strength of the reference match, 0 = none (default 1.0; the energy's lambda is "
                           "10 x this; the quantile method blends by min(this, 1))")
    look.add_argument("--reference-method", choices=REFERENCE_METHODS,
                      help="energy: histogram transfer on the predicted histograms (default); "
                           "quantile: lightness-normalised quantile matching")
    look.add_argument("--hint", action="append", metavar="MASK.png:#RRGGBB",
                      help="colour the object(s) that the white area of MASK marks towards #RRGGBB, stopping at their "
                           "edges (repeatable; the mask is resized to each photo)")
    look.add_argument("--chroma-gain", type=float, metavar="GAIN", help=f"colour strength (default {DecodeOptions.chroma_gain})")
    look.add_argument("--temperature", type=float, metavar="T", help="annealing temperature of the histograms (default 1.0)")
    look.add_argument("--fading", type=float, metavar="ETA", help=f"chromatic fading eta, 0 disables (default {DecodeOptions.fading_eta})")
    look.add_argument("--region-pooling", type=float, metavar="S",
                      help="0..1: how far unsure pixels follow their region's colour, so one object gets one colour "
                           f"(default {RenderSettings().region_pooling})")
    look.add_argument("--cast-removal", type=float, metavar="S",
                      help="0..1: share of the picture's overall tint taken away, so gray backdrops, walls and paper "
                           f"stay neutral (default {RenderSettings().cast_removal}, or the model's own: a fine-tuned model's "
                           "is chosen on its photos)")
    look.add_argument("--working-size", type=int, metavar="N",
                      help=f"longest side the network sees (default {WORKING_SIZE})")
    p.add_argument("--samples", type=int, default=0, metavar="N", help="also write N alternative colourisations <stem>_sK.png")
    p.add_argument("--seed", type=int, default=0, help="random seed for --samples")
    p.add_argument("--skip-existing", action="store_true",
                   help="resume: skip photos whose outputs all exist and are whole images; make missing ones")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in OUTDIR (default: never; a taken name gets <stem>-1, -2...)")
    p.add_argument("--batch-size", type=int, default=0, metavar="N",
                   help="photos per network pass (default: 16 on CUDA, 1 on the CPU)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images with more pixels, e.g. decompression bombs (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--8bit", dest="keep_16bit", action="store_false",
                   help="write 8-bit PNGs even for 16-bit inputs")
    p.add_argument("--json", action="store_true", help="print one JSON line of results per file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_colorize)


class UsageError(Exception):
    """A problem with the command line or a file it names (exit status 2, one line on stderr)."""


def setting_changes(args: argparse.Namespace) -> dict:
    """The render settings named on the command line (``--chroma-gain``...), by setting name."""
    return {setting: getattr(args, option) for option, setting in SETTING_OPTIONS.items()
            if getattr(args, option) is not None}


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The recipe of ``--recipe`` (or the default) with the options given on the command line applied.
    Without ``--recipe`` the settings start from ``RenderSettings()``; ``run_colorize`` moves them onto
    the loaded model's own defaults (a fine-tuned model's look)."""
    base = load_recipe(args.recipe) if args.recipe is not None else Recipe()
    changes = setting_changes(args)
    reference = base.reference
    strength = args.match_strength if args.match_strength is not None else (reference.strength if reference else 1.0)
    method = args.reference_method or (reference.method if reference else "energy")
    if args.reference is not None:
        reference = Reference.from_file(args.reference, strength, method)
    elif reference is not None:
        reference = dataclasses.replace(reference, strength=strength, method=method)
    hints = base.hints if args.hint is None else tuple(Hint.from_spec(spec) for spec in args.hint)
    return base.replace(settings=base.settings.replace(**changes), reference=reference, hints=hints)


# option -> (low, high, integer, above): every number of ``colorize`` is checked before any work
NUMBER_LIMITS = {"samples": (0, MAX_SAMPLES, True, False), "seed": (0, 2 ** 63 - 1, True, False),
                 "batch_size": (0, 4096, True, False), "max_pixels": (1, 10 ** 10, True, False),
                 "working_size": (32, 8192, True, False), "match_strength": (0, 1000, False, False)}
# look options -> the render setting whose limits they share
SETTING_OPTIONS = {"chroma_gain": "chroma_gain", "temperature": "temperature", "fading": "fading_eta",
                   "region_pooling": "region_pooling", "cast_removal": "cast_removal"}


def refuse_replacing_a_non_recipe(path: Path) -> None:
    """``--save-recipe`` replaces an older look, never anything else (a photo, a typo'd input)."""
    if os.path.lexists(path):
        try:
            load_recipe(path)
        except (RecipeError, OSError):
            raise UsageError(f"{path}: exists and is not a recipe file; not replaced "
                             "(choose another --save-recipe name)") from None


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse non-finite and out-of-range option values (UsageError, one line naming the option)."""
    limits = {**NUMBER_LIMITS, **{option: (*SETTING_LIMITS[name][:2], False, SETTING_LIMITS[name][2])
                                  for option, name in SETTING_OPTIONS.items()}}
    for name, (low, high, integer, above) in limits.items():
        value = getattr(args, name, None)
        if value is not None:
            try:
                check_number(f"--{name.replace('_', '-')}", value, low, high, integer=integer, above=above)
            except ValueError as exc:
                raise UsageError(str(exc)) from None


def check_settings(recipe: Recipe, origin: str) -> None:
    """Refuse a recipe whose render settings are non-finite or out of range (from a file or options)."""
    try:
        recipe.settings.check()
        if recipe.reference is not None:
            check_number("the reference strength", recipe.reference.strength, 0, 1000)
        if recipe.model is not None:
            check_number("the model's working size", recipe.model.working_size, 32, 8192, integer=True)
    except ValueError as exc:
        raise UsageError(f"{origin}: {exc}") from None


def prepare_look(args: argparse.Namespace, references: ReferencePixels) -> tuple[Recipe, int]:
    """The recipe to apply and the working size; raises UsageError with a one-line message."""
    check_numbers(args)
    try:
        recipe = recipe_from_args(args)
        if recipe.reference is not None:
            references.get(recipe.reference)  # read once for the batch; a bad file stops here
    except ValueError as exc:  # RecipeError, ImageReadError and a bad --hint are ValueErrors
        raise UsageError(str(exc)) from None
    check_settings(recipe, str(args.recipe) if args.recipe is not None else "the options")
    if recipe.reference is not None and args.reference is None and recipe.reference.changed():
        log.warning("warning: the reference %s has changed since the recipe was made", recipe.reference.path)
    made_with = recipe.model.working_size if recipe.model is not None else WORKING_SIZE
    return recipe, args.working_size or made_with


def run_colorize(args: argparse.Namespace) -> int:
    """``colorizer colorize``: everything is checked (options, output folder, weights) before the first photo."""
    references = ReferencePixels()
    try:
        recipe, working_size = prepare_look(args, references)
        check_output_folder(args.output)
        colorizer = Colorizer.load(args.weights, device=args.device, working_size=working_size)
        model = ModelRef.of(colorizer)
        if recipe.model is not None and recipe.model.sha256 and model.sha256 and recipe.model.sha256 != model.sha256:
            log.warning("warning: %s was made with the model %s; colouring with %s, colours may differ",
                        args.recipe, recipe.model.name, model.name)
        recipe = recipe.replace(model=model)
        if args.recipe is None:  # no saved look: the model's own defaults, under the options given
            recipe = recipe.replace(settings=colorizer.default_settings.replace(**setting_changes(args)))
        if args.save_recipe is not None:
            refuse_replacing_a_non_recipe(args.save_recipe)
            try:
                save_recipe(args.save_recipe, recipe)
            except OSError as exc:
                raise UsageError(f"{args.save_recipe}: cannot write the recipe ({exc.strerror or exc})") from None
    except (UsageError, WeightsError, OutputFolderError) as exc:
        print(f"colorizer: {exc}", file=sys.stderr)
        return 2
    options = ColorizeOptions(recipe=recipe, references=references, uncertainty=args.uncertainty,
                              samples=args.samples, seed=args.seed, skip_existing=args.skip_existing,
                              output_format=args.format, batch_size=args.batch_size, max_pixels=args.max_pixels,
                              keep_16bit=args.keep_16bit, overwrite=args.overwrite)
    jobs, problems = collect_jobs(args.inputs, args.output, args.format)
    for result in problems:
        report_result(result, args.json)
    return run_jobs(colorizer, jobs, problems, options, args)


def run_jobs(colorizer: Colorizer, jobs: list, problems: list[FileResult], options: ColorizeOptions,
             args: argparse.Namespace) -> int:
    """Run the batch with a progress bar (or JSON lines); the exit status of ``colorize``."""
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
            for line in result.warnings:
                bar.write(f"warning: {line}", file=sys.stderr)
            if not result.ok:
                bar.write(f"error: {result.error}", file=sys.stderr)
        else:
            report_result(result, args.json)

    try:
        report = run_batch(colorizer, jobs, options, progress=progress)
    except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM (see main)
        if bar is not None:
            bar.close()
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"colorizer: {how}; finished files are complete, no partial files were left", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    if bar is not None:
        bar.close()
        print(f"colorizer: {report.summary()}", file=sys.stderr)
    renamed = sum(r.ok and r.renamed_past_existing for r in report.results)
    if renamed and not (args.json or args.skip_existing):
        print(f"colorizer: {renamed} of {len(jobs)} photos went to numbered names because earlier files were in the "
              "way; --skip-existing resumes an earlier run, --overwrite replaces its files", file=sys.stderr)
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
        return
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorizer", description="Automatic colourisation of black-and-white photos.")
    parser.add_argument("--version", action="version", version=f"colorizer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_colorize_command(sub)
    from colorizer.bench import add_bench_command
    from colorizer.train.eval_command import add_eval_command
    from colorizer.train.finetune_command import add_finetune_command
    from colorizer.train.train_command import add_train_command

    add_train_command(sub)
    add_finetune_command(sub)
    add_eval_command(sub)
    add_bench_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="colorizer: %(message)s")
    try:
        with terminate_as_interrupt():  # SIGTERM rolls back like Ctrl+C
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"colorizer: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130


if __name__ == "__main__":
    sys.exit(main())
