"""Scoring held-out photos for cross-validation: cached backbone features per photo (clean and
"old print" inputs), several models (e.g. training snapshots) and several render settings per
network pass, calibration samples, and per-fold summaries.

The backbone is frozen, so a photo's dense features do not depend on the fold: they are computed
once per (photo, input variant) and stored; scoring a fold then costs only the heads and renders.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from colorizer.model import HypercolumnColorizer
from colorizer.pipeline import WORKING_SIZE, Prediction, make_prediction, working_image
from colorizer.recipe import Recipe, render
from colorizer.render_settings import RenderSettings
from colorizer.train.eval_inputs import VARIANTS, PhotoInput, photo_input
from colorizer.train.head_training import stable_key
from colorizer.train.metrics import MetricAccumulator
from colorizer.train.storage import atomic_torch_save
from colorizer.weights import LoadedWeights, tensors_digest

WORSE_DB = 3.0
SCORED_SIDE = 512  # longest side of the photos cross-validation scores
CALIBRATION_PIXELS = 400


@dataclass(frozen=True)
class ScoringSetup:
    """How held-out photos are scored: the longest side of the truth (``max_side``), the network's
    working size, where dense features are cached, and the input variants."""

    cache_dir: Path
    max_side: int = SCORED_SIDE
    working_size: int = WORKING_SIZE
    variants: tuple[str, ...] = VARIANTS


def backbone_signature(model: HypercolumnColorizer) -> str:
    """Which backbone features a model needs (weights and layers), hashed."""
    text = json.dumps({"layers": list(model.backbone_layers(pooled=True)), "gray": "gray" in model.config.layers,
                       **({"levels": True} if model.config.input_levels else {}),
                       "weights": tensors_digest(model.backbone.state_dict())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@torch.inference_mode()
def dense_features(model: HypercolumnColorizer, photo: PhotoInput, variant: str, setup: ScoringSetup,
                   signature: str | None = None) -> tuple[np.ndarray, dict]:
    """(working image, backbone features) of a photo, from the cache or computed and stored (fp16);
    ``signature``: the model's ``backbone_signature`` when already known."""
    working = working_image(photo.lightness, setup.working_size)
    name = f"dense-{signature or backbone_signature(model)}-w{setup.working_size}-m{setup.max_side}"
    path = setup.cache_dir / name / f"{photo.key}-{variant}.pt"
    if path.is_file():
        return working, {k: v.float() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
    feats = model.features(torch.from_numpy(np.ascontiguousarray(working))[None, None], pooled=True)
    atomic_torch_save({k: v.half() for k, v in feats.items()}, path)
    return working, {k: v.float() for k, v in feats.items()}


@torch.inference_mode()
def predict_from_features(model: HypercolumnColorizer, scheme, feats: dict, photo: PhotoInput,
                          working: np.ndarray) -> Prediction:
    """The Prediction ``Colorizer.predict`` would give, from cached features."""
    grid = model.output_grid(*working.shape[:2])
    outs = model._classify(model.hidden_dense(feats, grid))
    log_probs = [o[0].permute(1, 2, 0).float().numpy() for o in outs]
    return make_prediction(log_probs, photo.lightness, working, scheme)


@dataclass
class ScoreBook:
    """Accumulated metrics per (model, variant, settings) and for the gray input per variant."""

    model: dict[tuple[str, str, int], MetricAccumulator] = field(default_factory=dict)
    gray: dict[str, MetricAccumulator] = field(default_factory=dict)
    calibration: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def acc(self, model: str, variant: str, settings: int) -> MetricAccumulator:
        return self.model.setdefault((model, variant, settings), MetricAccumulator())

    def to_state(self) -> dict:
        """Plain lists, numbers and tensors only (loadable with ``torch.load(weights_only=True)``)."""
        def acc_state(a: MetricAccumulator) -> dict:
            return {"psnrs": list(a.psnrs), "sq_sum": a.sq_sum, "pixels": a.pixels, "err_hist": torch.from_numpy(a.err_hist),
                    "ratios": list(a.ratios), "grays": a.grays, "images": a.images}

        def sample_state(d: dict) -> dict:
            return {"log_probs": [torch.from_numpy(x) for x in d["log_probs"]], "bins": [torch.from_numpy(b) for b in d["bins"]],
                    "chroma": torch.from_numpy(d["chroma"])}
        return {"model": [[list(k), acc_state(a)] for k, a in self.model.items()],
                "gray": {k: acc_state(a) for k, a in self.gray.items()},
                "calibration": [[list(k), [sample_state(d) for d in v]] for k, v in self.calibration.items()]}

    @classmethod
    def from_state(cls, state: dict) -> "ScoreBook":
        def acc(d: dict) -> MetricAccumulator:
            return MetricAccumulator(psnrs=list(d["psnrs"]), sq_sum=d["sq_sum"], pixels=d["pixels"],
                                     err_hist=d["err_hist"].numpy(), ratios=list(d["ratios"]), grays=d["grays"],
                                     images=d["images"])

        def sample(d: dict) -> dict:
            return {"log_probs": [x.numpy() for x in d["log_probs"]], "bins": [b.numpy() for b in d["bins"]],
                    "chroma": d["chroma"].numpy()}
        return cls(model={tuple(k): acc(a) for k, a in state["model"]}, gray={k: acc(a) for k, a in state["gray"].items()},
                   calibration={tuple(k): [sample(d) for d in v] for k, v in state["calibration"]})


def calibration_sample(prediction: Prediction, truth: np.ndarray, mask: np.ndarray | None,
                       rng: np.random.Generator, n: int = CALIBRATION_PIXELS) -> dict:
    """Predicted log-histograms and the true colour at ``n`` random grid pixels (for temperature
    fitting and reliability curves): one (n, K) array per channel, true bins and chroma."""
    h, w = prediction.grid_size
    th, tw = truth.shape[:2]
    rows, cols = rng.integers(0, h, n), rng.integers(0, w, n)
    ty = np.minimum(((rows + 0.5) * th / h).astype(int), th - 1)
    tx = np.minimum(((cols + 0.5) * tw / w).astype(int), tw - 1)
    keep = np.ones(n, bool) if mask is None else mask[ty, tx]
    indices, chroma = prediction.scheme.bin_indices(truth[ty, tx][None])
    return {"log_probs": [lp[rows, cols][keep].astype(np.float16) for lp in prediction.log_probs],
            "bins": [i[0][keep] for i in indices], "chroma": chroma[0][keep].astype(np.float32)}


def score_photos(models: dict[str, LoadedWeights], photos: Sequence[Path], setup: ScoringSetup,
                 settings: Sequence[RenderSettings], book: ScoreBook | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ScoreBook:
    """Colourise every photo in every variant with every model and every settings (through the
    product's one render function, ``colorizer.recipe.render``); accumulate.

    ``progress(done, total)`` is called after each photo.
    """
    book = book or ScoreBook()
    recipes = [Recipe(settings=s) for s in settings]
    first = next(iter(models.values()))
    signature = backbone_signature(first.model)
    for name, weights in models.items():
        if backbone_signature(weights.model) != signature:
            raise ValueError(f"model {name} needs other backbone features than {next(iter(models))}")
    total, done = len(photos) * len(setup.variants), 0
    for variant in setup.variants:
        for path in photos:
            photo = photo_input(Path(path), variant, setup.max_side)
            sel = (slice(None),) if photo.mask is None else (photo.mask,)
            truth = photo.truth[sel]
            gray = np.repeat(photo.lightness[..., None], 3, axis=-1)
            book.gray.setdefault(variant, MetricAccumulator()).add(gray[sel], truth)
            working, feats = dense_features(first.model, photo, variant, setup, signature)
            for name, weights in models.items():
                pred = predict_from_features(weights.model, weights.scheme, feats, photo, working)
                for i, recipe in enumerate(recipes):
                    book.acc(name, variant, i).add(render(pred, recipe).rgb[sel], truth)
                rng = np.random.default_rng([stable_key(photo.key), 11])
                book.calibration.setdefault((name, variant), []).append(
                    calibration_sample(pred, photo.truth, photo.mask, rng))
            done += 1
            if progress is not None:
                progress(done, total)
    return book


def summarise(model: MetricAccumulator, gray: MetricAccumulator) -> dict:
    """Metrics of a model beside the gray input on the same photos, with the PSNR gain and the share
    of photos more than ``WORSE_DB`` below the gray input."""
    m, g = model.summary(), gray.summary()
    gains = np.asarray(model.psnrs) - np.asarray(gray.psnrs)
    return {"photos": len(model.psnrs), "psnr": m["psnr"], "gray_psnr": g["psnr"],
            "psnr_gain": round(float(gains.mean()), 3), "ab_rmse": m["ab_rmse"], "gray_ab_rmse": g["ab_rmse"],
            "auc": m["auc"], "gray_auc": g["auc"], "colorfulness_ratio": m["colorfulness_ratio"],
            "left_gray": m["left_gray"], "worse_than_gray_3db": round(float((gains < -WORSE_DB).mean()), 4)}


def merge(accs: Sequence[MetricAccumulator]) -> MetricAccumulator:
    """One accumulator holding the photos of several (pooling folds into an overall figure)."""
    out = MetricAccumulator()
    for a in accs:
        out.psnrs += a.psnrs
        out.sq_sum += a.sq_sum
        out.pixels += a.pixels
        out.err_hist = out.err_hist + a.err_hist
        out.ratios += a.ratios
        out.grays += a.grays
        out.images += a.images
    return out
