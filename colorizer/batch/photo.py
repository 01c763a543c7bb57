"""One photo of a batch: load it, render what its recipe makes, write every output or none."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterator

from colorizer.batch.jobs import OUTPUT_FORMATS, Job
from colorizer.batch.outputs import OutputClaims, OutputPlan, output_suffixes
from colorizer.batch.report import FileResult
from colorizer.imageio import (DEFAULT_MAX_PIXELS, ImageReadError, ImageWriteError, LoadedImage, check_memory,
                               image_header, load_image, save_image)
from colorizer.limits import check_number
from colorizer.messages import one_line
from colorizer.pipeline import Colorizer, Prediction, RenderResult
from colorizer.strips import streamed_render
from colorizer.recipe import Recipe, RecipeError, ReferencePixels, RenderCache, SampleChoice, render
from colorizer.strips import MappedRows
from colorizer.visual import uncertainty_to_rgb


@dataclass
class ColorizeOptions:
    """What to produce for each photo.

    ``recipe``: the look every photo gets unless its job carries its own; ``samples``/``seed``: also
    write that many alternative colourisations; ``references``: reference photos, read once per batch;
    ``batch_size``: photos per network pass (0 = automatic: 16 on CUDA, 1 on the CPU); ``workers``:
    threads that decode/render/write in the grouped path (0 = automatic); ``keep_16bit``: 16-bit inputs
    give 16-bit PNG outputs; ``max_pixels``: decompression-bomb limit; ``skip_existing``: resume (a photo
    whose outputs all exist and are whole is skipped, missing ones are completed); ``overwrite``: replace
    existing files in the output folder (otherwise a taken name moves the photo's outputs to a free one).
    """

    recipe: Recipe = field(default_factory=Recipe)
    uncertainty: bool = False
    samples: int = 0
    seed: int = 0
    skip_existing: bool = False
    output_format: str = "png"
    max_pixels: int = DEFAULT_MAX_PIXELS
    batch_size: int = 0
    workers: int = 0
    keep_16bit: bool = True
    references: ReferencePixels = field(default_factory=ReferencePixels)
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name, low in (("samples", 0), ("seed", 0), ("batch_size", 0), ("workers", 0), ("max_pixels", 1)):
            check_number(name, getattr(self, name), low, None, integer=True)
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, not {self.output_format!r}")

    def suffixes(self) -> list[str]:
        """The suffixes of each photo's outputs (``""``, ``_uncertainty``, ``_s1``...)."""
        return output_suffixes(self.uncertainty, self.samples)


def render_outputs(prediction: Prediction, recipe: Recipe, options: ColorizeOptions,
                   wanted: Collection[str] | None = None) -> Iterator[tuple[str, RenderResult]]:
    """The renders to write for one photo: ``("", main)`` (it also gives ``_uncertainty``) and, with
    samples, ``("_s1", ...)`` ...; only those ``wanted`` (default: all the options ask for).

    Samples are alternatives of the same recipe (its reference and hints kept), rendered one at a time.
    """
    cache = RenderCache(options.references)
    wanted = set(options.suffixes() if wanted is None else wanted)
    if wanted & {"", "_uncertainty"}:
        yield "", render(prediction, recipe, cache=cache)
    alternative = recipe.replace(sample=None)
    for i in range(options.samples):
        if f"_s{i + 1}" in wanted:
            choice = SampleChoice(options.seed, i, options.samples)
            yield f"_s{i + 1}", render(prediction, alternative.replace(sample=choice), cache=cache)


def error_text(job: Job, exc: BaseException) -> str:
    """One line that names the file and the reason."""
    if isinstance(exc, MemoryError):
        return f"{job.source}: not enough memory to process this image"
    text = one_line(exc, 1000)
    if not isinstance(exc, (ImageReadError, ImageWriteError, RecipeError)):
        text = f"failed ({type(exc).__name__}: {text})" if str(exc).strip() else f"failed ({type(exc).__name__})"
    return text if str(job.source) in text else f"{job.source}: {text}"


def plan_outputs(job: Job, options: ColorizeOptions, claims: OutputClaims, result: FileResult) -> OutputPlan | None:
    """Where the job's outputs go (see :mod:`colorizer.batch.outputs`); None when there is nothing to
    do: the outputs exist and are whole (``skip_existing``; the result says skipped) or no name is free."""
    try:
        plan = claims.plan(job.source, job.output, options.overwrite, options.skip_existing)
    except FileExistsError as exc:
        result.error = error_text(job, exc)
        return None
    if plan.note:
        result.warnings.append(f"{job.source}: {plan.note}")
    result.renamed_past_existing = plan.past_existing
    if plan.done:
        result.skipped = True
        result.outputs.extend(plan.kept)
        return None
    return plan


def load_photo(job: Job, options: ColorizeOptions, result: FileResult) -> LoadedImage | None:
    """Read the job's photo; a failure becomes ``result.error`` and None."""
    start = time.perf_counter()
    try:
        header = image_header(job.source)
        if header.pixels <= options.max_pixels:  # over the limit: load_image says so
            check_memory(job.source, header)
        image = load_image(job.source, options.max_pixels)
        result.size = image.size
        result.notes.extend(image.notes)
        return image
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
        result.error = error_text(job, exc)
        return None
    finally:
        result.seconds += time.perf_counter() - start


def write_outputs(job: Job, image: LoadedImage, prediction: Prediction, options: ColorizeOptions, plan: OutputPlan,
                  protect: tuple[Path, ...], result: FileResult) -> None:
    """Render and save one photo's planned outputs, all or nothing: on any failure or interrupt the
    outputs already written for this photo are removed again (kept ones of an earlier run stay).

    Renders are streamed: each output is computed strip by strip as it is encoded, so a big photo
    never needs its whole float image in memory.
    """
    start = time.perf_counter()
    written: list[Path] = []
    depth = 16 if options.keep_16bit and image.bit_depth == 16 and job.output.suffix.lower() == ".png" else 8
    todo = plan.write
    try:
        with streamed_render():
            for suffix, rendered in render_outputs(prediction, job.recipe or options.recipe, options, todo):
                if suffix in todo:
                    written.append(save_image(todo[suffix], rendered.rgb_rows(), image.alpha, source=image,
                                              protect=protect, depth=depth, replace=plan.replace))
                if suffix == "" and "_uncertainty" in todo:
                    written.append(save_image(todo["_uncertainty"], MappedRows(rendered.uncertainty_rows(),
                                                                               uncertainty_to_rgb),
                                              protect=protect, replace=plan.replace))
        result.outputs.extend(plan.kept + written)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if not isinstance(exc, Exception):
            raise
        result.error = error_text(job, exc)
    finally:
        result.seconds += time.perf_counter() - start


def process_file(colorizer: Colorizer, job: Job, options: ColorizeOptions, protect: tuple[Path, ...] = (),
                 claims: OutputClaims | None = None) -> FileResult:
    """Colourise one file; every failure becomes ``FileResult.error`` (one line naming the file).

    ``claims``: the run's output names (default: this job alone, with its source protected).
    """
    result = FileResult(job.source)
    claims = claims or OutputClaims([job], options.suffixes(), protect + (job.source,))
    plan = plan_outputs(job, options, claims, result)
    if plan is None:
        return result
    image = load_photo(job, options, result)
    if image is None:
        return result
    start = time.perf_counter()
    try:
        prediction = colorizer.predict_batch([image.lightness])[0]
    except Exception as exc:  # noqa: BLE001
        result.error = error_text(job, exc)
        return result
    finally:
        result.seconds += time.perf_counter() - start
    write_outputs(job, image, prediction, options, plan, protect, result)
    return result
