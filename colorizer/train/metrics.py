"""Evaluation: colourise the gray (luma) version of colour photos and compare with the truth.

Metrics (each also for the "no colourisation" baseline, i.e. the gray input itself):
- ``psnr``: PSNR in RGB ([0, 1] scale), per image, arithmetic mean over images.
- ``ab_rmse``: RMSE of (a, b) in CIELAB units, pooled over all pixels of all images.
- ``auc``: area under the cumulative per-pixel ab-error curve for thresholds 0..150 (step 1),
  pooled over all pixels, normalised to [0, 1] (1 = every pixel exact).
- ``colorfulness_ratio``: Hasler & Suesstrunk colourfulness of the result over that of the truth,
  mean over images whose truth is not itself colourless.
- ``left_gray``: share of results whose mean chroma (max - min of RGB, in [0, 1]) is below
  ``GRAY_CHROMA`` = 0.02 (about 5 levels of 255): the picture looks black-and-white.
- ``seconds_per_image`` and ``peak_memory_mb`` (process peak RSS; on CUDA, peak allocated GPU memory).
Images with an alpha mask are scored on their opaque pixels only.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from colorizer.bins import BinScheme
from colorizer.color import rgb_to_hue_chroma, rgb_to_lab
from colorizer.imageio import save_image
from colorizer.recipe import Recipe, Reference, RenderCache, render
from colorizer.visual import contact_row, uncertainty_to_rgb
from colorizer.visual import contact_sheet as visual_contact_sheet
from colorizer.train.data import DataError
from colorizer.train.eval_inputs import photo_input

AUC_MAX = 150
GRAY_CHROMA = 0.02


def psnr(result: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of RGB arrays in [0, 1] (capped at 100 dB for identical images)."""
    mse = float(np.mean((result.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return 100.0 if mse <= 1e-10 else 10.0 * float(np.log10(1.0 / mse))


def ab_errors(result: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean (a, b) error in CIELAB units (flattened)."""
    a = rgb_to_lab(result.reshape(-1, 1, 3))[:, 0, 1:]
    b = rgb_to_lab(truth.reshape(-1, 1, 3))[:, 0, 1:]
    return np.sqrt(((a.astype(np.float64) - b) ** 2).sum(-1))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness on a 0..255 scale of (..., 3) RGB in [0, 1]."""
    x = rgb.reshape(-1, 3).astype(np.float64) * 255.0
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def is_left_gray(rgb: np.ndarray) -> bool:
    """A result counts as left gray when its mean chroma is below ``GRAY_CHROMA``."""
    return float(rgb_to_hue_chroma(rgb.reshape(-1, 1, 3))[1].mean()) < GRAY_CHROMA


@dataclass
class MetricAccumulator:
    """Running sums for one method (model or gray baseline)."""

    psnrs: list[float] = field(default_factory=list)
    sq_sum: float = 0.0
    pixels: int = 0
    err_hist: np.ndarray = field(default_factory=lambda: np.zeros(AUC_MAX + 2, np.int64))
    ratios: list[float] = field(default_factory=list)
    grays: int = 0
    images: int = 0

    def add(self, result: np.ndarray, truth: np.ndarray) -> dict:
        """Score one image (already restricted to valid pixels, (N, 3) or (H, W, 3)); returns its figures."""
        p = psnr(result, truth)
        err = ab_errors(result, truth)
        self.psnrs.append(p)
        self.sq_sum += float((err ** 2).sum())
        self.pixels += err.size
        self.err_hist += np.bincount(np.minimum(np.ceil(err).astype(np.int64), AUC_MAX + 1), minlength=AUC_MAX + 2)
        ct = colorfulness(truth)
        ratio = colorfulness(result) / ct if ct > 1e-6 else None
        if ratio is not None:
            self.ratios.append(ratio)
        gray = is_left_gray(result)
        self.grays += int(gray)
        self.images += 1
        return {"psnr": round(p, 3), "ab_rmse": round(float(np.sqrt((err ** 2).mean())), 3),
                "colorfulness_ratio": None if ratio is None else round(ratio, 3), "left_gray": gray}

    def summary(self) -> dict:
        cum = np.cumsum(self.err_hist)[: AUC_MAX + 1] / max(self.pixels, 1)  # share with error <= t, t = 0..150
        return {
            "psnr": round(float(np.mean(self.psnrs)), 3) if self.psnrs else None,
            "ab_rmse": round(float(np.sqrt(self.sq_sum / max(self.pixels, 1))), 3),
            "auc": round(float(cum.mean()), 4),
            "colorfulness_ratio": round(float(np.mean(self.ratios)), 3) if self.ratios else None,
            "left_gray": round(self.grays / max(self.images, 1), 3),
        }


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda") and torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def evaluate(colorizer, paths: list[Path], settings=None, contact_sheet: str | Path | None = None,
             reference_from_gt: bool = False, progress: bool = False, variant: str = "clean") -> dict:
    """Colourise the luma of each photo with ``colorizer`` (a pipeline.Colorizer) and score it.

    Every picture is rendered by ``colorizer.recipe.render`` with ``settings`` (default: the model's own,
    ``colorizer.default_settings``); ``reference_from_gt``
    adds each photo's own colours as the reference palette (energy transfer, default strength);
    ``variant="old_print"`` gives the colouriser a seeded old-print version of each gray (the
    truth stays the clean photo; the gray baseline is that degraded input). A photo that cannot be
    read is skipped and listed in ``skipped`` (file and one-line error); the others are measured.
    Returns ``{"images", "model": {...}, "gray": {...}, "per_image": [...], "skipped": [...]}``.
    """
    from tqdm import tqdm

    recipe = Recipe(settings=colorizer.default_settings if settings is None else settings)
    model_acc, gray_acc = MetricAccumulator(), MetricAccumulator()
    rows, per_image, skipped, seconds = [], [], [], 0.0
    for path in tqdm(paths, desc="evaluating", unit="img", disable=not progress):
        try:
            photo = photo_input(path, variant)
        except (DataError, OSError) as exc:  # one bad photo never stops an evaluation
            text = " ".join(str(exc).split())
            skipped.append({"file": str(path), "error": text if str(path) in text else f"{path}: {text}"})
            continue
        truth, mask, lightness = photo.truth, photo.mask, photo.lightness
        t0 = time.perf_counter()
        pred = colorizer.predict(lightness)
        cache, photo_recipe = RenderCache(), recipe
        if reference_from_gt:
            photo_recipe = recipe.replace(reference=Reference(str(path)))
            cache.references.put(photo_recipe.reference, truth)
        res = render(pred, photo_recipe, cache=cache)
        seconds += time.perf_counter() - t0
        gray = np.repeat(lightness[..., None], 3, axis=-1)
        sel = (slice(None),) if mask is None else (mask,)
        entry = {"file": str(path), "model": model_acc.add(res.rgb[sel], truth[sel]),
                 "gray": gray_acc.add(gray[sel], truth[sel])}
        per_image.append(entry)
        if contact_sheet is not None:
            rows.append(contact_row([gray, res.rgb, truth, uncertainty_to_rgb(res.uncertainty)]))
    n = max(len(per_image), 1)
    out = {"images": len(per_image), "model": model_acc.summary(), "gray": gray_acc.summary(), "per_image": per_image,
           "skipped": skipped}
    out["model"]["seconds_per_image"] = round(seconds / n, 3)
    out["model"]["peak_memory_mb"] = peak_memory_mb(str(colorizer.device))
    if contact_sheet is not None and rows:
        save_image(Path(contact_sheet), visual_contact_sheet(rows))  # atomic, never over an existing input
        out["contact_sheet"] = str(contact_sheet)
    return out


def evaluate_model(model, scheme: BinScheme, paths: list[Path], device: str = "cpu", **kwargs) -> dict:
    """``evaluate`` for an in-memory model (used by the trainer for its final validation figures)."""
    from colorizer.pipeline import Colorizer
    from colorizer.weights import LoadedWeights

    return evaluate(Colorizer(LoadedWeights(model=model, scheme=scheme), device=device), paths, **kwargs)


def format_table(result: dict) -> str:
    """A readable table: one row per metric, model beside the gray baseline."""
    keys = [("psnr", "PSNR (dB, higher better)"), ("ab_rmse", "ab RMSE (lower better)"), ("auc", "AuC 0..150 (higher better)"),
            ("colorfulness_ratio", "colourfulness ratio (1 = truth)"), ("left_gray", "share left gray")]
    lines = [f"{result['images']} images", f"{'metric':34s} {'model':>10s} {'gray':>10s}"]
    for k, label in keys:
        m, g = result["model"].get(k), result["gray"].get(k)
        fm = "-" if m is None else f"{m:10.3f}"
        fg = "-" if g is None else f"{g:10.3f}"
        lines.append(f"{label:34s} {fm:>10s} {fg:>10s}")
    lines.append(f"{'seconds per image':34s} {result['model']['seconds_per_image']:10.3f}")
    lines.append(f"{'peak memory (MB)':34s} {result['model']['peak_memory_mb']:10.1f}")
    return "\n".join(lines)
