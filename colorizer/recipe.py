"""Recipe: everything that turns a Prediction into the final picture, and the one function that does it.

A ``Recipe`` holds the render settings, the reference photo (path, content hash, strength, method),
region hints, an adopted sample and the model it was made with. ``render(prediction, recipe)`` is the
only place where these meet: the command line, batch, the app and ``colorizer eval`` all call it, so
one recipe gives one picture whichever of them renders it. Recipes are saved as JSON (``recipe_file``):
looks shared between photos, and the app's per-photo sidecars.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from colorizer.energy import (FittedHint, Hint, SampleDraw, add_biases, blend_hints, draw_samples, fit_hint,
                              quantile_transfer, reference_biases, render_sample, scale_biases)
from colorizer.hint_regions import hint_matte, hint_region
from colorizer.imageio import ImageReadError, load_rgb
from colorizer.pipeline import (WORKING_SIZE, Colorizer, Prediction, RenderResult, RenderSettings, model_cast,
                                needs_model_cast, posterior, render_probs, working_shape)

REFERENCE_METHODS = ("energy", "quantile")
REFERENCE_MAX_SIDE = 384  # references are read once and kept this small: their histograms need no more


class RecipeError(ValueError):
    """A recipe (or what it refers to) cannot be used; the message names the file and the problem."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (a photo's or a reference's identity, whatever its name)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Reference:
    """A reference colour photo whose palette the picture is pulled towards.

    ``sha256`` records the file's content when the recipe was made (empty: unknown); ``strength`` is the
    energy's lambda (the quantile method blends by ``min(strength, 1)``); ``amount`` in [0, 1] is how much
    of that match is applied: the fitted bias is scaled by it (quantile: the blend), so 0 is the
    prediction and 1 the full match, every step in between a visible one (the app's match control).
    """

    path: str
    sha256: str = ""
    strength: float = 1.0
    method: str = "energy"
    amount: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in REFERENCE_METHODS:
            raise ValueError(f"unknown reference method {self.method!r}; expected energy or quantile")
        if not self.strength >= 0:
            raise ValueError(f"reference strength must be 0 or more, not {self.strength}")
        if not 0.0 <= self.amount <= 1.0:
            raise ValueError(f"reference amount must be between 0 and 1, not {self.amount}")

    @property
    def fit_key(self) -> tuple:
        """What the fitted bias depends on (not ``amount``, which only scales it)."""
        return (self.path, self.sha256, self.strength, self.method)

    @classmethod
    def from_file(cls, path: str | Path, strength: float = 1.0, method: str = "energy") -> "Reference":
        """A reference to an existing file, its content hash taken now; raises RecipeError if unreadable."""
        path = Path(path)
        try:
            return cls(str(path.resolve()), file_sha256(path), float(strength), method)
        except OSError as exc:
            raise RecipeError(f"{path}: cannot read the reference photo ({exc.strerror or exc})") from None

    def changed(self) -> bool:
        """True when the file no longer has the content recorded in the recipe."""
        try:
            return bool(self.sha256) and file_sha256(self.path) != self.sha256
        except OSError:
            return True


@dataclass(frozen=True)
class SampleChoice:
    """An adopted alternative colourisation: sample ``index`` of the ``count`` drawn with ``seed``."""

    seed: int
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"sample index {self.index} is outside 0..{self.count - 1}")

    def draw(self) -> SampleDraw:
        return draw_samples(self.count, self.seed)[self.index]


@dataclass(frozen=True)
class ModelRef:
    """The model a recipe was made with: the weights file's name and tensor digest, and the working size."""

    name: str
    sha256: str = ""
    working_size: int = WORKING_SIZE

    @classmethod
    def of(cls, colorizer: Colorizer) -> "ModelRef":
        """Identify ``colorizer``'s weights (their recorded digest; empty for an in-memory model)."""
        from colorizer.weights import WeightsError, read_metadata

        path = colorizer.weights.path
        digest = ""
        if path is not None:
            try:
                digest = str(read_metadata(path).get("sha256", ""))
            except WeightsError:
                digest = ""
        return cls(Path(path).name if path is not None else "in-memory", digest, colorizer.working_size)


