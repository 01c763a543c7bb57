"""Work done on the thread pool for the window (numpy, files and QImage only, never widgets).

Every picture is made by ``colorizer.recipe.render``: the app shows what the command line would write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

from colorizer.energy import Hint, image_hue_histogram, reference_histograms
from colorizer.export import ExportOptions, PlannedExport, export_picture
from colorizer.hint_regions import hint_region
from colorizer.imageio import LoadedImage, load_image
from colorizer.pipeline import Colorizer, Prediction, RenderResult, preview_prediction
from colorizer.recipe import (ModelRef, Recipe, RecipeError, Reference, ReferencePixels, RenderCache, file_sha256,
                              hint_region_of, render, render_alternatives)
from colorizer.sidecars import SidecarStore
from colorizer.visual import uncertainty_to_rgb

from app.imaging import downscale, lightness_to_qimage, region_overlay, rgb8_to_qimage
from app.workers import CancelToken

FILM_THUMB = 84
SAMPLE_THUMB = 112
REFERENCE_THUMB = 240


def load_colorizer_job(factory, weights: str | None, device: str) -> tuple[Colorizer, ModelRef]:
    """Load the colouriser and identify it."""
    colorizer = factory(weights, device)
    return colorizer, ModelRef.of(colorizer)


def warm_up_job(colorizer: Colorizer) -> None:
    """Run the network once on a small image (its first call is slow), while no photo waits for it."""
    colorizer.predict(np.full((192, 256), 0.5, np.float32))


def load_job(path: Path, preview_max: int, sidecars: SidecarStore, token: CancelToken) -> dict:
    """Read a photo, its content hash and its saved recipe (sidecar), and make its display images.

    ``recipe`` is None without a sidecar; ``notes`` say what could not be restored (a broken sidecar,
    a reference photo that is gone: the recipe is then used without it).
    """
    token.check()
    loaded = load_image(path)
    token.check()
    sha = file_sha256(path)
    recipe, notes = None, []
    try:
        found = sidecars.load(path, sha)
    except RecipeError as exc:
        found = None
        notes.append(f"saved edits not restored: {exc}")
    if found is not None:
        recipe = found.recipe
        ref = recipe.reference
        if ref is not None and not Path(ref.path).is_file():
            notes.append(f"the reference photo {ref.path} is gone: its palette is not applied")
            recipe = recipe.replace(reference=None)
    small = downscale(loaded.lightness, preview_max)
    thumb = downscale(small, FILM_THUMB * 2)
    return {"loaded": loaded, "sha256": sha, "recipe": recipe, "notes": notes,
            "original": lightness_to_qimage(small),
            "original_full": lightness_to_qimage(loaded.lightness) if small.shape != loaded.lightness.shape else None,
            "thumb": lightness_to_qimage(thumb)}


def original_full_job(loaded: LoadedImage, preview_max: int) -> QImage | None:
    """The full-resolution gray original, or None when the preview already is full size."""
    if max(loaded.lightness.shape) <= preview_max:
        return None
    return lightness_to_qimage(loaded.lightness)


def reference_job(path: str, references: ReferencePixels) -> tuple[Reference, QImage]:
    """Read a reference colour photo (raises RecipeError naming it): its identity and its thumbnail."""
    reference = Reference.from_file(path)
    rgb = references.get(reference)
    return reference, rgb8_to_qimage(np.clip(downscale(rgb, REFERENCE_THUMB) * 255 + 0.5, 0, 255).astype(np.uint8))


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


def hue_histograms(prediction: Prediction, result: RenderResult, state: Recipe,
                   cache: RenderCache) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(reference hue histogram or None, the picture's chroma-weighted hue histogram) for the panel."""
    if prediction.scheme.name != "hue_chroma" or len(result.probs) < 2:
        return None, None
    ref = state.reference
    ref_hist = None if ref is None else cache.memo(("hue histogram", ref.path), lambda: reference_histograms(
        prediction.scheme, cache.references.get(ref))[0])
    return ref_hist, image_hue_histogram(result.probs)


def render_job(prediction: Prediction, state: Recipe, cache: RenderCache, side: int,
               submitted: float | None = None) -> dict:
    """A preview render (longest side ``side``) with its uncertainty map and hue histograms."""
    t0 = time.perf_counter()
    result = render(prediction, state, display=preview_prediction(prediction, side, grid_side=None), cache=cache)
    rgb8 = result.rgb8()
    rgb, unc = result_images(rgb8, result.uncertainty)
    try:
        ref_hist, cur_hist = hue_histograms(prediction, result, state, cache)
    except Exception:  # noqa: BLE001 - histograms are decoration; never fail a render for them
        ref_hist, cur_hist = None, None
    return {"rgb": rgb, "rgb8": rgb8, "uncertainty": unc, "ref_hist": ref_hist, "cur_hist": cur_hist,
            "seconds": time.perf_counter() - t0, "submitted": submitted if submitted is not None else t0}


