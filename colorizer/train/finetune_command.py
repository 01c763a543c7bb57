"""The ``colorizer finetune`` sub-command: teach the colouriser the colours of your own photos.

stderr: progress with an ETA per phase, then a table (gray input, start model and fine-tuned model
on the held-out photos) and one line saying what was written or why not. stdout: one JSON line.
Exit status: 0 written, 1 error (e.g. too few usable photos), 3 refused (not better than the start
model on the held-out photos), 130 interrupted outside training (nothing written;
Ctrl+C during training only ends it early).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizer.provenance import describe_look
from colorizer.train.finetune import PHASES, FinetuneConfig, FinetuneProgress, FinetuneResult

EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130
DEFAULTS = FinetuneConfig()


def add_finetune_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``colorizer finetune PHOTOS... -o MINE.safetensors``."""
    p = subparsers.add_parser(
        "finetune", help="teach the colouriser your colours (fine-tune on your colour photos)",
        description="Fine-tune the colouriser on your own colour photos (later prints, a catalogue, your own shots of "
                    "the same people and places) in a few minutes. A tenth of the photos is held out: training keeps "
                    "the state that does best on them, and the new model is written only if it beats the start model "
                    "there. Ctrl+C stops training early and keeps the best state so far. Use the result with "
                    "`colorizer colorize --weights MINE.safetensors`.")
    p.add_argument("photos", nargs="+", metavar="PHOTOS", help="colour photos or folders of them (recursive)")
    p.add_argument("-o", "--out", required=True, metavar="MINE.safetensors", help="weights file to write")
    p.add_argument("--init", metavar="FILE", help="start from these weights (default: the bundled model)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train (default: auto)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="keep the backbone features here, so a second run on the same photos starts faster "
                        "(default: a temporary folder)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or table; only the JSON line and errors")
    a = p.add_argument_group("advanced (the defaults suit 20-200 photos)")
    a.add_argument("--steps", type=int, default=DEFAULTS.steps, help=f"training steps (default: {DEFAULTS.steps})")
    a.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"learning rate (default: {DEFAULTS.lr})")
    a.add_argument("--l2sp", type=float, default=DEFAULTS.l2sp,
                   help=f"pull towards the start weights, so general knowledge stays (default: {DEFAULTS.l2sp})")
    a.add_argument("--augs-per-image", type=int, default=DEFAULTS.augs_per_image,
                   help=f"augmented crops per photo (default: {DEFAULTS.augs_per_image})")
    a.add_argument("--min-gain", type=float, default=DEFAULTS.min_gain_db, metavar="DB",
                   help=f"write only if held-out PSNR improves by more than this (default: {DEFAULTS.min_gain_db})")
    a.add_argument("--keep-look", action="store_true",
                   help="show the new model with the start model's neutral balance instead of choosing it on your "
                        "photos (by default less tint removal is chosen when your photos score better with it)")
    a.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"random seed (default: {DEFAULTS.seed})")
    p.set_defaults(func=run_finetune)
    return p


class ProgressBars:
    """One tqdm bar per phase on stderr (each with its own ETA)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.phase = ""

    def __call__(self, p: FinetuneProgress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.phase != self.phase:
            self.close()
            self.phase = p.phase
            self.bar = tqdm(total=p.total, desc=f"[{p.index}/{len(PHASES)}] {p.phase}", file=sys.stderr,
                            dynamic_ncols=True, unit="step" if p.phase == "training" else "")
        self.bar.total = p.total
        self.bar.update(max(0, p.done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_summary(result: FinetuneResult) -> str:
    """The held-out comparison as a table, with the photo counts above it."""
    skipped = ", ".join(f"{n} {reason}" for reason, n in result.skipped.items()) or "none"
    lines = [f"{result.photos} training photos, {result.held_out} held out (skipped: {skipped}); "
             f"best of {result.steps} steps: {result.best_step}; {result.seconds / 60:.1f} min"
             + (" (stopped early)" if result.interrupted else "")
             + (" (" + ", ".join(f"{phase} {s:.0f} s" for phase, s in result.phase_seconds.items()) + ")"
                if result.phase_seconds else ""),
             f"{'on the held-out photos':28s} {'PSNR (dB)':>10s} {'ab RMSE':>10s}"]
    for label, fig in (("gray input", result.gray), (result.start_model, result.start), ("fine-tuned", result.new)):
        lines.append(f"{label[:28]:28s} {fig['psnr']:10.2f} {fig['ab_rmse']:10.2f}")
    look = result.look
    if look.get("psnr"):
        by_removal = sorted(look["psnr"].items(), key=lambda kv: -float(kv[0]))
        scores = ", ".join(f"{float(k):g}: {v:.2f} dB" for k, v in by_removal)
        lines.append(f"look: {describe_look(look)}; {result.start_model} on your {look['photos']} training photos: {scores}")
    return "\n".join(lines)


def run_finetune(args: argparse.Namespace) -> int:
    from colorizer.train.data import DataError
    from colorizer.train.finetune import FinetuneCancelled, FinetuneError, finetune
    from colorizer.weights import WeightsError

    bars = ProgressBars(not args.quiet)
    try:
        config = FinetuneConfig(steps=args.steps, lr=args.lr, l2sp=args.l2sp, augs_per_image=args.augs_per_image,
                                min_gain_db=args.min_gain, choose_look=not args.keep_look, seed=args.seed,
                                device=args.device, threads=args.threads, cache_dir=args.cache_dir)
        result = finetune(args.photos, args.out, init=args.init, config=config, progress=bars)
    except (FinetuneError, DataError, WeightsError, ValueError, OSError) as exc:
        bars.close()
        print(f"colorizer finetune: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, FinetuneCancelled):
        bars.close()
        print("colorizer finetune: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    bars.close()
    print(json.dumps(result.to_json()))
    if not args.quiet:
        for reason, path, detail in result.skipped_files[:10]:
            print(f"skipped ({reason}): {path}: {detail}" if detail and not detail.startswith(path)
                  else f"skipped ({reason}): {detail or path}", file=sys.stderr)
        if len(result.skipped_files) > 10:
            print(f"... and {len(result.skipped_files) - 10} more skipped", file=sys.stderr)
        print(format_summary(result), file=sys.stderr)
    if result.written is None:
        print(f"colorizer finetune: {result.refused}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"colorizer finetune: wrote {result.written}; use it with: colorizer colorize --weights "
          f"{Path(result.written)} ...", file=sys.stderr)
    return 0
