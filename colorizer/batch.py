"""Folder processing shared by the command line and the app.

Inputs are files or folders (recursive; the sub-folder structure is kept under the output folder).
Each file is processed on its own: a bad file is reported and the batch goes on. Outputs are
written atomically and never over an input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from colorizer.imageio import ImageReadError, ImageWriteError, is_image_file, load_image, save_image
from colorizer.pipeline import Colorizer, Prediction, RenderResult, RenderSettings
from colorizer.visual import uncertainty_to_rgb

OUTPUT_FORMATS = ("png", "jpg", "tif", "webp")


class UnsupportedOption(RuntimeError):
    """An option that this build cannot honour yet."""


@dataclass
class ColorizeOptions:
    """What to produce for each photo."""

    settings: RenderSettings = field(default_factory=RenderSettings)
    uncertainty: bool = False
    reference: Path | None = None
    match_strength: float = 1.0
    samples: int = 0
    seed: int = 0
    hints: list = field(default_factory=list)
    skip_existing: bool = False
    output_format: str = "png"


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

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]


def collect_jobs(inputs: Iterable[str | Path], out_dir: str | Path, output_format: str = "png") -> tuple[list[Job], list[FileResult]]:
    """Map inputs to outputs ``OUTDIR/[sub/]<stem>.<fmt>``; missing inputs become failed results."""
    out_dir = Path(out_dir)
    jobs: list[Job] = []
    problems: list[FileResult] = []
    taken: set[Path] = set()
    for item in inputs:
        src = Path(item)
        if src.is_dir():
            files = sorted(p for p in src.rglob("*") if p.is_file() and is_image_file(p.relative_to(src)))
            if not files:
                problems.append(FileResult(src, error=f"{src}: folder contains no images"))
            pairs = [(p, p.relative_to(src).parent) for p in files]
        elif src.is_file():
            pairs = [(src, Path())]
        else:
            problems.append(FileResult(src, error=f"{src}: file not found"))
            continue
        for path, sub in pairs:
            out = out_dir / sub / f"{path.stem}.{output_format}"
            if out in taken:  # a.jpg and a.png in one folder
                out = out_dir / sub / f"{path.stem}_{path.suffix.lstrip('.').lower()}.{output_format}"
            taken.add(out)
            jobs.append(Job(path, out))
    return jobs, problems


def variant_path(output: Path, suffix: str) -> Path:
    return output.with_name(f"{output.stem}{suffix}{output.suffix}")


def render_outputs(colorizer: Colorizer, prediction: Prediction, options: ColorizeOptions) -> list[tuple[str, RenderResult]]:
    """The renders to write for one photo: ``("", main)`` and, with samples, ``("_s1", ...)`` ..."""
    if options.reference is not None or options.samples or options.hints:
        raise UnsupportedOption("--reference, --samples and --hint need the energy module, which is not in this build")
    return [("", colorizer.render(prediction, options.settings))]


def process_file(colorizer: Colorizer, job: Job, options: ColorizeOptions, protect: tuple[Path, ...] = ()) -> FileResult:
    """Colourise one file; every failure becomes ``FileResult.error`` (one line naming the file)."""
    start = time.perf_counter()
    result = FileResult(job.source)
    if options.skip_existing and job.output.exists():
        result.skipped = True
        result.outputs.append(job.output)
        return result
    try:
        image = load_image(job.source)
        result.size = image.size
        result.notes.extend(image.notes)
        prediction = colorizer.predict(image.lightness)
        for suffix, render in render_outputs(colorizer, prediction, options):
            out = variant_path(job.output, suffix)
            result.outputs.append(save_image(out, render.rgb8(), image.alpha, source=image, protect=protect))
            if options.uncertainty and suffix == "":
                unc = variant_path(job.output, "_uncertainty")
                result.outputs.append(save_image(unc, uncertainty_to_rgb(render.uncertainty), protect=protect))
    except (ImageReadError, ImageWriteError, UnsupportedOption) as exc:
        result.error = str(exc)
    except MemoryError:
        result.error = f"{job.source}: not enough memory to process this image"
    result.seconds = time.perf_counter() - start
    return result


def run_batch(colorizer: Colorizer, jobs: list[Job], options: ColorizeOptions,
              progress: Callable[[int, int, FileResult], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> BatchReport:
    """Process ``jobs`` in order; ``progress(done, total, result)`` after each, ``cancel()`` polled before each."""
    report = BatchReport()
    protect = tuple(job.source for job in jobs)
    for i, job in enumerate(jobs):
        if cancel is not None and cancel():
            report.cancelled = True
            break
        result = process_file(colorizer, job, options, protect)
        report.results.append(result)
        if progress is not None:
            progress(i + 1, len(jobs), result)
    return report
