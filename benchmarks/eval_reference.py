"""Reference-palette transfer on split=val, each photo its own reference (ground-truth histograms).

Prints JSON with ab RMSE (CIELAB, pooled over all opaque pixels), PSNR, colourfulness for: the gray
input, the automatic colourisation, energy transfer (several strengths) and quantile matching.
``python benchmarks/eval_reference.py [--weights FILE] [--strengths 0.5 1 3] [--working-size 512]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from colorizer import energy
from colorizer.color import luma
from colorizer.pipeline import Colorizer, RenderSettings
from colorizer.train.data import load_color_image, read_manifest
from colorizer.train.metrics import MetricAccumulator

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "corpus"


def eval_reference(weights: str | Path | None = None, strengths: tuple[float, ...] = (0.3, 1.0, 3.0),
                   working_size: int = 512, split: str = "val", limit: int | None = None,
                   settings: RenderSettings | None = None) -> dict:
    """Score gray / automatic / energy transfer (per strength) / quantile matching on ``split``."""
    col = Colorizer.load(weights, device="cpu", working_size=working_size)
    settings = settings or RenderSettings()
    paths = read_manifest(CORPUS, split)[:limit]
    accs: dict[str, MetricAccumulator] = {"gray": MetricAccumulator(), "automatic": MetricAccumulator(),
                                          "quantile": MetricAccumulator()}
    for s in strengths:
        accs[f"energy_{s:g}"] = MetricAccumulator()
    solve_ms = []
    for path in paths:
        truth, mask = load_color_image(path)
        lightness = luma(truth).astype(np.float32)
        pred = col.predict(lightness)
        sel = (slice(None),) if mask is None else (mask,)
        ref_mask = None if mask is None else mask
        outs = {"gray": np.repeat(lightness[..., None], 3, axis=-1)}
        auto = col.render(pred, settings)
        outs["automatic"] = auto.rgb
        outs["quantile"] = energy.quantile_transfer(auto, truth if ref_mask is None else truth[ref_mask][None]).rgb
        targets = energy.reference_histograms(pred.scheme, truth, mask=ref_mask)
        for s in strengths:
            t0 = time.perf_counter()
            biases, _ = energy.fit_biases(pred, targets, lam=s * energy.LAMBDA_SCALE)
            solve_ms.append((time.perf_counter() - t0) * 1000.0)
            outs[f"energy_{s:g}"] = col.render(pred, settings, biases).rgb
        for name, rgb in outs.items():
            accs[name].add(rgb[sel], truth[sel])
    summary = {name: acc.summary() for name, acc in accs.items()}
    gray = summary["gray"]["ab_rmse"]
    for name, figures in summary.items():
        figures["ab_rmse_vs_gray"] = round(figures["ab_rmse"] / gray - 1.0, 3) if gray else None
    return {"split": split, "images": len(paths), "weights": str(weights or "bundled"), "working_size": working_size,
            "lambda_scale": energy.LAMBDA_SCALE, "median_solve_ms": round(float(np.median(solve_ms)), 1) if solve_ms else None,
            "methods": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--working-size", type=int, default=512)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(json.dumps(eval_reference(args.weights, tuple(args.strengths), args.working_size, args.split, args.limit), indent=1))


if __name__ == "__main__":
    main()
