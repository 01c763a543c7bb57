"""Summarise the folds of cross-validation runs that have finished so far (runs/cv/NAME/*/scores.pt).

Usage: python benchmarks/cv_partial.py NAME...
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from colorizer.train.fold_scoring import ScoreBook, summarise


def main(names: list[str]) -> int:
    for name in names:
        for store in sorted(Path("runs/cv", name).glob("*/scores.pt")):
            book = ScoreBook.from_state(torch.load(store, weights_only=True)["book"])
            for (model, variant, s), acc in sorted(book.model.items()):
                f = summarise(acc, book.gray[variant])
                print(f"{name:14s} {store.parent.name[:16]:16s} {model:6s} {variant:9s} s{s} n={f['photos']:3d} "
                      f"gain {f['psnr_gain']:+.2f}  ab {f['ab_rmse']:.2f}/{f['gray_ab_rmse']:.2f}  "
                      f"colourf {f['colorfulness_ratio']:.2f}  worse3 {f['worse_than_gray_3db']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
