"""Training the histogram head on sampled hypercolumns: the KL loss, the head applied to rows of
pre-sampled features, and bagging weights for ensemble members."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorizer.model import HypercolumnColorizer


def histogram_loss(log_probs: list[torch.Tensor], targets: list[torch.Tensor], weight: torch.Tensor,
                   scheme: str, lambda_hue: float = 5.0, row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The KL loss of DESIGN.md; histograms on the last axis.

    hue_chroma: KL(y_C || f_C) + lambda_H * w * KL(y_H || f_H) with w the window's mean chroma;
    Lab schemes: the sum of the channels' KLs. Targets with no valid pixel (all zero) contribute 0.
    ``log_probs`` may carry an ensemble axis before the bins ((B, M, K) against (B, K) targets):
    each member's loss is then the mean over rows weighted by its ``row_weights`` (B, M) (its
    bootstrap counts), and the result is the mean over members (members share no parameters, so
    each learns from its own loss alone).
    """
    if log_probs[0].dim() == targets[0].dim() + 1:
        targets = [t.unsqueeze(-2) for t in targets]
        weight = weight.unsqueeze(-1)
    kls = [(torch.xlogy(t, t) - t * lp).sum(-1) for lp, t in zip(log_probs, targets)]
    per_row = kls[1] + lambda_hue * weight * kls[0] if scheme == "hue_chroma" else sum(kls)
    if row_weights is None:
        return per_row.mean()
    return ((per_row * row_weights).sum(0) / row_weights.sum(0).clamp_min(1e-6)).mean()


def sample_hypercolumns(feats: dict[str, torch.Tensor], layers: tuple[str, ...], positions: torch.Tensor) -> torch.Tensor:
    """(N, P, C_total) bilinear samples of every layer at ``positions`` (N, P, 2), as ``head_sparse`` does."""
    grid = positions[:, :, None, :].to(feats[layers[0]].dtype)
    cols = [F.grid_sample(feats[n], grid, mode="bilinear", padding_mode="border", align_corners=False)[..., 0]
            for n in layers]
    return torch.cat(cols, dim=1).transpose(1, 2)


class SampledHead(nn.Module):
    """The model's head applied to pre-sampled hypercolumns (B, C_total) in ``config.layers`` order
    (and, with global features, each row's pooled image features (B, G)).

    Equal to ``head_sparse`` on the same features: the per-layer 1x1 projections are one linear map.
    Returns per-member log-histograms, one (B, M, K) tensor per channel.
    """

    def __init__(self, model: HypercolumnColorizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, global_rows: torch.Tensor | None = None) -> list[torch.Tensor]:
        m = self.model
        w = torch.cat([m.proj[n].weight.flatten(1) for n in m.config.layers], dim=1)
        hidden = F.linear(x, w, m.proj_bias)
        if m.config.global_features:
            if global_rows is None:
                raise ValueError("this head uses global image features; give them per row")
            hidden = hidden + m.global_proj(global_rows)
        return [lp[..., 0, 0] for lp in m.member_log_probs(hidden[:, :, None, None])]


def stable_key(text: str) -> int:
    """A 63-bit integer from ``text`` that does not change between runs (for seeding)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def bootstrap_counts(image_keys: list[str], members: int, seed: int) -> np.ndarray:
    """(images, members) bagging counts: member m sees image i ``Poisson(1)`` times (a bootstrap of
    photos, not of pixels); a single model sees every image once. Stable per image key, so the same
    image gets the same counts whichever subset (fold) it is part of."""
    if members == 1:
        return np.ones((len(image_keys), 1), np.float32)
    counts = np.empty((len(image_keys), members), np.float32)
    for i, key in enumerate(image_keys):
        counts[i] = np.random.default_rng([seed, stable_key(key), 77]).poisson(1.0, members)
    return counts
