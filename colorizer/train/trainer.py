"""The trainer: histogram KL loss, frozen-backbone feature caching, the training loop with
checkpoints/resume, CSV log, seeds, AMP on CUDA and DistributedDataParallel under ``torchrun``.

Two modes share one loop:
- ``cache`` (automatic with a frozen backbone): the backbone runs once per (image, augmentation);
  hypercolumns are sampled at the supervised positions and stored (fp16), then only the head is
  trained, on shuffled pixels, for many epochs. Mathematically the same model as the sparse path.
- ``live``: every step augments fresh crops and runs ``forward_sparse`` (needed to fine-tune the backbone).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from colorizer.bins import BinScheme
from colorizer.model import HypercolumnColorizer, ModelConfig, build_model, DEFAULT_LAYERS
from colorizer.pipeline import resolve_device
from colorizer.train.data import (AugmentConfig, ImageSet, SampleConfig, find_images, load_image_set, make_sample,
                                  manifest_licences, read_manifest)
from colorizer.weights import load_weights, save_weights


@dataclass
class TrainConfig:
    """Everything a training run needs; stored in checkpoints and (in part) in the weights' provenance."""

    out: str = "runs/colorizer.safetensors"
    run_dir: str = "runs/train"
    cache_dir: str | None = None
    data: list[str] = field(default_factory=list)
    manifest: str | None = None
    split: str = "train"
    val_data: list[str] = field(default_factory=list)
    val_split: str | None = None
    scheme: str = "hue_chroma"
    bins: int = 32
    window: int = 7
    positions: int = 256
    backbone: str = "lite0"
    layers: tuple[str, ...] = DEFAULT_LAYERS
    hidden: int = 256
    freeze: str = "all"
    cache_features: bool | None = None
    augs_per_image: int = 4
    epochs: int = 8
    steps: int | None = None
    batch_size: int = 8
    pixel_batch: int = 4096
    lr: float = 1e-3
    weight_decay: float = 0.05
    schedule: str = "cosine"
    warmup: float = 0.03
    lambda_hue: float = 5.0
    dropout: float = 0.6
    keep_best: bool = True
    min_size: int = 224
    max_size: int = 320
    rotate: float = 8.0
    gray_threshold: float = 0.03
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 200
    resume: bool = False
    init: str | None = None
    workers: int = 0
    threads: int | None = None
    pretrained: bool = True
    final_eval: bool = True
    quiet: bool = False

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        if self.freeze not in ("all", "partial", "none"):
            raise ValueError(f"--freeze must be all, partial or none, not {self.freeze!r}")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            raise ValueError(f"--schedule must be cosine, onecycle or constant, not {self.schedule!r}")
        if self.cache_features and self.freeze != "all":
            raise ValueError("--cache-features needs a frozen backbone (--freeze all)")

    @property
    def use_cache(self) -> bool:
        return self.freeze == "all" if self.cache_features is None else bool(self.cache_features)


# ----- loss -----------------------------------------------------------------------------------------
def histogram_loss(log_probs: list[torch.Tensor], targets: list[torch.Tensor], weight: torch.Tensor,
                   scheme: str, lambda_hue: float = 5.0) -> torch.Tensor:
    """Mean over pixels of the KL loss of DESIGN.md; histograms on the last axis.

    hue_chroma: KL(y_C || f_C) + lambda_H * w * KL(y_H || f_H) with w the window's mean chroma;
    Lab schemes: the sum of the channels' KLs. Targets with no valid pixel (all zero) contribute 0.
    """
    kls = [(torch.xlogy(t, t) - t * lp).sum(-1) for lp, t in zip(log_probs, targets)]
    if scheme == "hue_chroma":
        per_pixel = kls[1] + lambda_hue * weight * kls[0]
    else:
        per_pixel = sum(kls)
    return per_pixel.mean()


