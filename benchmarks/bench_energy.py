"""Timings of the energy panel on cached predictions (no network run): solve, re-render, samples, hints.

Run ``python benchmarks/bench_energy.py [--weights FILE]``; prints JSON (the dict of
``colorizer.bench.bench_energy``, the energy case of ``colorizer bench``, on a real photo). Default: a 1-megapixel photo (1000 x 1000) at working size 1024, so
the prediction grid is about 256 x 256 (65k histograms of 2 x 32 bins).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from colorizer.bench import bench_energy as energy_case
from colorizer.bench import load_colorizer
from colorizer.pipeline import Colorizer

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO.parent / "shared" / "data" / "bw-samples" / "plasma-grey-architecture.jpg"


def _load_colorizer(weights: str | Path | None, working_size: int) -> tuple[Colorizer, str]:
    """The bundled (or given) model on the CPU; a random one of the same architecture if it is missing."""
    import tempfile

    colorizer, _, source = load_colorizer(None if weights is None else str(weights), "cpu", working_size,
                                          Path(tempfile.mkdtemp()))
    return colorizer, source


def _photo(size: int) -> np.ndarray:
    import cv2
    from colorizer.imageio import load_image
    if SAMPLE.exists():
        lum = load_image(SAMPLE).lightness
        return cv2.resize(lum, (size, size), interpolation=cv2.INTER_AREA)
    return np.random.default_rng(0).uniform(size=(size, size)).astype(np.float32)


def bench_energy(weights: str | Path | None = None, working_size: int = 1024, photo_side: int = 1000,
                 repeats: int = 7, threads: int | None = None) -> dict:
    """Median milliseconds of the energy operations on one cached prediction (CPU); see colorizer.bench."""
    if threads:
        torch.set_num_threads(threads)
    col, source = _load_colorizer(weights, working_size)
    out = {"benchmark": "energy", "weights": source, "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    out.update(energy_case(col, repeats, lightness=_photo(photo_side)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--working-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(bench_energy(args.weights, args.working_size, repeats=args.repeats, threads=args.threads), indent=1))


if __name__ == "__main__":
    main()
