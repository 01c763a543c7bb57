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
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from colorizer.bins import BinScheme
from colorizer.model import HypercolumnColorizer
from colorizer.pipeline import resolve_device
from colorizer.train.config import TrainConfig, check_disjoint, training_paths, validation_paths
from colorizer.train.crop_cache import FeatureCache, build_feature_cache
from colorizer.train.augment import AugmentConfig
from colorizer.train.data import ImageSet, SampleConfig, load_image_set, make_sample, manifest_licences
from colorizer.train.distributed import DistInfo, init_distributed, min_all
from colorizer.train.head_training import SampledHead, bootstrap_counts, histogram_loss
from colorizer.train.robust_backbone import robustness_phase
from colorizer.train.setup import (build_training_model, configure_freezing, limit_head, make_optimizer, make_scheduler,
                                   set_train_mode)
from colorizer.train.storage import CHECKPOINT_NAME, atomic_torch_save, check_run_files, save_final_weights
from colorizer.weights import save_weights


# ----- batching ---------------------------------------------------------------------------------------------
@dataclass
class LiveBatch:
    """Fresh crops for live (backbone-training) mode: lightness (N, 1, S, S), positions (N, P, 2),
    targets per channel (N, P, K), hue weights (N, P) and the image index of each crop (N,)."""

    gray: torch.Tensor
    positions: torch.Tensor
    targets: list[torch.Tensor]
    weight: torch.Tensor
    images: list[int]


def live_batch(images: ImageSet, scheme: BinScheme, aug: AugmentConfig, samp: SampleConfig, seed: int, epoch: int,
               order: list[int], step_in_epoch: int, backgrounds: list[np.ndarray] | None = None) -> LiveBatch:
    """One batch of fresh crops (same size per batch); every draw is seeded by (seed, epoch, image, step)."""
    rng = np.random.default_rng([seed, epoch, step_in_epoch, 99])
    size = int(rng.integers(aug.min_size, aug.max_size + 1)) if aug.enabled else aug.max_size
    samples, used = [], []
    for i in order:
        for k in range(len(images)):  # fall back to the next image if a crop is unusable
            j = (i + k) % len(images)
            s = make_sample(images.images[j], images.masks[j], np.random.default_rng([seed, epoch, j, step_in_epoch]),
                            scheme, aug, samp, size=size, backgrounds=backgrounds or ())
            if s is not None:
                samples.append(s)
                used.append(j)
                break
    return LiveBatch(gray=torch.from_numpy(np.stack([s.lightness for s in samples]))[:, None],
                     positions=torch.from_numpy(np.stack([s.positions for s in samples])),
                     targets=[torch.from_numpy(np.stack([s.targets[c] for s in samples]))
                              for c in range(len(scheme.channel_sizes))],
                     weight=torch.from_numpy(np.stack([s.weight for s in samples])), images=used)