@dataclass(frozen=True)
class Recipe:
    """Everything that turns a Prediction into the final picture (immutable: undo keeps snapshots)."""

    settings: RenderSettings = field(default_factory=RenderSettings)
    reference: Reference | None = None
    hints: tuple[Hint, ...] = ()
    sample: SampleChoice | None = None
    model: ModelRef | None = None

    def replace(self, **changes: Any) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def look(self) -> "Recipe":
        """What is copied from one photo to another: settings and reference (hints stay with their photo)."""
        return Recipe(settings=self.settings, reference=self.reference)

    def with_look(self, look: "Recipe") -> "Recipe":
        """This recipe with ``look``'s settings and reference (its own hints kept, an adopted sample dropped)."""
        return self.replace(settings=look.settings, reference=look.reference, sample=None)

    def for_model(self, old_defaults: RenderSettings, new_defaults: RenderSettings) -> "Recipe":
        """This recipe for another model: settings left at one model's defaults (``old_defaults``, e.g. the
        bundled look) become the other's (``new_defaults``, e.g. a fine-tuned model's look); edited ones stay."""
        return self.replace(settings=new_defaults) if self.settings == old_defaults else self


# ----- rendering ---------------------------------------------------------------------------------
class ReferencePixels:
    """Reference photos read once and kept small (thread-safe; shared by every photo of a batch)."""

    def __init__(self, max_items: int = 8) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], np.ndarray] = {}
        self._max = max_items

    def get(self, reference: Reference) -> np.ndarray:
        """The reference's RGB pixels (longest side at most REFERENCE_MAX_SIDE); raises RecipeError."""
        with self._lock:
            rgb = self._items.get((reference.path, reference.sha256))
        if rgb is None:
            try:
                rgb = load_rgb(reference.path)
            except ImageReadError as exc:
                raise RecipeError(f"cannot read the reference photo: {exc}") from None
            rgb = self.put(reference, rgb)
        return rgb

    def put(self, reference: Reference, rgb: np.ndarray) -> np.ndarray:
        """Use ``rgb`` as the pixels of ``reference`` (e.g. ground truth already in memory)."""
        h, w = rgb.shape[:2]
        nh, nw = working_shape(h, w, REFERENCE_MAX_SIDE)
        if (nh, nw) != (h, w):
            rgb = cv2.resize(np.asarray(rgb, np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(rgb, np.float32)
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[(reference.path, reference.sha256)] = rgb
        return rgb


class RenderCache:
    """What one photo's renders share: reference pixels (``references``, shareable between photos), the
    biases fitted on its prediction (``memo``) and the latest of its model's tints (``latest``, one slot, so
    slider drags never crowd the fits out). Thread-safe; use one per prediction."""

    def __init__(self, references: ReferencePixels | None = None, max_items: int = 64) -> None:
        self.references = references if references is not None else ReferencePixels()
        self._lock = threading.Lock()
        self._items: dict[Any, Any] = {}
        self._max = max_items
        self._latest: tuple[Any, Any] | None = None

    def latest(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, kept for the newest ``key`` only (a value that changes with every slider step)."""
        with self._lock:
            if self._latest is not None and self._latest[0] == key:
                return self._latest[1]
        value = make()
        with self._lock:
            self._latest = (key, value)
        return value

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per ``key``."""
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = make()
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[key] = value
        return value


def recipe_biases(prediction: Prediction, recipe: Recipe, cache: RenderCache | None = None) -> list | None:
    """The fitted biases of ``recipe`` on ``prediction``: reference transfer (energy method, scaled by its
    amount), then region hints, each fitted on top of it; None when there are none."""
    ref_biases, fitted = _fitted_parts(prediction, recipe, cache or RenderCache())
    return _with_hints(ref_biases, fitted, prediction)


def _fitted_parts(prediction: Prediction, recipe: Recipe, cache: RenderCache) -> tuple[list | None, list[FittedHint]]:
    """The reference's biases (or None) and each hint fitted on top of them (memoised in ``cache``)."""
    ref = recipe.reference
    ref_biases = None
    if ref is not None and ref.method == "energy" and ref.strength > 0 and ref.amount > 0:
        full = cache.memo(("reference", ref.fit_key), lambda: reference_biases(
            prediction, cache.references.get(ref), ref.strength))
        ref_biases = scale_biases(full, ref.amount)
    ref_key = (ref.fit_key, ref.amount) if ref_biases is not None else None
    fitted = [cache.memo(("hint", hint, ref_key), lambda h=hint: fit_hint(
        prediction, h, base=ref_biases, refined=hint_region_of(prediction, h, cache))) for hint in recipe.hints]
    return ref_biases, fitted


def hint_region_of(prediction: Prediction, hint: Hint, cache: RenderCache) -> np.ndarray:
    """Where ``hint`` applies on ``prediction`` (``colorizer.hint_regions.hint_region``), computed once."""
    return cache.memo(("region", hint), lambda: hint_region(prediction, hint))


def _with_hints(ref_biases: list | None, fitted: list[FittedHint], prediction: Prediction) -> list | None:
    parts = [p for p in (ref_biases, blend_hints(prediction, fitted) if fitted else None) if p is not None]
    return add_biases(*parts) if parts else None


def render(prediction: Prediction, recipe: Recipe, *, display: Prediction | None = None,
           cache: RenderCache | None = None) -> RenderResult:
    """The picture ``recipe`` makes of ``prediction``.

    Biases are fitted on ``prediction``; the picture is rendered on ``display`` when given (a lighter copy
    with the same histogram grid, ``pipeline.preview_prediction(..., grid_side=None)``), else on the
    prediction itself. ``cache`` keeps reference pixels and fits between renders of one photo.
    Edge-following hints are composited through their full-resolution matte (``hint_matte``).
    """
    cache = cache or RenderCache()
    display = display or prediction
    if display.grid_size != prediction.grid_size:
        raise ValueError("render: the display prediction must keep the histogram grid (grid_side=None)")
    ref_biases, fitted = _fitted_parts(prediction, recipe, cache)
    removal = recipe.settings.cast_removal * (1.0 - reference_share(recipe.reference))
    cast = None  # None: the picture's own tint is the model's (nothing biases it)
    fitted_biases = bool(ref_biases is not None or fitted or recipe.sample is not None)
    if needs_model_cast(recipe.settings.replace(cast_removal=removal), fitted_biases):
        plain = recipe.settings.unbiased()  # the display keeps the prediction's grid: the same tint on both
        cast = cache.latest(plain, lambda: model_cast(prediction, plain))
    spared = hint_weight(fitted)  # hinted colours keep exactly the colour asked for
    result = _decode(display, recipe, _with_hints(ref_biases, fitted, prediction), removal, cast, spared)
    regions = [f.region for f in fitted if f.region is not None]
    if regions:
        without = _decode(display, recipe, ref_biases, removal, cast)
        matte = hint_matte(display, regions)[..., None]
        result.rgb = (without.rgb + matte * (result.rgb - without.rgb)).astype(np.float32)
    ref = recipe.reference
    if ref is not None and ref.method == "quantile" and ref.strength > 0 and ref.amount > 0:
        result = quantile_transfer(result, cache.references.get(ref), min(ref.strength, 1.0) * ref.amount)
    return result


def reference_share(reference: Reference | None) -> float:
    """How far a reference's palette takes over the picture's overall tint (its amount, 0..1): the
    renderer's cast removal is scaled down by this much, so a sepia or a teal palette is not undone."""
    return 0.0 if reference is None or reference.strength <= 0 else reference.amount


def hint_weight(fitted: list[FittedHint]) -> np.ndarray | None:
    """Where hints set the colour, on the prediction grid (their blend weights summed, at most 1); None
    without hints."""
    return np.minimum(np.sum([f.alpha for f in fitted], axis=0), 1.0).astype(np.float32) if fitted else None


def _decode(display: Prediction, recipe: Recipe, biases: list | None, cast_removal: float,
            cast: np.ndarray | None, spared: np.ndarray | None = None) -> RenderResult:
    """The picture of ``display`` with ``biases`` (and the recipe's settings and adopted sample), with
    ``cast_removal`` of the model's own overall tint ``cast`` taken away except where ``spared``."""
    settings = recipe.settings.replace(cast_removal=cast_removal)
    if recipe.sample is not None:
        return render_sample(display, recipe.sample.draw(), settings, base=biases, cast=cast, spared=spared)
    return render_probs(display, posterior(display, settings, biases), settings, cast, spared)


def render_alternatives(prediction: Prediction, recipe: Recipe, count: int, seed: int = 0, *,
                        display: Prediction | None = None, cache: RenderCache | None = None) -> Iterator[RenderResult]:
    """``count`` alternative colourisations of ``recipe`` (its reference and hints kept), one at a time."""
    cache = cache or RenderCache()
    for index in range(count):
        yield render(prediction, recipe.replace(sample=SampleChoice(seed, index, count)), display=display, cache=cache)
