"""Region hints: a brushed mask and a colour; the energy fitted inside the hint's region, blended in.

The region is the object(s) the mask is on, stopping at their edges (``colorizer.hint_regions``), or
with ``follow_edges=False`` the brushed mask itself (recipes of version 1 meant that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from colorizer.bins import colour_histograms
from colorizer.color import luma
from colorizer.energy.fitting import fit_biases
from colorizer.energy.solver import EPS, EnergySettings
from colorizer.hint_regions import GRAY_CHROMA, grid_region, hint_region
from colorizer.imageio import ImageReadError, load_rgb
from colorizer.pipeline import Prediction



def parse_hex_colour(text: str) -> tuple[int, int, int]:
    """``#RRGGBB`` (the ``#`` optional) -> 8-bit RGB; raises ValueError."""
    m = re.fullmatch(r"#?([0-9a-fA-F]{6})", text.strip())
    if not m:
        raise ValueError(f"bad colour {text!r}: expected #RRGGBB")
    return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def as_mask8(mask: np.ndarray, what: str = "hint mask") -> np.ndarray:
    """A read-only uint8 (H, W) mask: bool or float masks in [0, 1] are scaled to 0..255."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"a {what} must be a 2-D array, not shape {mask.shape}")
    if mask.dtype != np.uint8:
        mask = np.clip(np.rint(mask.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    mask = np.ascontiguousarray(mask)
    mask.setflags(write=False)
    return mask


@dataclass(frozen=True, eq=False)
class Hint:
    """A user's region hint: ``mask`` (H, W) uint8, 255 where brushed, 0 outside, soft in between (bool
    or float masks in [0, 1] are converted; any size, resized to the prediction), and the 8-bit
    ``color`` that region should take.

    ``strength``: the energy's lambda for the hint; ``feather``: Gaussian sigma (prediction-grid pixels)
    of the blend at the region's border; ``follow_edges``: colour the object(s) the mask is on, stopping
    at their edges (``colorizer.hint_regions``), or exactly the mask; ``erased``: the same size as
    ``mask``, where the eraser went (held uncoloured) or None.

    Hints compare equal (and hash) by content, so they can key caches; the masks are read-only.
    """

    mask: np.ndarray
    color: tuple[int, int, int]
    strength: float = 5.0
    feather: float = 0.75
    follow_edges: bool = True
    erased: np.ndarray | None = None
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mask = as_mask8(self.mask)
        erased = None if self.erased is None else as_mask8(self.erased, "hint's erased mask")
        if erased is not None and erased.shape != mask.shape:
            raise ValueError(f"a hint's erased mask must have its mask's shape {mask.shape}, not {erased.shape}")
        if erased is not None and not erased.any():
            erased = None
        color = tuple(int(c) for c in self.color)
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(f"a hint colour must be three values 0..255, not {self.color!r}")
        if not self.strength > 0 or not self.feather >= 0:
            raise ValueError(f"a hint needs strength > 0 and feather >= 0, not {self.strength}, {self.feather}")
        digest = hashlib.sha1(mask.tobytes())
        if erased is not None:
            digest.update(erased.tobytes())
        digest.update(repr((mask.shape, color, float(self.strength), float(self.feather),
                            bool(self.follow_edges))).encode())
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "erased", erased)
        object.__setattr__(self, "color", color)
        object.__setattr__(self, "follow_edges", bool(self.follow_edges))
        object.__setattr__(self, "key", digest.hexdigest())

    def replace(self, **changes) -> "Hint":
        return dataclasses.replace(self, **changes)

    def erase(self, eraser: np.ndarray) -> "Hint | None":
        """This hint with ``eraser`` (a mask of any size) taken out; None when nothing brushed is left."""
        h, w = self.mask.shape
        rubber = as_mask8(eraser, "eraser mask")
        if rubber.shape != (h, w):
            rubber = cv2.resize(rubber, (w, h), interpolation=cv2.INTER_AREA)
        mask = (self.mask.astype(np.float32) * (1.0 - rubber / 255.0)).astype(np.uint8)
        if int(mask.max()) < 128:
            return None
        erased = rubber if self.erased is None else np.maximum(self.erased, rubber)
        return self.replace(mask=mask, erased=erased)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hint) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def rgb(self) -> tuple[float, float, float]:
        """The colour in [0, 1]."""
        return tuple(c / 255.0 for c in self.color)  # type: ignore[return-value]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.color)

    def weights(self) -> np.ndarray:
        """The mask as float32 weights in [0, 1]."""
        return self.mask.astype(np.float32) / 255.0

    @classmethod
    def from_spec(cls, spec: str) -> "Hint":
        """Parse ``MASK.png:#RRGGBB`` (white = inside). Raises ValueError naming the problem."""
        path_text, sep, colour_text = spec.strip().rpartition(":")
        try:
            if not sep or not path_text:
                raise ValueError
            color = parse_hex_colour(colour_text)
        except ValueError:
            raise ValueError(f"bad hint {spec!r}: expected MASK.png:#RRGGBB") from None
        try:
            mask_rgb = load_rgb(Path(path_text))
        except ImageReadError as exc:
            raise ValueError(f"bad hint {spec!r}: {exc}") from None
        return cls(mask=np.clip(np.rint(luma(mask_rgb) * 255.0), 0, 255).astype(np.uint8), color=color)


