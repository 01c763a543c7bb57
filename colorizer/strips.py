"""Full-resolution work in horizontal strips, so memory grows slowly with the photo's size.

A *row source* is anything with a ``shape`` (H, W[, C]) whose row slices ``source[r0:r1]`` give arrays:
a NumPy array is one, and so are :class:`StripRender` (a render computed strip by strip on demand)
and :class:`MappedRows` (a function applied to another source's strips). Writers consume row sources
strip by strip (:func:`row_ranges`), so a full-resolution float image never has to exist.

:func:`resize_rows` gives rows ``r0:r1`` of ``cv2.resize(src, size, INTER_LINEAR)`` without computing
the others (same coordinates, weights and border handling as OpenCV; equal to float rounding).

:class:`RenderResult` (re-exported by :mod:`colorizer.pipeline`) is a rendered picture, whole or
*streamed*: inside :func:`streamed_render`, renders keep only small maps and make rows on demand.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import cv2
import numpy as np

from colorizer.color import compose_with_luma

STRIP_PIXELS = 1 << 19  # pixels per strip: a few MB of float temporaries whatever the photo's size


class RowSource(Protocol):
    """Rows of an image on demand: ``shape`` and ``source[r0:r1]``."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, rows: slice) -> np.ndarray: ...


def row_ranges(height: int, width: int, pixels: int | None = None) -> Iterator[tuple[int, int]]:
    """(r0, r1) strips of about ``pixels`` pixels (default :data:`STRIP_PIXELS`) covering ``height`` rows."""
    rows = max(1, (pixels or STRIP_PIXELS) // max(1, width))
    for r0 in range(0, height, rows):
        yield r0, min(height, r0 + rows)


def resize_rows(src: np.ndarray, size: tuple[int, int], r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of the bilinear resize of ``src`` (h, w[, c]) float32 to ``size`` (H, W).

    Horizontal interpolation is OpenCV's own (on the two source rows each output row needs); the
    vertical weights follow OpenCV's INTER_LINEAR (half-pixel centres, edge rows clamped).
    """
    big_h, big_w = size
    h, w = src.shape[:2]
    if (h, w) == (big_h, big_w):
        return src[r0:r1]
    fy = ((np.arange(r0, r1, dtype=np.float64) + 0.5) * (h / big_h) - 0.5).astype(np.float32)
    sy = np.floor(fy).astype(np.int64)
    fy -= sy.astype(np.float32)
    y0 = np.clip(sy, 0, h - 1)
    y1 = np.clip(sy + 1, 0, h - 1)
    lo, hi = int(y0.min()), int(y1.max()) + 1
    rows = src[lo:hi]
    if w != big_w:
        rows = cv2.resize(np.ascontiguousarray(rows), (big_w, hi - lo), interpolation=cv2.INTER_LINEAR)
        rows = rows.reshape((hi - lo, big_w) + src.shape[2:])
    shape = (-1,) + (1,) * (rows.ndim - 1)
    out = rows[y0 - lo] * (np.float32(1.0) - fy).reshape(shape)
    out += rows[y1 - lo] * fy.reshape(shape)
    return out


@dataclass
class MappedRows:
    """``fn`` applied to each strip of ``source`` (e.g. a colour map of an uncertainty source)."""

    source: RowSource
    fn: Callable[[np.ndarray], np.ndarray]
    channels: int = 3

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.source.shape[:2]) + (self.channels,)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.fn(self.source[rows])


@dataclass
class StripRender:
    """A full-resolution colourisation computed strip by strip from small maps.

    ``lightness``: full resolution (H, W); ``coeffs``: guided-filter coefficients (g_h, g_w, 6) (a, b:
    ``offset = a * L + b``) or, without edge-aware upsampling, ``offset`` (h, w, 3) on the prediction
    grid; ``uncertainty_grid``: (h, w) on the prediction grid. Rows are pure functions of these maps,
    so any strip size gives the same picture.
    """

    lightness: np.ndarray
    uncertainty_grid: np.ndarray | None = None
    coeffs: np.ndarray | None = None
    offset: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.lightness.shape[0], self.lightness.shape[1]

    def offset_rows(self, r0: int, r1: int) -> np.ndarray:
        """The zero-luma colour offset at full resolution, rows ``r0:r1`` (before gamut limits)."""
        if self.coeffs is None:
            return resize_rows(self.offset, self.size, r0, r1)
        c = resize_rows(self.coeffs, self.size, r0, r1)
        return c[..., :3] * self.lightness[r0:r1, :, None] + c[..., 3:]

    def rgb_rows(self, r0: int, r1: int) -> np.ndarray:
        """RGB float32 (r1 - r0, W, 3) in [0, 1], keeping the input lightness."""
        return compose_with_luma(self.lightness[r0:r1], self.offset_rows(r0, r1))

    def uncertainty_rows(self, r0: int, r1: int) -> np.ndarray:
        return np.clip(resize_rows(self.uncertainty_grid, self.size, r0, r1), 0.0, 1.0)

    def full(self, rows: Callable[[int, int], np.ndarray], channels: int | None) -> np.ndarray:
        """All rows of ``rows`` (e.g. ``self.rgb_rows``) in one array of ``channels`` channels (None: 2-D)."""
        h, w = self.size
        out = np.empty((h, w) if channels is None else (h, w, channels), np.float32)
        for r0, r1 in row_ranges(h, w):
            out[r0:r1] = rows(r0, r1)
        return out


@dataclass
class RowsOf:
    """One output of a :class:`StripRender` as a row source (``kind``: "rgb" or "uncertainty")."""

    render: StripRender
    kind: str = "rgb"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.render.size + ((3,) if self.kind == "rgb" else ())

    def __getitem__(self, rows: slice) -> np.ndarray:
        r0, r1, _ = rows.indices(self.render.size[0])
        fn = self.render.rgb_rows if self.kind == "rgb" else self.render.uncertainty_rows
        return fn(r0, max(r0, r1))


class RenderResult:
    """A rendered colourisation: ``rgb`` (H, W, 3) float32 in [0, 1], ``uncertainty`` (H, W) in [0, 1].

    ``probs`` are the posterior histograms actually decoded, on the prediction grid. A result rendered
    inside :func:`streamed_render` keeps only small maps (``strips``): ``rgb_rows()`` and
    ``uncertainty_rows()`` then give full-resolution rows strip by strip (what the batch writes, so a
    big photo never needs its whole float image), and ``rgb``/``uncertainty`` compute whole arrays on
    first use.
    """

    def __init__(self, rgb: np.ndarray | None = None, uncertainty: np.ndarray | None = None,
                 probs: list[np.ndarray] | None = None, *, strips: StripRender | None = None) -> None:
        if strips is None and (rgb is None or uncertainty is None):
            raise ValueError("RenderResult needs rgb and uncertainty arrays, or strips to compute them")
        self._rgb, self._uncertainty, self.strips = rgb, uncertainty, strips
        self.probs = probs if probs is not None else []

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = self.strips.full(self.strips.rgb_rows, 3)
        return self._rgb

    @rgb.setter
    def rgb(self, value: np.ndarray) -> None:
        self._rgb = value

    @property
    def uncertainty(self) -> np.ndarray:
        if self._uncertainty is None:
            self._uncertainty = self.strips.full(self.strips.uncertainty_rows, None)
        return self._uncertainty

    @uncertainty.setter
    def uncertainty(self, value: np.ndarray) -> None:
        self._uncertainty = value

    def rgb_rows(self) -> RowSource:
        """The picture as a row source (computed strip by strip when streamed)."""
        return self._rgb if self._rgb is not None or self.strips is None else RowsOf(self.strips, "rgb")

    def uncertainty_rows(self) -> RowSource:
        """The uncertainty map as a row source (computed strip by strip when streamed)."""
        if self._uncertainty is not None or self.strips is None:
            return self._uncertainty
        return RowsOf(self.strips, "uncertainty")

    def whole(self) -> "RenderResult":
        """Compute the whole ``rgb`` and ``uncertainty`` now (strip by strip); returns this result."""
        _ = self.rgb, self.uncertainty
        return self

    def rgb8(self) -> np.ndarray:
        return np.clip(self.rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


_STREAMED: ContextVar[bool] = ContextVar("colorizer_streamed_render", default=False)


@contextmanager
def streamed_render() -> Iterator[None]:
    """Within the block (this thread or task only), ``pipeline.render_probs`` returns streamed results:
    the full-resolution picture is computed strip by strip when read, never held whole unless asked for."""
    token = _STREAMED.set(True)
    try:
        yield
    finally:
        _STREAMED.reset(token)


def is_streamed() -> bool:
    return _STREAMED.get()
