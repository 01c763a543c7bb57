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

from colorizer.energy import LAMBDA_SCALE
from colorizer.color import luma
from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe, Reference, RenderCache, recipe_biases, render
from colorizer.render_settings import RenderSettings
from colorizer.train.data import load_color_image, read_manifest
from colorizer.train.metrics import MetricAccumulator

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "corpus"


def eval_reference(weights: str | Path | None = None, strengths: tuple[float, ...] = (0.3, 1.0, 3.0),
                   working_size: int = 512, split: str = "val", limit: int | None = None,
                   settings: RenderSettings | None = None) -> dict:
    """Score gray / automatic / energy transfer (per strength) / quantile matching on ``split``.

    Every picture is a ``colorizer.recipe.render`` of a recipe whose reference is the photo itself.
    """
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
        cache = RenderCache()
        cache.references.put(Reference(str(path)), truth if mask is None else truth[mask][None])
        recipes = {"automatic": Recipe(settings=settings),
                   "quantile": Recipe(settings=settings, reference=Reference(str(path), method="quantile"))}
        recipes.update({f"energy_{s:g}": Recipe(settings=settings, reference=Reference(str(path), strength=s))
                        for s in strengths})
        outs = {"gray": np.repeat(lightness[..., None], 3, axis=-1)}
        for name, recipe in recipes.items():
            if name.startswith("energy_"):
                t0 = time.perf_counter()
                recipe_biases(pred, recipe, cache)  # the fit alone, timed; render reuses it
                solve_ms.append((time.perf_counter() - t0) * 1000.0)
            outs[name] = render(pred, recipe, cache=cache).rgb
        for name, rgb in outs.items():
            accs[name].add(rgb[sel], truth[sel])
    summary = {name: acc.summary() for name, acc in accs.items()}
    gray = summary["gray"]["ab_rmse"]
    for name, figures in summary.items():
        figures["ab_rmse_vs_gray"] = round(figures["ab_rmse"] / gray - 1.0, 3) if gray else None
    return {"split": split, "images": len(paths), "weights": str(weights or "bundled"), "working_size": working_size,
            "lambda_scale": LAMBDA_SCALE, "median_solve_ms": round(float(np.median(solve_ms)), 1) if solve_ms else None,
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
