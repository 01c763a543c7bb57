"""Contact sheet of samples: for each bw-samples photo, input | automatic | N samples | uncertainty.

``python benchmarks/make_samples_sheet.py [--weights FILE] [--out docs/samples_contact_sheet.png]``
Samples come from ``energy.render_samples`` (set hue directions, a chroma push and one chroma quantile
per sample): they should differ where the uncertainty map is bright and agree where it is dark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from colorizer import energy
from colorizer.imageio import load_image
from colorizer.pipeline import Colorizer, RenderSettings
from colorizer.visual import legend_ramp, uncertainty_to_rgb

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "data" / "bw-samples"
UNCERTAINTY_GAIN = 1.0  # the map as `--uncertainty` writes it (hue entropy x chroma before fading)


def _fit(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def make_sheet(weights: str | Path | None = None, out: str | Path = REPO / "docs" / "samples_contact_sheet.png",
               n_samples: int = 3, seed: int = 0, height: int = 200, working_size: int = 512) -> Path:
    """Write the contact sheet and return its path."""
    col = Colorizer.load(weights, device="cpu", working_size=working_size)
    settings = RenderSettings()
    rows = []
    for path in sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".png")):
        image = load_image(path)
        pred = col.predict(image.lightness)
        auto = col.render(pred, settings)
        samples = energy.render_samples(pred, n_samples, seed, settings)
        gray = np.repeat((image.lightness * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=-1)
        tiles = [("input", gray), ("automatic", auto.rgb8())]
        tiles += [(f"sample {i + 1}", s.rgb8()) for i, s in enumerate(samples)]
        tiles.append((f"uncertainty x{UNCERTAINTY_GAIN:g}", uncertainty_to_rgb(np.clip(auto.uncertainty * UNCERTAINTY_GAIN, 0, 1))))
        row = [_label(_fit(t, height), name) for name, t in tiles]
        gap = np.full((row[0].shape[0], 4, 3), 255, np.uint8)
        parts = []
        for tile in row:
            parts += [tile, gap]
        rows.append(np.concatenate(parts[:-1], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    ramp = _fit(legend_ramp(256, 12), 12)
    legend = np.full((30, width, 3), 255, np.uint8)
    cv2.putText(legend, f"uncertainty x{UNCERTAINTY_GAIN:g}: sure", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    legend[9:21, 190:190 + ramp.shape[1]] = ramp
    cv2.putText(legend, "unsure", (196 + ramp.shape[1], 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    sheet = np.concatenate(rows + [legend], axis=0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out, optimize=True)
    return out


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