def predict_job(colorizer: Colorizer, loaded: LoadedImage, state: Recipe, cache: RenderCache, side: int,
                token: CancelToken) -> dict:
    """Run the network once, then the first preview render and the filmstrip thumbnail."""
    token.check()
    t0 = time.perf_counter()
    prediction = colorizer.predict(loaded.lightness)
    seconds = time.perf_counter() - t0
    token.check()
    preview = render_job(prediction, state, cache, side)
    thumb = rgb8_to_qimage(np.ascontiguousarray(downscale(preview["rgb8"], FILM_THUMB * 2)))
    return {"prediction": prediction, "render": preview, "state": state, "seconds": seconds, "thumb": thumb}


def hint_regions_job(prediction: Prediction, hints: tuple[Hint, ...], cache: RenderCache,
                     size: tuple[int, int]) -> QImage:
    """The regions the hints colour (refined, as rendering uses them), as an overlay for the view."""
    return region_overlay([(hint_region_of(prediction, h, cache), h.color) for h in hints], size)


def hover_region_job(prediction: Prediction, hint: Hint, size: tuple[int, int]) -> QImage:
    """The region a stroke here would colour (shown under the brush before painting)."""
    region = hint_region(prediction, hint)
    return region_overlay([(region, (255, 255, 255))], size, tint=70)


def full_job(prediction: Prediction, state: Recipe, cache: RenderCache) -> dict:
    """The full-resolution render (for 100 % zoom and saving)."""
    rgb8 = render(prediction, state, cache=cache).rgb8()
    return {"rgb8": rgb8, "rgb": rgb8_to_qimage(rgb8).convertToFormat(QImage.Format_RGB32)}


def samples_job(prediction: Prediction, state: Recipe, n: int, seed: int, cache: RenderCache) -> list[QImage]:
    """Thumbnails of ``n`` alternatives of ``state`` (its reference and hints kept)."""
    display = preview_prediction(prediction, SAMPLE_THUMB * 2, grid_side=None)
    results = render_alternatives(prediction, state.replace(sample=None), n, seed, display=display, cache=cache)
    return [rgb8_to_qimage(r.rgb8()) for r in results]


def save_job(prediction: Prediction, loaded: LoadedImage, state: Recipe, cache: RenderCache,
             rgb8: np.ndarray | None, path: Path, options: ExportOptions, replace: bool = False) -> Path:
    """Save the full-resolution picture (re-rendered unless ``rgb8`` already is it) as ``options`` say,
    metadata kept; with ``replace=False`` a taken name gets the next free number. Returns the path."""
    if rgb8 is None:
        rgb8 = render(prediction, state, cache=cache).rgb8()
    return export_picture(rgb8, path, options, source=loaded, replace=replace)


@dataclass(frozen=True)
class ExportItem:
    """One open photo to export, as the GUI thread saw it: its recipe, and what is already computed
    (``loaded``/``prediction`` may be None: read and predicted during the export). ``restored``: the
    photo was read, so ``state`` already holds its saved edits; else its sidecar is read here."""

    path: Path
    state: Recipe
    loaded: LoadedImage | None
    prediction: Prediction | None
    cache: RenderCache
    restored: bool
    sidecars: SidecarStore | None = None


def export_job(colorizer: Colorizer, items: list[ExportItem], planned: list[PlannedExport], options: ExportOptions,
               cancelled: Callable[[], bool], progress: Callable[[int, int, str], None]
               ) -> tuple[list[Path], list[str], bool]:
    """Write each photo with its own recipe (a photo not opened on screen yet: its sidecar's, if any) to
    its planned target; only a target the user chose to replace is replaced, any other taken name (even
    one that appeared since the plan) gets the next free number. Returns (written paths, one error
    line per failed photo, cancelled)."""
    written: list[Path] = []
    errors: list[str] = []
    planned_targets = {p.target for p in planned}
    for i, (item, plan) in enumerate(zip(items, planned)):
        if cancelled():
            return written, errors, True
        try:
            loaded = item.loaded or load_image(item.path)
            state = item.state
            if not item.restored and item.sidecars is not None:
                found = item.sidecars.load(item.path)
                state = found.recipe if found is not None else state
            prediction = item.prediction or colorizer.predict(loaded.lightness)
            rgb8 = render(prediction, state, cache=item.cache).rgb8()
            written.append(export_picture(rgb8, plan.target, options, source=loaded, replace=plan.replace,
                                          avoid=planned_targets - {plan.target}))
        except (OSError, ValueError, MemoryError) as exc:  # ImageReadError/WriteError, RecipeError are ValueErrors
            errors.append(f"{item.path.name}: {exc}")
        progress(i + 1, len(items), item.path.name)
    return written, errors, False