class SparseModel(nn.Module):
    """Per-member log-histograms at sampled positions, (N, P, M, K) per channel (DistributedDataParallel
    needs a plain forward)."""

    def __init__(self, model: HypercolumnColorizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, gray: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        out = self.model.head_sparse(self.model.features(gray), positions, members=True)
        return [o.permute(0, 3, 1, 2) for o in out]


def mixture_rows(member_log_probs: list[torch.Tensor]) -> list[torch.Tensor]:
    """(B, M, K) member log-histograms -> (B, K) log of their average (what inference decodes)."""
    return [HypercolumnColorizer.mixture(lp) for lp in member_log_probs]


# ----- the run ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    weights: Path | None
    steps: int
    final_loss: float
    val_loss: float | None
    seconds: float
    val_metrics: dict | None = None
    interrupted: bool = False
    note: str | None = None  # e.g. where the weights went when -o could not be written


@dataclass
class TrainingData:
    """What the loop draws from: the cached rows (cache mode) or the photos (live mode), the
    validation rows, and each photo's bagging counts (images, members)."""

    train_set: ImageSet
    val_set: ImageSet | None
    cache: FeatureCache | None
    val_cache: FeatureCache | None
    counts: torch.Tensor
    backgrounds: list[np.ndarray]
    cache_seconds: float


def prepare_data(cfg: TrainConfig, model: HypercolumnColorizer, scheme: BinScheme, device: torch.device,
                 info: DistInfo, show: bool, callback: "ProgressCallback | None" = None) -> TrainingData:
    """Load the photos, refuse validation photos among them, and build or load the feature caches."""
    def phase(name: str) -> Callable[[int, int], None] | None:
        if callback is None:
            return None

        def report(done: int, total: int) -> None:
            if callback(name, done, total) is False:
                raise TrainingCancelled(f"cancelled while {name}")
        return report

    train_paths = training_paths(cfg)
    val_paths = validation_paths(cfg)
    check_disjoint(train_paths, val_paths)
    train_set = load_image_set(train_paths, cfg.gray_threshold, report=phase("loading photos"))
    if not len(train_set):
        raise ValueError(f"no usable training images among {len(train_paths)} (skipped: {len(train_set.skipped)})")
    val_set = load_image_set(val_paths, cfg.gray_threshold) if val_paths else None
    backgrounds = [im for im, m in zip(train_set.images, train_set.masks) if m is None]
    samp = SampleConfig(positions=cfg.positions, window=cfg.window)
    counts = torch.from_numpy(bootstrap_counts(train_set.keys, model.config.members, cfg.seed))
    cache = val_cache = None
    t0 = time.time()
    if cfg.use_cache:
        cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else Path(cfg.run_dir)
        cache = build_feature_cache(model, train_set, scheme, cfg.augment_config(), samp, cfg.augs_per_image, cfg.seed,
                                    device, cache_dir, backgrounds, show, info.rank, info.world,
                                    report=phase("caching features"))
        if val_set is not None and len(val_set):
            val_cache = build_feature_cache(model, val_set, scheme, AugmentConfig(max_size=cfg.max_size, enabled=False),
                                            samp, 1, cfg.seed + 1, device, cache_dir, progress=show)
    return TrainingData(train_set, val_set, cache, val_cache, counts, backgrounds, time.time() - t0)


def validation_loss(model: HypercolumnColorizer, cache: FeatureCache | None, scheme: BinScheme, lambda_hue: float,
                    device: torch.device) -> float | None:
    """Mean KL loss of the ensemble's average histogram on the cached validation rows."""
    if cache is None:
        return None
    head = SampledHead(model).eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(cache), 8192):
            x, g, t, w = cache.rows(torch.arange(i, min(i + 8192, len(cache))), device)
            total += float(histogram_loss(mixture_rows(head(x, g)), t, w, scheme.name, lambda_hue)) * x.shape[0]
    return total / len(cache)


