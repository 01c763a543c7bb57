"""Evaluate one weights file on split=val under several decoding settings (prints one JSON line each).

Usage: python benchmarks/train_eval_sweep.py WEIGHTS "key=value,key=value" ...
"""

from __future__ import annotations

import json
import sys

import torch

from colorizer.pipeline import Colorizer
from colorizer.render_settings import RenderSettings
from colorizer.train.data import read_manifest
from colorizer.train.metrics import evaluate


def main(argv: list[str]) -> int:
    torch.set_num_threads(2)
    col = Colorizer.load(argv[0], device="cpu")
    paths = read_manifest("../shared/data/corpus/MANIFEST.tsv", "val")
    for spec in argv[1:] or [""]:
        changes = {k: (v if k == "method" else float(v)) for k, v in (kv.split("=") for kv in spec.split(",") if kv)}
        r = evaluate(col, paths, RenderSettings().replace(**changes))
        print(json.dumps({"settings": changes, "model": r["model"], "gray": r["gray"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
