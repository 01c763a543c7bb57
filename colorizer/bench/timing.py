"""Timing helpers of ``colorizer bench``: repeated runs, robust statistics, synthetic photos, the model."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from colorizer.pipeline import Colorizer


class Samples(list):
    """Wall-clock seconds, with the process CPU seconds of each run in ``cpu``."""

    cpu: list[float]


def stats(samples: list[float]) -> dict:
    """Median and spread (IQR, min, max) in seconds; ``cpu_median_s`` (all threads) when known.

    On a busy machine wall-clock times spread widely; CPU time is steadier (with T threads busy,
    wall ~ cpu / T on an idle machine).
    """
    xs = sorted(samples)
    q = np.percentile(xs, [25, 75]) if len(xs) > 1 else (xs[0], xs[0])
    out = {"median_s": round(statistics.median(xs), 5), "iqr_s": round(float(q[1] - q[0]), 5),
           "min_s": round(xs[0], 5), "max_s": round(xs[-1], 5), "n": len(xs)}
    cpu = getattr(samples, "cpu", None)
    if cpu:
        out["cpu_median_s"] = round(statistics.median(cpu), 5)
    return out


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Samples:
    for _ in range(warmup):
        fn()
    out = Samples()
    out.cpu = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append(time.perf_counter() - start)
        out.cpu.append(time.process_time() - cpu)
    return out


def synthetic_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 gray image: smooth shapes, edges and grain (compresses like a real scan)."""
    rng = np.random.default_rng(seed)
    small = cv2.resize(rng.random((max(2, h // 64), max(2, w // 64))).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    x = (np.arange(w) // max(1, w // 7))[None, :]
    y = (np.arange(h) // max(1, h // 5))[:, None]
    small *= 0.6
    small += ((x + y) % 2).astype(np.float32) * 0.15 + 0.2
    small += rng.standard_normal((h, w), dtype=np.float32) * 0.02
    np.clip(small, 0, 1, out=small)
    small *= 255
    return small.astype(np.uint8)


def load_colorizer(weights: str | None, device: str, working_size: int,
                   workdir: Path) -> tuple[Colorizer, str | None, str]:
    """(colouriser, weights path or None for the bundled one, description), loading the file once.

    A random model of the same architecture stands in when the bundled weights are missing
    (timings are representative, colours are not); a named file that fails to load is an error.
    """
    from colorizer.weights import WeightsError

    try:
        return Colorizer.load(weights, device=device, working_size=working_size), weights, str(weights or "bundled")
    except WeightsError:
        if weights is not None:
            raise
    from colorizer.bins import BinScheme
    from colorizer.model import ModelConfig, build_model
    from colorizer.weights import save_weights

    path = str(save_weights(workdir / "random.safetensors", build_model(ModelConfig(), pretrained=False), BinScheme()))
    return Colorizer.load(path, device=device, working_size=working_size), path, "random (bundled weights missing)"