def snapshot_path(out: str | Path, step: int) -> Path:
    """Where ``--save-at STEP`` writes the weights of that step: ``OUT-stepSTEP.safetensors``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-step{step}{out.suffix}")


class TrainingCancelled(RuntimeError):
    """The callback asked to stop before training began (nothing was written but caches)."""


# callback(phase, done, total): phases "loading photos", "caching features", "training", "old-print
# robustness"; returning False cancels (before training: TrainingCancelled; during training: like Ctrl+C, the
# best so far is kept; during the robustness phase: the trained head is kept with the starting backbone).
ProgressCallback = Callable[[str, int, int], "bool | None"]


def train(cfg: TrainConfig, stop_after: int | None = None, callback: ProgressCallback | None = None) -> TrainResult:
    """Run (or resume) a training run; ``stop_after`` ends the process early after that many steps in
    this call (used by tests to simulate an interruption: no weights are written then); ``callback``
    reports progress and can cancel (see ``ProgressCallback``). Torch's thread count and global random
    state are restored afterwards, so a caller (the app's fine-tune) keeps its own."""
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    try:
        return _train(cfg, stop_after, callback)
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(rng)


def _train(cfg: TrainConfig, stop_after: int | None, callback: ProgressCallback | None) -> TrainResult:
    check_run_files(cfg.out, cfg.run_dir, cfg.cache_dir, cfg.resume)  # before anything is loaded or trained
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
    ckpt_path = run_dir / CHECKPOINT_NAME
    show = info.main and not cfg.quiet

    model, scheme, provenance = build_training_model(cfg)
    model.to(device)
    configure_freezing(model, "all" if cfg.use_cache else cfg.freeze)
    limit_head(model, cfg.head_scope)
    data = prepare_data(cfg, model, scheme, device, info, show, callback)
    cache, train_set = data.cache, data.train_set
    aug = cfg.augment_config()
    samp = SampleConfig(positions=cfg.positions, window=cfg.window)
    amp = cfg.amp and device.type == "cuda"
    counts = data.counts.to(device)

    if cache is not None:
        n_items, per_step = len(cache), cfg.pixel_batch
    else:
        n_items, per_step = len(train_set), cfg.batch_size
    local_items = n_items if cache is not None else math.ceil(n_items / info.world)
    steps_per_epoch = max(1, math.ceil(local_items / per_step))
    if cache is not None and info.world > 1:  # every rank must take the same number of steps
        steps_per_epoch = min_all(steps_per_epoch, info)
    total = cfg.steps or cfg.epochs * steps_per_epoch

    trainable = SampledHead(model) if cache is not None else SparseModel(model)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg, total)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    anchor = ({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
              if cfg.l2sp > 0 else None)
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

    def training_record(vl: float | None, metrics: dict | None) -> dict:
        return {
            "recipe": {k: v for k, v in asdict(cfg).items() if k not in ("resume", "quiet", "workers", "device")},
            "data": {"manifest": cfg.manifest, "split": cfg.split, "folders": cfg.data, "images": len(train_set),
                     "skipped": len(train_set.skipped), "excluded_sources": list(cfg.exclude_sources),
                     "licences": manifest_licences(cfg.manifest, cfg.split) if cfg.manifest else None},
            "steps": step, "train_seconds": round(elapsed, 1), "cache_seconds_this_call": round(data.cache_seconds, 1),
            "device": str(device), "world_size": info.world,
            "final_train_loss": None if ema is None else round(ema, 5), "best_step": best["step"] or step,
            "interrupted": interrupted, "robust_backbone": robust,
            "val_loss": None if vl is None else round(vl, 5), "val_metrics": metrics, "torch": torch.__version__,
            **provenance,
        }

    def batch_loss(epoch: int, k: int) -> tuple[torch.Tensor, int]:
        """The loss of step ``k`` of ``epoch`` and how many items (pixels or crops) it saw."""
        nonlocal perm, perm_epoch
        if cache is not None:
            if perm_epoch != epoch:
                g = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)
                perm, perm_epoch = torch.randperm(len(cache), generator=g), epoch
            idx = perm[k * per_step:(k + 1) * per_step]
            x, gfeat, t, w = cache.rows(idx, device)
            if cfg.dropout > 0:  # hypercolumn dropout: the head must not lean on a few channels
                x = F.dropout(x, cfg.dropout, training=True)
                gfeat = None if gfeat is None else F.dropout(gfeat, cfg.dropout, training=True)
            with torch.autocast(device.type, enabled=amp):
                out = wrapped(x, gfeat)
            row_weights = counts[cache.image[idx].to(device)]
            loss = histogram_loss([o.float() for o in out], t, w, scheme.name, cfg.lambda_hue, row_weights)
            n_done = x.shape[0]
        else:
            g = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)
            order = torch.randperm(n_items, generator=g).tolist()[info.rank::info.world]
            batch_idx = order[k * per_step:(k + 1) * per_step] or order[:per_step]
            lb = live_batch(train_set, scheme, aug, samp, cfg.seed, epoch, batch_idx, k, data.backgrounds)
            with torch.autocast(device.type, enabled=amp):
                out = wrapped(lb.gray.to(device), lb.positions.to(device))
            n_pos = lb.positions.shape[1]
            row_weights = counts[torch.tensor(lb.images, device=device)].repeat_interleave(n_pos, dim=0)
            loss = histogram_loss([o.float().flatten(0, 1) for o in out], [c.to(device).flatten(0, 1) for c in lb.targets],
                                  lb.weight.to(device).flatten(), scheme.name, cfg.lambda_hue, row_weights)
            n_done = lb.gray.shape[0]
        if anchor:  # L2-SP: stay near the starting weights (fine-tuning keeps what the start knew)
            loss = loss + cfg.l2sp * sum(((p - anchor[n]) ** 2).sum() for n, p in model.named_parameters() if n in anchor)
        return loss, n_done

    set_train_mode(model)
    bar = tqdm(total=total, initial=step, disable=not show, unit="step", dynamic_ncols=True)
    ema, done_here, last = None, 0, float("nan")
    best: dict = best_state if best_state else {"loss": float("inf"), "step": 0, "state": None}
    perm, perm_epoch = None, -1
    interrupted = False
    robust: dict | None = None  # record of the old-print robustness phase, once it ran
    try:
        while step < total:
            epoch, k = divmod(step, steps_per_epoch)
            torch.manual_seed(cfg.seed * 1000003 + step * 7919 + info.rank)  # per-step seed: resume is exact
            t_step = time.time()
            loss, n_done = batch_loss(epoch, k)
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
            if callback is not None and callback("training", step, total) is False:
                raise KeyboardInterrupt
            end_of_epoch = (step % steps_per_epoch == 0)
            if info.main and (step % 20 == 0 or end_of_epoch or step == total or step % cfg.checkpoint_every == 0):
                checking = end_of_epoch or step == total or step % cfg.checkpoint_every == 0
                vl = validation_loss(model, data.val_cache, scheme, cfg.lambda_hue, device) if checking else None
                if vl is not None and cfg.keep_best and vl < best["loss"]:
                    best.update(loss=vl, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
                with open(log_path, "a", newline="") as fh:
                    csv.writer(fh).writerow([step, epoch, f"{ema:.5f}", f"{sched.get_last_lr()[0]:.3g}", f"{rate:.1f}",
                                             "" if vl is None else f"{vl:.5f}", f"{elapsed:.1f}"])
                set_train_mode(model)
            if info.main and step in cfg.save_at and step < total:
                model.eval()
                save_weights(snapshot_path(cfg.out, step), model, scheme, training_record(None, None))
                set_train_mode(model)
            if step % cfg.checkpoint_every == 0 or step == total:
                save_checkpoint()
            if stop_after is not None and done_here >= stop_after and step < total:
                bar.close()
                return TrainResult(None, step, last, None, elapsed)
    except KeyboardInterrupt:  # Ctrl+C: keep what was learnt (checkpoint to resume from, best weights so far)
        interrupted = True
        if info.world > 1:
            raise
        save_checkpoint()
    bar.close()
    if best["state"] is not None and best["step"] != step:  # early stopping on the validation loss
        model.load_state_dict(best["state"])
    model.eval()
    vl = validation_loss(model, data.val_cache, scheme, cfg.lambda_hue, device)  # of the head, on cached features
    if not interrupted:
        try:
            robust = robustness_phase(cfg, model, train_set, device, show, callback)
        except KeyboardInterrupt:  # the backbone is back as it was: the head-only model is kept
            interrupted = True
    result = TrainResult(None, step, ema if ema is not None else last, vl, elapsed, interrupted=interrupted)
    if info.main:
        metrics = None
        if cfg.final_eval and data.val_set is not None and len(data.val_set):
            from colorizer.train.metrics import evaluate_model
            metrics = evaluate_model(model, scheme, data.val_set.paths, device=str(device))["model"]
        result.val_metrics = metrics
        result.weights, result.note = save_final_weights(  # atomic; into the run folder if -o fails
            cfg.out, cfg.run_dir, lambda path: save_weights(path, model, scheme, training_record(vl, metrics)))
    if info.world > 1:
        dist.barrier()
    return result
