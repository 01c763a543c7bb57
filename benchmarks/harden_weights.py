"""Add the old-print robustness phase to a weights file trained before the phase existed.

Usage: python benchmarks/harden_weights.py IN.safetensors OUT.safetensors [--steps N] [--threads N]

Loads the training photos of IN's recorded recipe (same manifest, split, excluded sources and gray
threshold), runs :func:`colorizer.train.robust_backbone.harden_backbone` with the recipe's seed and
writes OUT with the recipe's ``robust_steps`` and the phase's record added: the same model that
``colorizer train`` with that recipe now makes, without training the head again.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields

import torch

from colorizer.train.config import TrainConfig, training_paths
from colorizer.train.data import load_image_set
from colorizer.train.robust_backbone import RobustConfig, harden_backbone, robustness_photos
from colorizer.weights import load_weights, save_weights


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=RobustConfig.steps)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_weights(args.weights)
    recorded = dict(loaded.training.get("recipe", {}))
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in recorded.items() if k in names and k != "robust_steps"})
    photos = load_image_set(training_paths(cfg), cfg.gray_threshold)
    whole = robustness_photos(photos.images, photos.masks)
    print(f"{len(whole)} whole training photos; {args.steps} steps", flush=True)
    last = [0.0]

    def progress(_phase: str, done: int, total: int) -> None:
        if time.time() - last[0] > 30 or done == total:
            last[0] = time.time()
            print(f"step {done}/{total}", flush=True)

    record = harden_backbone(loaded.model, whole, RobustConfig(steps=args.steps, seed=cfg.seed), "cpu", progress)
    training = {**loaded.training, "recipe": {**recorded, "robust_steps": args.steps}, "robust_backbone": record}
    save_weights(args.out, loaded.model, loaded.scheme, training)
    print(record, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
