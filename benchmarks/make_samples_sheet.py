"""Contact sheet of samples: for each bw-samples photo, input | automatic | N samples | uncertainty.

``python benchmarks/make_samples_sheet.py [--weights FILE] [--out docs/samples_contact_sheet.png]``
Samples come from ``recipe.render_alternatives`` (set hue directions, a chroma push and one chroma quantile
per sample): they should differ where the uncertainty map is bright and agree where it is dark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from colorizer.imageio import load_image, save_image
from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe, render, render_alternatives
from colorizer.visual import contact_row, contact_sheet, uncertainty_legend, uncertainty_to_rgb

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "data" / "bw-samples"
UNCERTAINTY_GAIN = 1.0  # the map as `--uncertainty` writes it (hue entropy x chroma before fading)


def make_sheet(weights: str | Path | None = None, out: str | Path = REPO / "docs" / "samples_contact_sheet.png",
               n_samples: int = 3, seed: int = 0, height: int = 200, working_size: int = 512) -> Path:
    """Write the contact sheet and return its path."""
    col = Colorizer.load(weights, device="cpu", working_size=working_size)
    recipe = Recipe()
    rows = []
    for path in sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".png")):
        image = load_image(path)
        pred = col.predict(image.lightness)
        auto = render(pred, recipe)
        samples = render_alternatives(pred, recipe, n_samples, seed)
        tiles = [("input", image.lightness), ("automatic", auto.rgb8())]
        tiles += [(f"sample {i + 1}", s.rgb8()) for i, s in enumerate(samples)]
        tiles.append((f"uncertainty x{UNCERTAINTY_GAIN:g}", uncertainty_to_rgb(np.clip(auto.uncertainty * UNCERTAINTY_GAIN, 0, 1))))
        rows.append(contact_row([t for _, t in tiles], height, labels=[name for name, _ in tiles]))
    width = max(r.shape[1] for r in rows)
    sheet = contact_sheet(rows, gap=6, footer=uncertainty_legend(width, f"uncertainty x{UNCERTAINTY_GAIN:g}"))
    return save_image(Path(out), sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--out", default=str(REPO / "docs" / "samples_contact_sheet.png"))
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(2)
    out = make_sheet(args.weights, args.out, args.samples, args.seed, args.height)
    print(f"{out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
