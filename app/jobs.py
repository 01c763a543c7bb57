"""Work done on the thread pool for the main window (numpy and QImage only, never widgets)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

from colorizer.energy import preview_prediction
from colorizer.imageio import load_image, save_image
from colorizer.pipeline import Colorizer
from colorizer.visual import uncertainty_to_rgb

from app import energy_bridge
from app.editing import EditState, render_state
from app.imaging import downscale, lightness_to_qimage, rgb8_to_qimage
from app.workers import CancelToken

FILM_THUMB = 84
SAMPLE_THUMB = 112


def load_colorizer_job(factory, weights: str | None, device: str) -> Colorizer:
    """Load the colouriser and run it once on a small image (the first network call is slow)."""
    colorizer = factory(weights, device)
    colorizer.predict(np.full((192, 256), 0.5, np.float32))
    return colorizer


def load_job(path: Path, preview_max: int, token: CancelToken) -> dict:
    token.check()
    loaded = load_image(path)
    token.check()
    small = downscale(loaded.lightness, preview_max)
    thumb = downscale(small, FILM_THUMB * 2)
    return {"loaded": loaded, "original": lightness_to_qimage(small),
            "original_full": lightness_to_qimage(loaded.lightness) if small.shape != loaded.lightness.shape else None,
            "thumb": lightness_to_qimage(thumb)}


def original_full_job(loaded, preview_max: int) -> QImage | None:
    """The full-resolution gray original, or None when the preview already is full size."""
    if max(loaded.lightness.shape) <= preview_max:
        return None
    return lightness_to_qimage(loaded.lightness)


def reference_thumb_job(path: str) -> QImage:
    """Read a reference colour photo (raises ImageReadError) and return its thumbnail."""
    rgb = energy_bridge.reference_rgb(path)
    return rgb8_to_qimage(np.clip(downscale(rgb, 240) * 255 + 0.5, 0, 255).astype(np.uint8))


def thumb_job(path: Path) -> QImage | None:
    """A small gray thumbnail straight from the file (Qt's reader scales while decoding)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > FILM_THUMB * 2:
        reader.setScaledSize(size.scaled(FILM_THUMB * 2, FILM_THUMB * 2, Qt.KeepAspectRatio))
    img = reader.read()
    return None if img.isNull() else img.convertToFormat(QImage.Format_Grayscale8)


def result_images(rgb8: np.ndarray, uncertainty: np.ndarray) -> tuple[QImage, QImage]:
    return (rgb8_to_qimage(rgb8).convertToFormat(QImage.Format_RGB32),
            rgb8_to_qimage(uncertainty_to_rgb(uncertainty)).convertToFormat(QImage.Format_RGB32))


def render_job(colorizer: Colorizer, prediction, state: EditState, cache, side: int,
                submitted: float | None = None) -> dict:
    t0 = time.perf_counter()
    result = render_state(colorizer, prediction, state, cache, max_side=side)
    rgb, unc = result_images(result.rgb8(), result.uncertainty)
    try:
        ref_hist, cur_hist = energy_bridge.hue_histograms(prediction, result, state, cache)
    except Exception:  # noqa: BLE001 - histograms are decoration; never fail a render for them
        ref_hist, cur_hist = None, None
    return {"rgb": rgb, "uncertainty": unc, "ref_hist": ref_hist, "cur_hist": cur_hist,
            "seconds": time.perf_counter() - t0, "submitted": submitted if submitted is not None else t0}


def predict_job(colorizer: Colorizer, loaded, state: EditState, cache, side: int, token: CancelToken) -> dict:
    token.check()
    t0 = time.perf_counter()
    prediction = colorizer.predict(loaded.lightness)
    seconds = time.perf_counter() - t0
    token.check()
    render = render_job(colorizer, prediction, state, cache, side)
    thumb = rgb8_to_qimage(np.ascontiguousarray(
        downscale(render_state(colorizer, prediction, state, cache, max_side=FILM_THUMB * 2).rgb8(), FILM_THUMB * 2)))
    return {"prediction": prediction, "render": render, "state": state, "seconds": seconds, "thumb": thumb}


def full_job(colorizer: Colorizer, prediction, state: EditState, cache) -> dict:
    result = render_state(colorizer, prediction, state, cache)
    rgb8 = result.rgb8()
    return {"rgb8": rgb8, "rgb": rgb8_to_qimage(rgb8).convertToFormat(QImage.Format_RGB32)}


def samples_job(prediction, state: EditState, n: int, seed: int, cache) -> list[QImage]:
    display = preview_prediction(prediction, SAMPLE_THUMB * 2, grid_side=None)
    results = energy_bridge.samples(prediction, display, state, n, seed, cache)
    return [rgb8_to_qimage(r.rgb8()) for r in results]


def save_job(colorizer: Colorizer, prediction, loaded, state: EditState, cache, rgb8, path: Path) -> Path:
    if rgb8 is None:
        rgb8 = render_state(colorizer, prediction, state, cache).rgb8()
    return save_image(path, rgb8, loaded.alpha, source=loaded)