@dataclass(frozen=True)
class FittedHint:
    """One hint fitted on a prediction: its blend weight ``alpha`` (h, w) on the prediction grid, its
    global bias per channel, and (edge-following hints) its refined ``region`` at the guide's
    resolution, for ``colorizer.hint_regions.hint_matte``."""

    alpha: np.ndarray
    biases: list[np.ndarray]
    region: np.ndarray | None = None


def fit_hint(prediction: Prediction, hint: Hint, settings: EnergySettings | None = None,
             base: Sequence[np.ndarray | None] | None = None, refined: np.ndarray | None = None) -> FittedHint:
    """Solve the energy over the hint's region (``hint_region``, or ``refined`` when already known) with
    the hint colour as the target."""
    settings = settings or EnergySettings()
    refined = hint_region(prediction, hint) if refined is None else refined
    region = grid_region(refined, prediction)
    targets = colour_histograms(prediction.scheme, hint.rgb)
    hint_settings = EnergySettings(strength=hint.strength, max_iter=settings.max_iter, tol=settings.tol,
                                   max_pixels=settings.max_pixels, history=settings.history,
                                   hue_weighting="uniform")
    biases, _ = fit_biases(prediction, targets, hint_settings, region=region, base=base)
    if prediction.scheme.name == "hue_chroma" and max(hint.rgb) - min(hint.rgb) < GRAY_CHROMA:
        biases[0] = np.zeros_like(biases[0])  # a gray hint has no hue to ask for
    return FittedHint(feathered(region, hint.feather), biases, refined if hint.follow_edges else None)


def blend_hints(prediction: Prediction, fitted: Sequence[FittedHint]) -> list[np.ndarray | None]:
    """Per-pixel bias maps (h, w, K) on the prediction grid: each hint's bias weighted by its ``alpha``;
    where hints overlap, the weights are shared, the strongest hint taking most."""
    n_ch = len(prediction.log_probs)
    if not fitted:
        return [None] * n_ch
    gh, gw = prediction.grid_size
    alphas = np.stack([f.alpha for f in fitted])
    total = alphas.sum(0)
    sharp = alphas ** 4
    shared = sharp / np.maximum(sharp.sum(0), EPS) * alphas.max(0)
    weights = np.where(total[None] > 1.0, shared, alphas)
    maps: list[np.ndarray | None] = []
    for c in range(n_ch):
        acc = np.zeros((gh, gw, prediction.scheme.channel_sizes[c]), np.float32)
        for weight, f in zip(weights, fitted):
            acc += weight[..., None] * f.biases[c]
        maps.append(acc)
    return maps


def hint_biases(prediction: Prediction, hints: Sequence[Hint], settings: EnergySettings | None = None,
                base: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray | None]:
    """Per-pixel bias maps (h, w, K) on the prediction grid for several hints (``fit_hint`` each, then
    ``blend_hints``)."""
    return blend_hints(prediction, [fit_hint(prediction, h, settings, base) for h in hints])


def feathered(region: np.ndarray, feather: float) -> np.ndarray:
    """The blend weight of a hint: its region feathered by a Gaussian truncated at 2 sigma (no far tail),
    never below 1 where the region is fully inside."""
    if feather > 0:
        ksize = 2 * int(math.ceil(2 * feather)) + 1
        alpha = cv2.GaussianBlur(region, (ksize, ksize), feather, borderType=cv2.BORDER_REPLICATE)
    else:
        alpha = region
    return np.clip(np.maximum(alpha, region * (region > 0.999)), 0.0, 1.0).astype(np.float32)
