"""Model and optimiser setup for training: a fresh or ``--init`` model, which backbone layers
train, BatchNorm kept in eval mode, AdamW and the learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from colorizer.bins import BinScheme
from colorizer.model import HypercolumnColorizer, ModelConfig, build_model
from colorizer.train.config import TrainConfig
from colorizer.weights import load_weights


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


def limit_head(model: HypercolumnColorizer, scope: str) -> None:
    """``all``: the whole head learns; ``classifier``: only the per-channel classifiers (hidden -> bins),
    the hypercolumn projection stays fixed: far fewer weights, for fine-tunes on a few photos."""
    if scope == "classifier":
        for name, p in model.named_parameters():
            if not name.startswith("heads."):
                p.requires_grad = False


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


def build_training_model(cfg: TrainConfig) -> tuple[HypercolumnColorizer, BinScheme, dict]:
    """A fresh model (ImageNet backbone) or one initialised from ``--init`` weights (their config wins)."""
    if cfg.init:
        loaded = load_weights(cfg.init)
        return loaded.model, loaded.scheme, {"init": str(cfg.init), "init_training": loaded.training.get("recipe")}
    scheme = BinScheme(cfg.scheme, cfg.bins)
    mcfg = ModelConfig(backbone=cfg.backbone, layers=cfg.layers, hidden=cfg.hidden, channel_sizes=scheme.channel_sizes,
                       members=cfg.members, global_features=cfg.global_features, input_levels=cfg.input_levels)
    return build_model(mcfg, pretrained=cfg.pretrained), scheme, {}
