"""Folder processing shared by the command line and the app.

Inputs are files or folders (recursive; the sub-folder structure is kept under the output folder).
Each file is processed on its own: a bad file is reported and the batch goes on. Outputs are
written atomically and never over an input; if a file is interrupted (Ctrl+C) the outputs already
written for it are removed, so a photo is either fully done or not at all (``skip_existing`` then
resumes correctly). In the grouped CUDA path, writes already running when Ctrl+C arrives are
finished rather than rolled back (each output file is complete either way). On CUDA, photos go through the network in groups (``predict_batch``) and are
decoded, rendered and written by a few worker threads.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from colorizer.imageio import (DEFAULT_MAX_PIXELS, ImageReadError, ImageWriteError, LoadedImage, is_image_file,
                               load_image, save_image)
from colorizer.pipeline import Colorizer, Prediction, RenderResult, RenderSettings
from colorizer.visual import uncertainty_to_rgb

OUTPUT_FORMATS = ("png", "jpg", "tif", "webp")
CUDA_BATCH_SIZE = 16
GROUP_PIXEL_BUDGET = 64_000_000


@dataclass
class ColorizeOptions:
    """What to produce for each photo.

    ``batch_size``: photos per network pass (0 = automatic: 16 on CUDA, 1 on the CPU);
    ``workers``: threads that decode/render/write in the grouped path (0 = automatic);
    ``keep_16bit``: 16-bit inputs give 16-bit PNG outputs; ``max_pixels``: decompression-bomb limit.
    """

    settings: RenderSettings = field(default_factory=RenderSettings)
    uncertainty: bool = False
    reference: Path | np.ndarray | None = None
    reference_method: str = "energy"
    match_strength: float = 1.0
    samples: int = 0
    seed: int = 0
    hints: list = field(default_factory=list)
    skip_existing: bool = False
    output_format: str = "png"
    max_pixels: int = DEFAULT_MAX_PIXELS
    batch_size: int = 0
    workers: int = 0
    keep_16bit: bool = True


@dataclass
class Job:
    source: Path
    output: Path


@dataclass
class FileResult:
    source: Path
    outputs: list[Path] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return {"input": str(self.source), "outputs": [str(p) for p in self.outputs], "ok": self.ok,
                "error": self.error, "skipped": self.skipped, "seconds": round(self.seconds, 4),
                "notes": self.notes, "width": self.size[0] if self.size else None,
                "height": self.size[1] if self.size else None}


@dataclass
class BatchReport:
    results: list[FileResult] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.skipped]

    @property
    def done(self) -> list[FileResult]:
        """Photos actually colourised in this run."""
        return [r for r in self.results if r.ok and not r.skipped]

    def summary(self) -> str:
        """One line: counts, time and throughput."""
        n = len(self.done)
        rate = f", {n / self.seconds:.2f} photos/s" if n and self.seconds > 0 else ""
        state = " (cancelled)" if self.cancelled else ""
        return (f"{n} colourised, {len(self.skipped)} skipped, {len(self.failures)} failed "
                f"in {self.seconds:.1f} s{rate}{state}")


@dataclass
class ProgressTracker:
    """Estimates the time left from the photos processed so far (skipped ones cost ~nothing)."""

    total: int
    done: int = 0
    processed: int = 0
    start: float = field(default_factory=time.perf_counter)
    first: float | None = None
    busy: float = 0.0

    def update(self, result: FileResult) -> None:
        now = time.perf_counter()
        self.done += 1
        if not result.skipped:
            if self.first is None:
                self.first = now - result.seconds
            self.processed += 1
            self.busy = now - self.first

    def eta_seconds(self) -> float | None:
        """Seconds left, or None until one photo has been processed."""
        if self.processed == 0:
            return None
        return max(0.0, (self.total - self.done) * self.busy / self.processed)

    def eta_text(self) -> str:
        eta = self.eta_seconds()
        if eta is None:
            return "ETA --"
        m, s = divmod(int(round(eta)), 60)
        h, m = divmod(m, 60)
        return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def collect_jobs(inputs: Iterable[str | Path], out_dir: str | Path, output_format: str = "png") -> tuple[list[Job], list[FileResult]]:
    """Map inputs to outputs ``OUTDIR/[sub/]<stem>.<fmt>``; missing inputs become failed results.

    Folders are searched recursively (hidden files skipped); files already under ``out_dir`` are not
    taken as inputs (so ``-o photos/out`` can be re-run); an input named twice is processed once.
    """
    out_dir = Path(out_dir)
    jobs: list[Job] = []
    problems: list[FileResult] = []
    taken: set[Path] = set()
    seen: set[Path] = set()
    for item in inputs:
        src = Path(item)
        if src.is_dir():
            files = sorted(p for p in src.rglob("*") if p.is_file() and is_image_file(p.relative_to(src))
                           and not any(part.startswith(".") for part in p.relative_to(src).parts)
                           and not (_inside(out_dir, src) and _inside(p, out_dir)))
            if not files:
                problems.append(FileResult(src, error=f"{src}: folder contains no images"))
            pairs = [(p, p.relative_to(src).parent) for p in files]
        elif src.is_file():
            pairs = [(src, Path())]
        else:
            problems.append(FileResult(src, error=f"{src}: file not found"))
            continue
        for path, sub in pairs:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            out = out_dir / sub / f"{path.stem}.{output_format}"
            n = 1
            while out in taken:  # a.jpg and a.png in one folder
                tag = path.suffix.lstrip(".").lower() + ("" if n == 1 else str(n))
                out = out_dir / sub / f"{path.stem}_{tag}.{output_format}"
                n += 1
            taken.add(out)
            jobs.append(Job(path, out))
    sources = {job.source.resolve() for job in jobs}
    clashes = [job for job in jobs if job.output.resolve() in sources]
    for job in clashes:
        problems.append(FileResult(job.source, error=f"{job.source}: its output {job.output} would overwrite an input; "
                                                     "choose another output folder"))
    return [job for job in jobs if job not in clashes], problems


def variant_path(output: Path, suffix: str) -> Path:
    return output.with_name(f"{output.stem}{suffix}{output.suffix}")


def render_outputs(colorizer: Colorizer, prediction: Prediction, options: ColorizeOptions) -> Iterator[tuple[str, RenderResult]]:
    """The renders to write for one photo: ``("", main)`` and, with samples, ``("_s1", ...)`` ...

    ``reference`` (a path or an RGB array) pulls the palette by energy minimisation (or by quantile
    matching when ``options.reference_method == "quantile"``); ``hints`` are
    ``energy.Hint`` objects or ``MASK.png:#RRGGBB`` strings. Samples start from the main render's biases.
    """
    from colorizer import energy
    from colorizer.imageio import ImageReadError, load_rgb

    method = options.reference_method
    biases: list = [None] * len(prediction.log_probs)
    reference_rgb = None
    if options.reference is not None:
        reference_rgb = options.reference if not isinstance(options.reference, (str, Path)) else load_rgb(options.reference)
        if method == "energy":
            biases = energy.reference_biases(prediction, reference_rgb, options.match_strength)
    if options.hints:
        try:
            hints = [h if isinstance(h, energy.Hint) else energy.Hint.from_spec(str(h)) for h in options.hints]
        except ValueError as exc:
            raise ImageReadError(str(exc)) from None
        biases = energy.add_biases(biases, energy.hint_biases(prediction, hints, base=biases))
    main = colorizer.render(prediction, options.settings, biases)
    if reference_rgb is not None and method == "quantile":
        main = energy.quantile_transfer(main, reference_rgb, options.match_strength)
    yield "", main
    del main
    samples = energy.iter_samples(prediction, options.samples, options.seed, options.settings, base=biases)
    for i, render in enumerate(samples):
        yield f"_s{i + 1}", render


def _error_text(job: Job, exc: BaseException) -> str:
    """One line that names the file and the reason."""
    if isinstance(exc, MemoryError):
        return f"{job.source}: not enough memory to process this image"
    text = " ".join(str(exc).split())
    if not isinstance(exc, (ImageReadError, ImageWriteError)):
        text = f"failed ({type(exc).__name__}: {text})" if text else f"failed ({type(exc).__name__})"
    return text if str(job.source) in text else f"{job.source}: {text}"


def _skip(job: Job, options: ColorizeOptions, result: FileResult) -> bool:
    """Resume support: the main output exists (it is complete, outputs are written atomically)."""
    if options.skip_existing and job.output.exists():
        result.skipped = True
        result.outputs.append(job.output)
        return True
    return False


def _load(job: Job, options: ColorizeOptions, result: FileResult) -> LoadedImage | None:
    start = time.perf_counter()
    try:
        image = load_image(job.source, options.max_pixels)
        result.size = image.size
        result.notes.extend(image.notes)
        return image
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
        result.error = _error_text(job, exc)
        return None
    finally:
        result.seconds += time.perf_counter() - start


def _write_outputs(colorizer: Colorizer, job: Job, image: LoadedImage, prediction: Prediction,
                   options: ColorizeOptions, protect: tuple[Path, ...], result: FileResult) -> None:
    """Render and save one photo's outputs, all or nothing: on any failure or interrupt the outputs
    already written for this photo are removed again."""
    start = time.perf_counter()
    written: list[Path] = []
    depth = 16 if options.keep_16bit and image.bit_depth == 16 and job.output.suffix.lower() == ".png" else 8
    try:
        for suffix, render in render_outputs(colorizer, prediction, options):
            out = variant_path(job.output, suffix)
            written.append(save_image(out, render.rgb, image.alpha, source=image, protect=protect, depth=depth))
            if options.uncertainty and suffix == "":
                unc = variant_path(job.output, "_uncertainty")
                written.append(save_image(unc, uncertainty_to_rgb(render.uncertainty), protect=protect))
        result.outputs.extend(written)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if not isinstance(exc, Exception):
            raise
        result.error = _error_text(job, exc)
    finally:
        result.seconds += time.perf_counter() - start


def process_file(colorizer: Colorizer, job: Job, options: ColorizeOptions, protect: tuple[Path, ...] = ()) -> FileResult:
    """Colourise one file; every failure becomes ``FileResult.error`` (one line naming the file)."""
    result = FileResult(job.source)
    if _skip(job, options, result):
        return result
    image = _load(job, options, result)
    if image is None:
        return result
    start = time.perf_counter()
    try:
        prediction = colorizer.predict_batch([image.lightness])[0]
    except Exception as exc:  # noqa: BLE001
        result.error = _error_text(job, exc)
        return result
    finally:
        result.seconds += time.perf_counter() - start
    _write_outputs(colorizer, job, image, prediction, options, protect, result)
    return result


def batch_size_for(colorizer: Colorizer, options: ColorizeOptions) -> int:
    """Photos per network pass: ``options.batch_size``, or 16 on CUDA and 1 on the CPU."""
    if options.batch_size > 0:
        return options.batch_size
    return CUDA_BATCH_SIZE if colorizer.device.type == "cuda" else 1


def run_batch(colorizer: Colorizer, jobs: list[Job], options: ColorizeOptions,
              progress: Callable[[int, int, FileResult], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> BatchReport:
    """Process ``jobs`` in order; ``progress(done, total, result)`` after each, ``cancel()`` polled before each.

    Per-file errors are collected in the report. KeyboardInterrupt propagates after the photo in
    progress has been rolled back (no partial outputs). With a batch size above 1 (CUDA by default)
    photos are grouped through ``Colorizer.predict_batch``.
    """
    report = BatchReport()
    start = time.perf_counter()
    protect = tuple(job.source for job in jobs)
    try:
        if batch_size_for(colorizer, options) <= 1:
            for i, job in enumerate(jobs):
                if cancel is not None and cancel():
                    report.cancelled = True
                    break
                result = process_file(colorizer, job, options, protect)
                report.results.append(result)
                if progress is not None:
                    progress(i + 1, len(jobs), result)
        else:
            _run_grouped(colorizer, jobs, options, protect, report, progress, cancel)
    finally:
        report.seconds = time.perf_counter() - start
    return report


def _peek_pixels(path: Path) -> int:
    try:
        with Image.open(path) as img:
            return img.size[0] * img.size[1]
    except Exception:  # noqa: BLE001 - a bad file is reported when it is loaded
        return 0


def job_groups(jobs: list[Job], size: int, pixel_budget: int = GROUP_PIXEL_BUDGET) -> list[list[Job]]:
    """Consecutive groups of at most ``size`` jobs and about ``pixel_budget`` full-resolution pixels."""
    groups: list[list[Job]] = []
    current: list[Job] = []
    pixels = 0
    for job in jobs:
        n = _peek_pixels(job.source)
        if current and (len(current) >= size or pixels + n > pixel_budget):
            groups.append(current)
            current, pixels = [], 0
        current.append(job)
        pixels += n
    if current:
        groups.append(current)
    return groups


def _predict_group(colorizer: Colorizer, group: list[Job], images: dict[int, LoadedImage],
                   results: list[FileResult]) -> dict[int, Prediction]:
    """One ``predict_batch`` for the group; if it fails (e.g. out of GPU memory), one photo at a time."""
    keys = list(images)
    start = time.perf_counter()
    try:
        preds = dict(zip(keys, colorizer.predict_batch([images[k].lightness for k in keys])))
    except Exception:  # noqa: BLE001
        if colorizer.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()  # e.g. after an out-of-memory error on the whole group
        preds = {}
        for k in keys:
            try:
                preds[k] = colorizer.predict_batch([images[k].lightness])[0]
            except Exception as exc:  # noqa: BLE001
                results[k].error = _error_text(group[k], exc)
    share = (time.perf_counter() - start) / max(1, len(keys))
    for k in keys:
        results[k].seconds += share
    return preds


def _run_grouped(colorizer: Colorizer, jobs: list[Job], options: ColorizeOptions, protect: tuple[Path, ...],
                 report: BatchReport, progress: Callable[[int, int, FileResult], None] | None,
                 cancel: Callable[[], bool] | None) -> None:
    """Groups through the network; decoding, rendering and writing on worker threads, reported in order."""
    workers = options.workers or max(1, min(4, os.cpu_count() or 1))
    done = 0
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="colorizer-batch")
    try:
        for group in job_groups(jobs, batch_size_for(colorizer, options)):
            if cancel is not None and cancel():
                report.cancelled = True
                break
            results = [FileResult(job.source) for job in group]
            todo = [k for k, job in enumerate(group) if not _skip(job, options, results[k])]
            loaded = pool.map(lambda k: (k, _load(group[k], options, results[k])), todo)
            images = {k: image for k, image in loaded if image is not None}
            preds = _predict_group(colorizer, group, images, results)
            futures: dict[int, Future] = {
                k: pool.submit(_write_outputs, colorizer, group[k], images[k], preds[k], options, protect, results[k])
                for k in preds}
            del images, preds
            for k, result in enumerate(results):
                if cancel is not None and cancel():
                    report.cancelled = True
                    for future in futures.values():
                        future.cancel()
                if k in futures:
                    if futures[k].cancelled():
                        continue
                    futures[k].result()
                elif report.cancelled:
                    continue
                report.results.append(result)
                done += 1
                if progress is not None:
                    progress(done, len(jobs), result)
            if report.cancelled:
                break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
