"""The cases of ``colorizer bench``: one photo size end to end, the energy panel, batch throughput."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from colorizer import energy
from colorizer.bench.timing import stats, synthetic_photo, timed
from colorizer.pipeline import Colorizer, posterior, preview_prediction, render_probs
from colorizer.render_settings import RenderSettings


def bench_size(colorizer: Colorizer, name: str, shape: tuple[int, int], repeats: int, workdir: Path) -> dict:
    """predict, render, re-render, decode, encode and the whole file -> file path for one size."""
    from colorizer.imageio import load_image, save_image

    h, w = shape
    gray = synthetic_photo(h, w)
    src = workdir / f"in_{name}.jpg"
    cv2.imwrite(str(src), gray, [cv2.IMWRITE_JPEG_QUALITY, 92])
    image = load_image(src)
    sync = _sync(colorizer)
    pred = colorizer.predict_batch([image.lightness])[0]
    render = colorizer.render(pred)
    changed = RenderSettings().replace(temperature=0.6, chroma_gain=1.3, hue_bias=0.5, hue_direction=0.25)
    out = workdir / f"out_{name}.png"

    def predict() -> None:
        colorizer.predict_batch([image.lightness])
        sync()

    def end_to_end() -> None:
        colorizer.render(colorizer.predict_batch([image.lightness])[0])

    def file_to_file() -> None:
        img = load_image(src)
        result = colorizer.render(colorizer.predict_batch([img.lightness])[0])
        save_image(out, result.rgb, img.alpha, source=img)

    row = {"width": w, "height": h, "megapixels": round(h * w / 1e6, 2),
           "end_to_end": stats(timed(end_to_end, repeats)),
           "predict": stats(timed(predict, repeats)),
           "render": stats(timed(lambda: colorizer.render(pred), repeats)),
           "rerender_after_settings_change": stats(timed(lambda: colorizer.render(pred, changed), repeats)),
           "decode": stats(timed(lambda: load_image(src), repeats)),
           "encode_png": stats(timed(lambda: save_image(out, render.rgb, source=image), repeats))}
    row["file_to_file"] = stats(timed(file_to_file, max(1, repeats // 2 if h * w > 4e6 else repeats)))
    return row


def _sync(colorizer: Colorizer) -> Callable[[], None]:
    return torch.cuda.synchronize if colorizer.device.type == "cuda" else (lambda: None)


def bench_energy(colorizer: Colorizer, repeats: int = 7, lightness: np.ndarray | None = None,
                 photo_side: int = 1000) -> dict:
    """Median milliseconds of the energy operations on one cached prediction (no network run).

    ``lightness`` defaults to a synthetic ``photo_side`` square; the colouriser's working size sets the grid.
    """
    cpu: dict[str, float] = {}

    def median_ms(fn: Callable[[], object], name: str | None = None) -> float:
        samples = timed(fn, max(1, repeats))
        if name:
            cpu[name] = round(statistics.median(samples.cpu) * 1000.0, 2)
        return round(statistics.median(samples) * 1000.0, 2)

    rng = np.random.default_rng(0)
    if lightness is None:
        yy, xx = np.mgrid[0:photo_side, 0:photo_side] / photo_side
        lightness = (0.5 + 0.3 * np.sin(9 * xx) * np.cos(7 * yy) + 0.1 * rng.standard_normal((photo_side,) * 2))
        lightness = np.clip(lightness, 0, 1).astype(np.float32)
    t0 = time.perf_counter()
    pred = colorizer.predict(lightness)
    predict_ms = (time.perf_counter() - t0) * 1000.0
    ref = rng.uniform(size=(300, 400, 3)).astype(np.float32) * np.array([0.4, 0.8, 1.0], np.float32)
    targets = energy.reference_histograms(pred.scheme, ref)
    slider = RenderSettings().replace(hue_bias=1.0, hue_direction=0.3)
    biases, results = energy.fit_biases(pred, targets)
    preview = preview_prediction(pred, 512, 160)
    mask = np.zeros(pred.size, np.uint8)
    mask[pred.size[0] // 4: pred.size[0] // 2, pred.size[1] // 4: pred.size[1] // 2] = 255
    hint = energy.Hint(mask=mask, color=(50, 180, 80))
    probs = posterior(pred, slider, biases)
    return {
        "load_average_1min": round(os.getloadavg()[0], 2),
        "photo": list(pred.size), "working_size": list(pred.working_size), "grid": list(pred.grid_size),
        "predict_ms_once": round(predict_ms, 1),
        "solve_iterations": [r.iterations for r in results],
        "energy_solve_ms": median_ms(lambda: energy.fit_biases(pred, targets), "energy_solve"),
        "reference_histograms_ms": median_ms(lambda: energy.reference_histograms(pred.scheme, ref)),
        "render_full_ms": median_ms(lambda: colorizer.render(pred, slider, biases), "render_full"),
        "render_preview_ms": median_ms(lambda: colorizer.render(preview, slider, biases), "render_preview"),
        "preview_size": list(preview.size), "preview_grid": list(preview.grid_size),
        "make_preview_once_ms": median_ms(lambda: preview_prediction(pred, 512, 160)),
        "full_breakdown_ms": {
            "posterior": median_ms(lambda: posterior(pred, slider, biases)),
            "decode_upsample_compose": median_ms(lambda: render_probs(pred, probs, slider)),
            "decode_on_grid_only": median_ms(lambda: pred.scheme.decode_offset(probs, pred.small_lightness,
                                                                                slider.decode)),
        },
        "hint_solve_ms": median_ms(lambda: energy.hint_biases(pred, [hint])),
        "sample_render_preview_ms": median_ms(lambda: energy.render_samples(preview, 1, 0)),
        "cpu_time_ms": cpu,  # process CPU time: close to wall time on an idle machine for 1-thread work
        "targets_ms": {"energy_solve": 150, "render": 50},
    }


def bench_batch(colorizer: Colorizer, count: int, shape: tuple[int, int], workdir: Path) -> dict:
    """Throughput of ``run_batch`` over files, and of the network alone (``predict_batch``)."""
    from colorizer.batch import ColorizeOptions, batch_size_for, collect_jobs, run_batch

    folder = workdir / f"batch_{colorizer.device.type}"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"p{i:03d}.jpg"), synthetic_photo(*shape, seed=i), [cv2.IMWRITE_JPEG_QUALITY, 90])
    jobs, _ = collect_jobs([folder], workdir / f"batch_out_{colorizer.device.type}")
    options = ColorizeOptions()
    size = batch_size_for(colorizer, options)
    run_batch(colorizer, jobs[: min(2, count)], options)  # warm-up
    report = run_batch(colorizer, jobs, options)
    lightness = [synthetic_photo(*shape, seed=i).astype(np.float32) / 255.0 for i in range(min(count, 16))]
    sync = _sync(colorizer)

    def network() -> None:
        for i in range(0, len(lightness), size):
            colorizer.predict_batch(lightness[i:i + size])
        sync()

    times = timed(network, 3)
    return {"device": str(colorizer.device), "images": count, "size": f"{shape[1]}x{shape[0]}", "batch_size": size,
            "files_images_per_s": round(len(report.done) / report.seconds, 2) if report.seconds else None,
            "failed": len(report.failures),
            "network_images_per_s": round(len(lightness) / statistics.median(times), 2)}
