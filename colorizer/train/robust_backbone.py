"""Old-print robustness of the backbone, learnt without colour labels (a second training phase).

The frozen ImageNet backbone turns film grain, blur and faded contrast into different deep features,
so old prints lose much of their colour (cross-validation of v2: ab RMSE 8.7% worse than on the clean
photo). This phase fine-tunes the backbone's deep stages (``first_stage`` onwards and its 1x1 head
convolution) so that, for a randomly degraded photo (:func:`~colorizer.train.degrade.degrade_lightness`),
the colour histograms match what the model *before this phase* predicts for the clean photo
(KL divergence at random grid pixels), while the clean photo keeps its own histograms. The colour
head, the shallow stages and the BatchNorm statistics stay as they were; only training photos are
used, and their colours never are (the teacher's histograms are the targets).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from colorizer.color import luma
from colorizer.model import HypercolumnColorizer, pixel_centre_positions
from colorizer.pipeline import WORKING_SIZE, working_image
from colorizer.train.config import TrainConfig
from colorizer.train.data import ImageSet
from colorizer.train.degrade import OldPrintConfig, degrade_lightness

PHASE = "old-print robustness"


@dataclass(frozen=True)
class RobustConfig:
    """Settings of the robustness phase (chosen on the gcompris-qt-data fold, models/MODEL_CARD.md).

    ``clean_weight``: weight of the clean photo's term (keeps clean colours); ``anchor``: L2 pull of
    the tuned weights towards their start; ``positions``: grid pixels compared per photo and step.
    """

    steps: int = 600
    first_stage: int = 3
    lr: float = 1e-4
    positions: int = 1024
    clean_weight: float = 0.5
    anchor: float = 1e-3
    working_size: int = WORKING_SIZE
    seed: int = 0
    old_print: OldPrintConfig = OldPrintConfig(probability=1.0)  # the degradations learnt, drawn per step


@dataclass
class TeacherTarget:
    """A training photo's clean lightness and the starting model's log-histograms on its grid."""

    lightness: np.ndarray
    log_probs: list[torch.Tensor]  # one (K, h*w) fp16 tensor per colour channel
    grid: tuple[int, int]


def tuned_parameters(model: HypercolumnColorizer, first_stage: int) -> list[nn.Parameter]:
    """The backbone parameters this phase trains: the blocks from stage ``first_stage`` on that feed the
    model's hypercolumn (and the 1x1 head convolution when ``head`` is one of its layers); empty when the
    model uses no stage that deep."""
    bb = model.backbone
    if not 1 <= first_stage <= len(bb.stage_ends):
        raise ValueError(f"first_stage must be 1..{len(bb.stage_ends)}, not {first_stage}")
    layers = model.backbone_layers()
    stages = [int(n[5:]) for n in layers if n.startswith("stage")]
    uses_head = "head" in layers
    last_block = len(bb._blocks) - 1 if uses_head else max((bb.stage_ends[s - 1] for s in stages), default=-1)
    first_block = 0 if first_stage == 1 else bb.stage_ends[first_stage - 2] + 1
    params = [p for i, block in enumerate(bb._blocks) if first_block <= i <= last_block for p in block.parameters()]
    if uses_head:
        params += list(bb._conv_head.parameters()) + list(bb._bn1.parameters())
    return params


def photo_lightness(rgb: np.ndarray, working_size: int) -> np.ndarray:
    """A training photo's (RGB) lightness at the size the network works at (area filter)."""
    small = working_image(rgb.astype(np.float32), working_size)
    return np.ascontiguousarray(luma(np.clip(small, 0.0, 1.0)).astype(np.float32))


def _as_input(lightness: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(lightness))[None, None].to(device)


@torch.inference_mode()
def teacher_target(model: HypercolumnColorizer, rgb: np.ndarray, cfg: RobustConfig,
                   device: torch.device) -> TeacherTarget:
    """The model's dense log-histograms for a clean photo (RGB in [0, 1])."""
    light = photo_lightness(rgb, cfg.working_size)
    grid = model.output_grid(*light.shape)
    lps = model.forward_dense(_as_input(light, device), grid)
    return TeacherTarget(light, [lp[0].reshape(lp.shape[1], -1).half() for lp in lps], grid)


