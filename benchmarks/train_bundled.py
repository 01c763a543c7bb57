"""Train a bundled-model candidate on the corpus (split=train), validate on split=val.

Usage: python benchmarks/train_bundled.py NAME [key=value ...]   (keys of TrainConfig)
"""

from __future__ import annotations

import json
import sys

import torch

from colorizer.train.config import TrainConfig
from colorizer.train.trainer import train

CORPUS = "../shared/data/corpus/MANIFEST.tsv"


def main(argv: list[str]) -> int:
    name, overrides = argv[0], dict(a.split("=", 1) for a in argv[1:])
    torch.set_num_threads(2)
    base = TrainConfig(out=f"runs/{name}/weights.safetensors", run_dir=f"runs/{name}", manifest=CORPUS,
                       split="train", val_split="val", threads=2, resume=True)
    fields = TrainConfig.__dataclass_fields__
    kwargs = {}
    for k, v in overrides.items():
        if k == "layers":
            kwargs[k] = tuple(v.split(","))
        else:
            cur = getattr(base, k)
            kwargs[k] = type(cur)(v) if cur is not None and not isinstance(cur, bool) else (v.lower() in ("1", "true") if isinstance(cur, bool) else v)
    cfg = TrainConfig(**{**{f: getattr(base, f) for f in fields}, **kwargs})
    res = train(cfg)
    print(json.dumps({"name": name, "steps": res.steps, "loss": res.final_loss, "val_loss": res.val_loss,
                      "seconds": res.seconds, "val_metrics": res.val_metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
