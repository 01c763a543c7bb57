"""Frozen-backbone feature cache, one file per photo.

The backbone runs once per (photo, augmentation); hypercolumns are sampled at the supervised
positions and stored (fp16) with their target histograms. Each photo's crops are seeded by the
photo's content, not by its place in a list, and stored under a key of its content, so any subset
of the corpus (a cross-validation fold, a user's folder) reuses the same cached crops: a fold costs
minutes, and an interrupted cache build continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from colorizer.bins import BinScheme
from colorizer.model import HypercolumnColorizer
from colorizer.train.augment import AugmentConfig
from colorizer.train.data import ImageSet, SampleConfig, make_sample
from colorizer.train.head_training import sample_hypercolumns, stable_key
from colorizer.train.storage import atomic_torch_save
from colorizer.weights import tensors_digest


@dataclass
class FeatureCache:
    """Pre-sampled hypercolumns (R, C) fp16, targets per channel (R, K) fp16, hue weights (R,);
    ``image`` (R,) indexes ``image_keys``; ``crop`` (R,) indexes ``globals`` (crops, G), the pooled
    image features of each crop (None when the model uses none)."""

    feats: torch.Tensor
    targets: list[torch.Tensor]
    weight: torch.Tensor
    image: torch.Tensor
    crop: torch.Tensor
    globals: torch.Tensor | None
    image_keys: list[str]

    def __len__(self) -> int:
        return self.feats.shape[0]

    def rows(self, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor], torch.Tensor]:
        """(features, global features or None, targets, hue weights) of rows ``idx``, as float32 on ``device``."""
        x = self.feats[idx].to(device).float()
        g = None if self.globals is None else self.globals[self.crop[idx]].to(device).float()
        t = [c[idx].to(device).float() for c in self.targets]
        return x, g, t, self.weight[idx].to(device).float()


def cache_signature(model: HypercolumnColorizer, scheme: BinScheme, aug: AugmentConfig, samp: SampleConfig,
                    augs: int, seed: int) -> str:
    """Everything besides the photo that decides its cached crops, hashed. The cut-out background
    is not part of it (photos do not depend on it; cut-out files carry it in their names), and
    pooled global features are always stored."""
    key = json.dumps({"backbone": model.config.backbone, "layers": list(model.config.layers),
                      "global": False, "scheme": scheme.to_dict(), "aug": asdict(replace(aug, background="flat")),
                      "samp": asdict(samp), "augs": augs, "seed": seed,
                      "backbone_weights": tensors_digest(model.backbone.state_dict()),
                      **({"levels": True} if model.config.input_levels else {})}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@torch.inference_mode()
def crops_of_image(model: HypercolumnColorizer, rgb: np.ndarray, mask: np.ndarray | None, key: str, scheme: BinScheme,
                   aug: AugmentConfig, samp: SampleConfig, augs: int, seed: int, device: torch.device,
                   backgrounds: Sequence[np.ndarray] = ()) -> dict | None:
    """Sampled hypercolumns, targets and pooled features of ``augs`` augmented crops of one photo."""
    feats, targets, weights, crop_of_row, globals_ = [], [[] for _ in scheme.channel_sizes], [], [], []
    for a in range(augs):
        rng = np.random.default_rng([seed, stable_key(key), a])
        s = make_sample(rgb, mask, rng, scheme, aug, samp, backgrounds=backgrounds)
        if s is None:
            continue
        gray = torch.from_numpy(s.lightness)[None, None].to(device)
        fmap = model.features(gray, pooled=True)
        feats.append(sample_hypercolumns(fmap, model.config.layers, torch.from_numpy(s.positions)[None].to(device))[0].half().cpu())
        for c, t in enumerate(s.targets):
            targets[c].append(torch.from_numpy(t).half())
        weights.append(torch.from_numpy(s.weight).half())
        crop_of_row.append(torch.full((len(s.weight),), len(globals_), dtype=torch.int16))
        globals_.append(fmap["global"][0].half().cpu())
    if not feats:
        return None
    return {"feats": torch.cat(feats), "targets": [torch.cat(t) for t in targets], "weight": torch.cat(weights),
            "crop": torch.cat(crop_of_row), "globals": torch.stack(globals_)}


def build_feature_cache(model: HypercolumnColorizer, images: ImageSet, scheme: BinScheme, aug: AugmentConfig,
                        samp: SampleConfig, augs: int, seed: int, device: torch.device, cache_dir: Path,
                        backgrounds: Sequence[np.ndarray] = (), progress: bool = True,
                        rank: int = 0, world: int = 1, report: Callable[[int, int], None] | None = None) -> FeatureCache:
    """Load every photo's crops from ``cache_dir`` (computing and storing the missing ones).

    Photos are known by their content keys (``images.keys``). ``backgrounds`` (photos that cut-outs are
    composited onto) enter the key of cut-out crops, so a fold never composites onto photos it
    holds out. Under DDP each rank takes every ``world``-th photo. ``report(done, total)`` is called
    after each photo (it may raise to cancel).
    """
    model.eval()
    keys = images.keys
    folder = Path(cache_dir) / f"crops-{cache_signature(model, scheme, aug, samp, augs, seed)}"
    uses_pool = aug.background in ("photo", "mixed") and len(backgrounds) > 0
    pool = hashlib.sha256("".join(sorted(keys[i] for i in range(len(images)) if images.masks[i] is None)).encode()
                          ).hexdigest()[:12] if uses_pool else ""
    cutout_suffix = "" if aug.background == "flat" else f"-{aug.background}" + (f"-{pool}" if uses_pool else "")
    chosen = [i for i in range(len(images)) if i % world == rank]
    stored: list[tuple[int, Path]] = []
    for i in tqdm(chosen, desc="caching features", disable=not progress, unit="photo"):
        is_cutout = images.masks[i] is not None
        path = folder / (f"{keys[i]}{cutout_suffix}.pt" if is_cutout else f"{keys[i]}.pt")
        if not path.is_file() or (model.config.global_features and not has_globals(path)):
            part = crops_of_image(model, images.images[i], images.masks[i], keys[i], scheme, aug, samp, augs, seed,
                                  device, backgrounds if is_cutout else ())
            if part is None:
                continue
            atomic_torch_save(part, path)
        stored.append((i, path))
        if report is not None:
            report(len(stored), len(chosen))
    if not stored:
        raise ValueError("no usable training crops (all images too small, transparent or gray?)")
    return concatenate(stored, list(keys), max_rows=len(stored) * augs * samp.positions)


def has_globals(path: Path) -> bool:
    """Whether a cached file holds pooled global features (files of early versions may not)."""
    return torch.load(path, map_location="cpu", weights_only=True)["globals"].shape[-1] > 0


def concatenate(stored: list[tuple[int, Path]], image_keys: list[str], max_rows: int) -> FeatureCache:
    """One FeatureCache from the per-photo files, read one at a time and copied into place (peak
    memory: the cache itself plus one photo's crops)."""
    feats = targets = None
    weight = torch.empty(max_rows, dtype=torch.float16)
    image = torch.empty(max_rows, dtype=torch.int64)
    crop = torch.empty(max_rows, dtype=torch.int64)
    globals_, at, crops = [], 0, 0
    for i, path in stored:
        p = torch.load(path, map_location="cpu", weights_only=True)
        if feats is None:
            feats = torch.empty((max_rows, p["feats"].shape[1]), dtype=torch.float16)
            targets = [torch.empty((max_rows, t.shape[1]), dtype=torch.float16) for t in p["targets"]]
        n = p["feats"].shape[0]
        feats[at:at + n] = p["feats"]
        for dst, src in zip(targets, p["targets"]):
            dst[at:at + n] = src
        weight[at:at + n] = p["weight"]
        image[at:at + n] = i
        crop[at:at + n] = p["crop"].long() + crops
        crops += p["globals"].shape[0]
        globals_.append(p["globals"])
        at += n
    complete = all(g.shape[-1] > 0 for g in globals_)  # files of early versions hold no global features
    return FeatureCache(feats[:at], [t[:at] for t in targets], weight[:at], image[:at], crop[:at],
                        torch.cat(globals_) if complete else None, image_keys)
