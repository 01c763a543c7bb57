"""The editable state of one photo and how it turns into a render (no Qt here).

``EditState`` is an immutable snapshot of every user adjustment (sliders, adopted sample,
reference transfer, region hints); undo/redo swaps snapshots. ``render_state`` turns a cached
``Prediction`` plus a state into a ``RenderResult`` through the public colouriser API, at any
resolution (previews reuse the prediction with a downscaled lightness plane).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from colorizer.energy import preview_prediction
from colorizer.pipeline import Colorizer, Prediction, RenderResult, RenderSettings


@dataclass(frozen=True, eq=False)
class Hint:
    """A brushed region and the colour it should take.

    ``strokes``: polylines in normalised image coordinates (x, y in [0, 1]); ``radius``: brush
    radius as a fraction of the image's longest side; ``color``: 8-bit RGB.
    """

    strokes: tuple[tuple[tuple[float, float], ...], ...]
    radius: float
    color: tuple[int, int, int]
    name: str = "hint"

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Rasterise the strokes into a boolean (h, w) mask."""
        h, w = shape
        out = np.zeros((h, w), np.uint8)
        r = max(1, int(round(self.radius * max(h, w))))
        for stroke in self.strokes:
            pts = np.array([[x * (w - 1), y * (h - 1)] for x, y in stroke], np.int32).reshape(-1, 1, 2)
            if len(pts) == 1:
                cv2.circle(out, tuple(int(v) for v in pts[0, 0]), r, 1, -1)
            else:
                cv2.polylines(out, [pts], False, 1, thickness=2 * r, lineType=cv2.LINE_8)
                for p in pts[[0, -1], 0]:
                    cv2.circle(out, (int(p[0]), int(p[1])), r, 1, -1)
        return out.astype(bool)


@dataclass(frozen=True)
class SampleChoice:
    """An adopted alternative colourisation drawn by the energy module's sampler."""

    seed: int
    index: int
    count: int
    strength: float


@dataclass(frozen=True)
class EditState:
    """Every adjustment of one photo; immutable, so undo/redo can keep snapshots."""

    settings: RenderSettings = field(default_factory=RenderSettings)
    reference: str | None = None
    match_strength: float = 1.0
    quantile: bool = False
    hints: tuple[Hint, ...] = ()
    sample: SampleChoice | None = None

    def replace(self, **changes: Any) -> "EditState":
        return dataclasses.replace(self, **changes)


# ----- energy (reference transfer, samples, hints) -----------------------------------------------
class BiasCache:
    """Per-photo cache of fitted biases (reference targets, fits), shared by worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._items) > 64:
                self._items.clear()
            self._items[key] = value


def render_state(colorizer: Colorizer, prediction: Prediction, state: EditState,
                 cache: BiasCache | None = None, max_side: int | None = None) -> RenderResult:
    """Render ``state`` from the cached prediction; ``max_side`` bounds the output for previews."""
    from app import energy_bridge

    display = preview_prediction(prediction, max_side, grid_side=None) if max_side else prediction
    return energy_bridge.render(colorizer, prediction, display, state, cache)