def histogram_kl(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of KL(teacher || student); both (K, P) log-histograms."""
    t = teacher.float()
    return (t.exp() * (t - student)).sum(0).mean()


def harden_backbone(model: HypercolumnColorizer, photos: Sequence[np.ndarray], cfg: RobustConfig,
                    device: torch.device | str = "cpu",
                    callback: Callable[[str, int, int], bool | None] | None = None) -> dict:
    """Run the robustness phase on ``model`` in place (``photos``: clean training RGB in [0, 1],
    masks-free photos); returns a record for the weights' provenance.

    ``callback(PHASE, step, total)`` reports progress; returning False cancels, which (like Ctrl+C)
    restores the backbone as it was and raises KeyboardInterrupt.
    """
    device = torch.device(device)
    if cfg.steps < 1:
        raise ValueError(f"the old-print robustness phase needs at least one step, not {cfg.steps}")
    if not photos:
        raise ValueError("the old-print robustness phase needs at least one training photo")
    params = tuned_parameters(model, cfg.first_stage)
    if not params:
        raise ValueError(f"the model uses no backbone stage from stage{cfg.first_stage} on: nothing for the "
                         "old-print robustness phase to tune")
    start = time.time()
    saved = copy.deepcopy(model.backbone.state_dict())
    model.eval()
    targets = []
    for rgb in photos:  # the targets take a while: a cancel is honoured between photos too
        targets.append(teacher_target(model, rgb, cfg, device))
        if callback is not None and callback(PHASE, 0, cfg.steps) is False:
            raise KeyboardInterrupt
    for p in model.parameters():
        p.requires_grad = False
    for p in params:
        p.requires_grad = True
    anchor = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    warm = max(1, cfg.steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    rng = np.random.default_rng([cfg.seed, 17])
    ema = None
    try:
        for step in range(cfg.steps):
            target = targets[int(rng.integers(len(targets)))]
            h, w = target.grid
            idx = torch.from_numpy(rng.choice(h * w, size=min(cfg.positions, h * w), replace=False))
            positions = pixel_centre_positions(h, w)[:, idx].to(device)
            loss = torch.zeros((), device=device)
            for light, weight in ((degrade_lightness(target.lightness, rng, cfg.old_print), 1.0),
                                  (target.lightness, cfg.clean_weight)):
                student = model.head_sparse(model.features(_as_input(light, device)), positions)
                loss = loss + weight * sum(histogram_kl(t[:, idx.to(t.device)], s[0])
                                           for t, s in zip(target.log_probs, student))
            pull = sum(((p - a) ** 2).sum() for p, a in zip(params, anchor))
            opt.zero_grad(set_to_none=True)
            (loss + cfg.anchor * pull).backward()
            opt.step()
            sched.step()
            ema = float(loss.detach()) if ema is None else 0.95 * ema + 0.05 * float(loss.detach())
            if callback is not None and callback(PHASE, step + 1, cfg.steps) is False:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        model.backbone.load_state_dict(saved)
        raise
    finally:
        for p in model.parameters():
            p.requires_grad = False
        model.eval()
    return {**asdict(cfg), "photos": len(photos), "final_loss": None if ema is None else round(ema, 5),
            "seconds": round(time.time() - start, 1)}


def robustness_photos(images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """The whole photos of a training set (cut-outs, which have masks, sit on invented backdrops)."""
    return [img for img, mask in zip(images, masks) if mask is None]


def robustness_phase(cfg: TrainConfig, model: HypercolumnColorizer, train_set: ImageSet, device: torch.device,
                     show: bool, callback: Callable[[str, int, int], bool | None] | None) -> dict | None:
    """The old-print robustness phase after the head (``cfg.robust_steps``), with a progress bar; its
    record, or None when it does not apply (0 steps, no whole photos, a model without deep layers)."""
    if cfg.robust_steps < 1:
        return None
    robust_cfg = RobustConfig(steps=cfg.robust_steps, seed=cfg.seed)
    photos = robustness_photos(train_set.images, train_set.masks)
    if not photos or not tuned_parameters(model, robust_cfg.first_stage):
        return None
    bar = tqdm(total=robust_cfg.steps, disable=not show, unit="step", desc="old-print robustness", dynamic_ncols=True)

    def report(phase: str, done: int, total: int) -> bool | None:
        bar.update(done - bar.n)
        return None if callback is None else callback(phase, done, total)
    try:
        return harden_backbone(model, photos, robust_cfg, device, report)
    finally:
        bar.close()