class SparseModel(nn.Module):
    """``forward`` = ``forward_sparse`` (DistributedDataParallel needs a plain forward)."""

    def __init__(self, model: HypercolumnColorizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, gray: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        return self.model.forward_sparse(gray, positions)


class SampledHead(nn.Module):
    """The model's head applied to pre-sampled hypercolumns (B, C_total) in ``config.layers`` order.

    Equal to ``head_sparse`` on the same features: the per-layer 1x1 projections are one linear map.
    """

    def __init__(self, model: HypercolumnColorizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = self.model
        w = torch.cat([m.proj[n].weight.flatten(1) for n in m.config.layers], dim=1)
        hidden = F.relu(F.linear(x, w, m.proj_bias))
        return [F.log_softmax(F.linear(hidden, h.weight.flatten(1), h.bias), dim=-1) for h in m.heads]


def sample_hypercolumns(feats: dict[str, torch.Tensor], layers: tuple[str, ...], positions: torch.Tensor) -> torch.Tensor:
    """(N, P, C_total) bilinear samples of every layer at ``positions`` (N, P, 2), as ``head_sparse`` does."""
    grid = positions[:, :, None, :].to(next(iter(feats.values())).dtype)
    cols = [F.grid_sample(feats[n], grid, mode="bilinear", padding_mode="border", align_corners=False)[..., 0]
            for n in layers]
    return torch.cat(cols, dim=1).transpose(1, 2)


# ----- distributed helpers ----------------------------------------------------------------------------
@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_kind: str) -> DistInfo:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def all_reduce_mean(value: float, info: DistInfo) -> float:
    if info.world <= 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / info.world


# ----- data lists -------------------------------------------------------------------------------------
def training_paths(cfg: TrainConfig) -> list[Path]:
    paths: list[Path] = []
    if cfg.manifest:
        paths += read_manifest(cfg.manifest, cfg.split)
    if cfg.data:
        paths += find_images(cfg.data)
    if not paths:
        raise ValueError("no training images: give --data FOLDER... or --manifest MANIFEST.tsv")
    return paths


def validation_paths(cfg: TrainConfig) -> list[Path]:
    paths: list[Path] = []
    if cfg.manifest and cfg.val_split:
        paths += read_manifest(cfg.manifest, cfg.val_split)
    if cfg.val_data:
        paths += find_images(cfg.val_data)
    return paths


def check_disjoint(train: list[Path], val: list[Path]) -> None:
    """Refuse to train on validation images (e.g. ``--data corpus/`` together with ``--val-split val``)."""
    overlap = {p.resolve() for p in train} & {p.resolve() for p in val}
    if overlap:
        example = sorted(overlap)[0]
        raise ValueError(f"{len(overlap)} validation images are also in the training data (e.g. {example}); "
                         "train on a folder or split that excludes them")


# ----- feature cache ------------------------------------------------------------------------------------
@dataclass
class FeatureCache:
    """Pre-sampled hypercolumns (M, C) fp16, targets per channel (M, K) fp16 and hue weights (M,)."""

    feats: torch.Tensor
    targets: list[torch.Tensor]
    weight: torch.Tensor

    def __len__(self) -> int:
        return self.feats.shape[0]


def cache_signature(cfg: TrainConfig, model_cfg: ModelConfig, paths: list[Path], augs: int, tag: str,
                    info: DistInfo) -> str:
    key = json.dumps({"paths": [str(p) for p in paths], "backbone": model_cfg.backbone, "layers": list(model_cfg.layers),
                      "scheme": cfg.scheme,
                      "bins": cfg.bins, "window": cfg.window, "positions": cfg.positions, "augs": augs,
                      "sizes": [cfg.min_size, cfg.max_size, cfg.rotate], "seed": cfg.seed, "tag": tag,
                      "rank": info.rank, "world": info.world, "pretrained": cfg.pretrained,
                      "init": cfg.init}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@torch.inference_mode()
def build_feature_cache(model: HypercolumnColorizer, images: ImageSet, scheme: BinScheme, aug: AugmentConfig,
                        samp: SampleConfig, augs: int, seed: int, device: torch.device, info: DistInfo,
                        progress: bool = True) -> FeatureCache:
    """Run the (frozen) backbone once per image and augmentation; keep sampled hypercolumns only."""
    layers = model.config.layers
    feats, targets, weights = [], [[] for _ in scheme.channel_sizes], []
    todo = [(i, a) for i in range(len(images)) if i % info.world == info.rank for a in range(augs)]
    for i, a in tqdm(todo, desc="caching features", disable=not progress, unit="crop"):
        rng = np.random.default_rng([seed, i, a])
        s = make_sample(images.images[i], images.masks[i], rng, scheme, aug, samp)
        if s is None:
            continue
        gray = torch.from_numpy(s.lightness)[None, None].to(device)
        pos = torch.from_numpy(s.positions)[None].to(device)
        f = sample_hypercolumns(model.features(gray), layers, pos)[0]
        feats.append(f.half().cpu())
        for c, t in enumerate(s.targets):
            targets[c].append(torch.from_numpy(t).half())
        weights.append(torch.from_numpy(s.weight).half())
    if not feats:
        raise ValueError("no usable training crops (all images too small, transparent or gray?)")
    return FeatureCache(torch.cat(feats), [torch.cat(t) for t in targets], torch.cat(weights))


def load_or_build_cache(path: Path, build: Callable[[], FeatureCache]) -> FeatureCache:
    if path.is_file():
        d = torch.load(path, map_location="cpu", weights_only=True)
        return FeatureCache(d["feats"], list(d["targets"]), d["weight"])
    cache = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({"feats": cache.feats, "targets": cache.targets, "weight": cache.weight}, path)
    return cache


# ----- model / optimiser setup ----------------------------------------------------------------------------
def configure_freezing(model: HypercolumnColorizer, freeze: str) -> None:
    """``all``: backbone frozen; ``partial``: stem and stages 1-4 frozen, later stages trained; ``none``: all trained.

    BatchNorm always stays in eval mode (running statistics of ImageNet; small crop batches would
    make noisy batch statistics).
    """
    bb = model.backbone
    for p in bb.parameters():
        p.requires_grad = freeze == "none"
    if freeze == "partial":
        first_trained = bb.stage_ends[3] + 1
        for i, block in enumerate(bb._blocks):
            for p in block.parameters():
                p.requires_grad = i >= first_trained
        for p in list(bb._conv_head.parameters()) + list(bb._bn1.parameters()):
            p.requires_grad = True


def set_train_mode(model: HypercolumnColorizer) -> None:
    model.train()
    for m in model.backbone.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def make_optimizer(model: HypercolumnColorizer, cfg: TrainConfig) -> torch.optim.Optimizer:
    head = [p for p in model.head_parameters() if p.requires_grad]
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    groups = [{"params": head, "lr": cfg.lr}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.lr * 0.1})
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=max(total, 1),
                                                   pct_start=max(cfg.warmup, 0.05))
    warm = max(1, int(cfg.warmup * total))

    def factor(step: int) -> float:
        if cfg.schedule == "constant":
            return 1.0
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total - warm))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def atomic_torch_save(obj: object, path: Path) -> None:
    """torch.save to a temporary file, then rename: a killed run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_training_model(cfg: TrainConfig) -> tuple[HypercolumnColorizer, BinScheme, dict]:
    """A fresh model (ImageNet backbone) or one initialised from ``--init`` weights (their config wins)."""
    if cfg.init:
        loaded = load_weights(cfg.init)
        return loaded.model, loaded.scheme, {"init": str(cfg.init), "init_training": loaded.training.get("recipe")}
    scheme = BinScheme(cfg.scheme, cfg.bins)
    mcfg = ModelConfig(backbone=cfg.backbone, layers=cfg.layers, hidden=cfg.hidden, channel_sizes=scheme.channel_sizes)
    return build_model(mcfg, pretrained=cfg.pretrained), scheme, {}


# ----- batching ---------------------------------------------------------------------------------------------
def live_batch(images: ImageSet, scheme: BinScheme, aug: AugmentConfig, samp: SampleConfig, seed: int, epoch: int,
               order: list[int], step_in_epoch: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """One batch of fresh crops (same size per batch); every draw is seeded by (seed, epoch, image, step)."""
    rng = np.random.default_rng([seed, epoch, step_in_epoch, 99])
    size = int(rng.integers(aug.min_size, aug.max_size + 1)) if aug.enabled else aug.max_size
    samples = []
    for i in order:
        for k in range(len(images)):  # fall back to the next image if a crop is unusable
            j = (i + k) % len(images)
            s = make_sample(images.images[j], images.masks[j], np.random.default_rng([seed, epoch, j, step_in_epoch]),
                            scheme, aug, samp, size=size)
            if s is not None:
                samples.append(s)
                break
    gray = torch.from_numpy(np.stack([s.lightness for s in samples]))[:, None]
    pos = torch.from_numpy(np.stack([s.positions for s in samples]))
    targets = [torch.from_numpy(np.stack([s.targets[c] for s in samples])) for c in range(len(scheme.channel_sizes))]
    weight = torch.from_numpy(np.stack([s.weight for s in samples]))
    return gray, pos, targets, weight


# ----- the run ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    weights: Path | None
    steps: int
    final_loss: float
    val_loss: float | None
    seconds: float
    val_metrics: dict | None = None


def train(cfg: TrainConfig, stop_after: int | None = None) -> TrainResult:
    """Run (or resume) a training run; ``stop_after`` ends the process early after that many steps in
    this call (used by tests to simulate an interruption: no weights are written then)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    info = init_distributed(device.type)
    if device.type == "cuda" and info.world > 1:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    show = info.main and not cfg.quiet

    model, scheme, provenance = build_training_model(cfg)
    model.to(device)
    configure_freezing(model, "all" if cfg.use_cache else cfg.freeze)
    train_paths = training_paths(cfg)
    val_paths = validation_paths(cfg)
    check_disjoint(train_paths, val_paths)
    train_set = load_image_set(train_paths, cfg.gray_threshold)
    if not len(train_set):
        raise ValueError(f"no usable training images among {len(train_paths)} (skipped: {len(train_set.skipped)})")
    val_set = load_image_set(val_paths, cfg.gray_threshold) if val_paths else None
    aug = AugmentConfig(min_size=cfg.min_size, max_size=cfg.max_size, rotate=cfg.rotate)
    val_aug = AugmentConfig(max_size=cfg.max_size, enabled=False)
    samp = SampleConfig(positions=cfg.positions, window=cfg.window)
    amp = cfg.amp and device.type == "cuda"

    cache = val_cache = None
    t_cache = time.time()
    if cfg.use_cache:
        model.eval()
        tag = cache_signature(cfg, model.config, train_set.paths, cfg.augs_per_image, "train", info)
        cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else run_dir
        cache = load_or_build_cache(cache_dir / f"cache-{tag}.pt", lambda: build_feature_cache(
            model, train_set, scheme, aug, samp, cfg.augs_per_image, cfg.seed, device, info, show))
        if val_set is not None and len(val_set):
            vinfo = DistInfo()
            vtag = cache_signature(cfg, model.config, val_set.paths, 1, "val", vinfo)
            val_cache = load_or_build_cache(cache_dir / f"cache-{vtag}.pt", lambda: build_feature_cache(
                model, val_set, scheme, val_aug, samp, 1, cfg.seed + 1, device, vinfo, show))
        n_items, per_step = len(cache), cfg.pixel_batch
    else:
        n_items, per_step = len(train_set), cfg.batch_size
    cache_seconds = time.time() - t_cache
    local_items = n_items if cfg.use_cache else math.ceil(n_items / info.world)
    steps_per_epoch = max(1, math.ceil(local_items / per_step))
    if cfg.use_cache and info.world > 1:  # every rank must take the same number of steps
        steps_per_epoch = _min_all(steps_per_epoch, info)
    total = cfg.steps or cfg.epochs * steps_per_epoch

    trainable = SampledHead(model) if cfg.use_cache else SparseModel(model)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg, total)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    step, elapsed, best_state = 0, 0.0, None
    if cfg.resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck["scaler"])
        step, elapsed, best_state = int(ck["step"]), float(ck["elapsed"]), ck.get("best")
        if show:
            print(f"resumed from {ckpt_path} at step {step}/{total}")
    wrapped: nn.Module = trainable
    if info.world > 1:
        wrapped = nn.parallel.DistributedDataParallel(trainable, device_ids=[device.index] if device.type == "cuda" else None)

    log_path = run_dir / "log.csv"
    if info.main and (not log_path.is_file() or step == 0):
        with open(log_path, "w", newline="") as fh:
            csv.writer(fh).writerow(["step", "epoch", "loss", "lr", "items_per_s", "val_loss", "elapsed_s"])

    def save_checkpoint() -> None:
        if info.main:
            atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                               "scaler": scaler.state_dict(), "step": step, "elapsed": elapsed, "best": best,
                               "config": asdict(cfg)}, ckpt_path)

    def val_loss() -> float | None:
        if val_cache is None:
            return None
        with torch.no_grad():
            head = SampledHead(model).eval()
            tot = 0.0
            for i in range(0, len(val_cache), 8192):
                x = val_cache.feats[i:i + 8192].to(device).float()
                t = [c[i:i + 8192].to(device).float() for c in val_cache.targets]
                w = val_cache.weight[i:i + 8192].to(device).float()
                tot += float(histogram_loss(head(x), t, w, scheme.name, cfg.lambda_hue)) * x.shape[0]
        return tot / len(val_cache)

    set_train_mode(model)
    bar = tqdm(total=total, initial=step, disable=not show, unit="step", dynamic_ncols=True)
    ema, done_here, last = None, 0, float("nan")
    best: dict = best_state if best_state else {"loss": float("inf"), "step": 0, "state": None}
    perm, perm_epoch = None, -1
    while step < total:
        epoch, k = divmod(step, steps_per_epoch)
        torch.manual_seed(cfg.seed * 1000003 + step * 7919 + info.rank)  # per-step seed: resume is exact
        t_step = time.time()
        if cfg.use_cache:
            if perm_epoch != epoch:
                g = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)
                perm, perm_epoch = torch.randperm(len(cache), generator=g), epoch
            idx = perm[k * per_step:(k + 1) * per_step]
            x = cache.feats[idx].to(device).float()
            t = [c[idx].to(device).float() for c in cache.targets]
            w = cache.weight[idx].to(device).float()
            if cfg.dropout > 0:  # hypercolumn dropout: the head must not lean on a few channels
                x = F.dropout(x, cfg.dropout, training=True)
            with torch.autocast(device.type, enabled=amp):
                out = wrapped(x)
            loss = histogram_loss([o.float() for o in out], t, w, scheme.name, cfg.lambda_hue)
            n_done = x.shape[0]
        else:
            g = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)
            order = torch.randperm(n_items, generator=g).tolist()[info.rank::info.world]
            batch_idx = order[k * per_step:(k + 1) * per_step] or order[:per_step]
            gray, pos, t, w = live_batch(train_set, scheme, aug, samp, cfg.seed, epoch, batch_idx, k)
            gray, pos, w = gray.to(device), pos.to(device), w.to(device)
            t = [c.to(device) for c in t]
            with torch.autocast(device.type, enabled=amp):
                out = wrapped(gray, pos)
            loss = histogram_loss([o.float().transpose(1, 2) for o in out], t, w, scheme.name, cfg.lambda_hue)
            n_done = gray.shape[0]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        step += 1
        done_here += 1
        elapsed += time.time() - t_step
        last = float(loss.detach())
        ema = last if ema is None else 0.95 * ema + 0.05 * last
        rate = n_done * info.world / max(time.time() - t_step, 1e-9)
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}", rate=f"{rate:.0f}/s")
        end_of_epoch = (step % steps_per_epoch == 0)
        if info.main and (step % 20 == 0 or end_of_epoch or step == total or step % cfg.checkpoint_every == 0):
            vl = val_loss() if (end_of_epoch or step == total or step % cfg.checkpoint_every == 0) else None
            if vl is not None and cfg.keep_best and vl < best["loss"]:
                best.update(loss=vl, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
            with open(log_path, "a", newline="") as fh:
                csv.writer(fh).writerow([step, epoch, f"{ema:.5f}", f"{sched.get_last_lr()[0]:.3g}", f"{rate:.1f}",
                                         "" if vl is None else f"{vl:.5f}", f"{elapsed:.1f}"])
            set_train_mode(model)
        if step % cfg.checkpoint_every == 0 or step == total:
            save_checkpoint()
        if stop_after is not None and done_here >= stop_after and step < total:
            bar.close()
            return TrainResult(None, step, last, None, elapsed)
    bar.close()
    if best["state"] is not None and best["step"] != step:  # early stopping on the validation loss
        model.load_state_dict(best["state"])
    model.eval()
    vl = val_loss()
    result = TrainResult(None, step, ema if ema is not None else last, vl, elapsed)
    if info.main:
        metrics = None
        if cfg.final_eval and val_set is not None and len(val_set):
            from colorizer.train.metrics import evaluate_model
            metrics = evaluate_model(model, scheme, val_set.paths, device=str(device))["model"]
        result.val_metrics = metrics
        training = {
            "recipe": {k: v for k, v in asdict(cfg).items() if k not in ("resume", "quiet", "workers", "device")},
            "data": {"manifest": cfg.manifest, "split": cfg.split, "folders": cfg.data, "images": len(train_set),
                     "skipped": len(train_set.skipped),
                     "licences": manifest_licences(cfg.manifest, cfg.split) if cfg.manifest else None},
            "steps": step, "train_seconds": round(elapsed, 1), "cache_seconds_this_call": round(cache_seconds, 1), "device": str(device), "world_size": info.world,
            "final_train_loss": round(result.final_loss, 5), "best_step": best["step"] or step, "val_loss": None if vl is None else round(vl, 5),
            "val_metrics": metrics, "torch": torch.__version__, **provenance,
        }
        result.weights = save_weights(cfg.out, model, scheme, training)
    if info.world > 1:
        dist.barrier()
    return result


def _min_all(value: int, info: DistInfo) -> int:
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())
