"""The batch loop: one photo at a time (CPU), or groups through the network with writer threads (CUDA)."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from colorizer.atomic import clean_stale_temp_files
from colorizer.batch.jobs import Job, job_groups
from colorizer.batch.outputs import OutputClaims, OutputPlan
from colorizer.batch.photo import ColorizeOptions, error_text, load_photo, plan_outputs, process_file, write_outputs
from colorizer.batch.report import BatchReport, FileResult
from colorizer.imageio import LoadedImage
from colorizer.pipeline import Colorizer, Prediction

log = logging.getLogger(__name__)

CUDA_BATCH_SIZE = 16
Progress = Callable[[int, int, FileResult], None]


def batch_size_for(colorizer: Colorizer, options: ColorizeOptions) -> int:
    """Photos per network pass: ``options.batch_size``, or 16 on CUDA and 1 on the CPU."""
    if options.batch_size > 0:
        return options.batch_size
    return CUDA_BATCH_SIZE if colorizer.device.type == "cuda" else 1


def run_batch(colorizer: Colorizer, jobs: list[Job], options: ColorizeOptions, progress: Progress | None = None,
              cancel: Callable[[], bool] | None = None) -> BatchReport:
    """Process ``jobs`` in order; ``progress(done, total, result)`` after each, ``cancel()`` polled before each.

    Per-file errors are collected in the report. KeyboardInterrupt (and SIGTERM, see
    :mod:`colorizer.interrupts`) propagates after the photo in progress has been rolled back (no partial
    outputs). Stale temporary files of killed runs are removed from the output folders first. With a
    batch size above 1 (CUDA by default) photos are grouped through ``Colorizer.predict_batch``.
    """
    report = BatchReport()
    start = time.perf_counter()
    protect = tuple(job.source for job in jobs)
    claims = OutputClaims(jobs, options.suffixes(), protect)
    for folder in sorted({job.output.parent for job in jobs}):
        clean_stale_temp_files(folder)
    try:
        if batch_size_for(colorizer, options) <= 1:
            for i, job in enumerate(jobs):
                if cancel is not None and cancel():
                    report.cancelled = True
                    break
                result = process_file(colorizer, job, options, protect, claims)
                report.results.append(result)
                if progress is not None:
                    progress(i + 1, len(jobs), result)
        else:
            _run_grouped(colorizer, jobs, options, protect, claims, report, progress, cancel)
    finally:
        report.seconds = time.perf_counter() - start
    return report


def _predict_group(colorizer: Colorizer, group: list[Job], images: dict[int, LoadedImage],
                   results: list[FileResult]) -> dict[int, Prediction]:
    """One ``predict_batch`` for the group; if it fails (e.g. out of GPU memory), one photo at a time."""
    keys = list(images)
    start = time.perf_counter()
    try:
        preds = dict(zip(keys, colorizer.predict_batch([images[k].lightness for k in keys])))
    except Exception:  # noqa: BLE001 - each photo is retried alone below, and its own error is reported
        log.debug("batch prediction of %d photos failed; retrying one at a time", len(keys), exc_info=True)
        if colorizer.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()  # e.g. after an out-of-memory error on the whole group
        preds = {}
        for k in keys:
            try:
                preds[k] = colorizer.predict_batch([images[k].lightness])[0]
            except Exception as exc:  # noqa: BLE001
                results[k].error = error_text(group[k], exc)
    share = (time.perf_counter() - start) / max(1, len(keys))
    for k in keys:
        results[k].seconds += share
    return preds


def _run_grouped(colorizer: Colorizer, jobs: list[Job], options: ColorizeOptions, protect: tuple[Path, ...],
                 claims: OutputClaims, report: BatchReport, progress: Progress | None,
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
            plans: dict[int, OutputPlan] = {}
            for k, job in enumerate(group):
                plan = plan_outputs(job, options, claims, results[k])
                if plan is not None:
                    plans[k] = plan
            loaded = pool.map(lambda k: (k, load_photo(group[k], options, results[k])), plans)
            images = {k: image for k, image in loaded if image is not None}
            preds = _predict_group(colorizer, group, images, results)
            futures: dict[int, Future] = {
                k: pool.submit(write_outputs, group[k], images[k], preds[k], options, plans[k], protect, results[k])
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
