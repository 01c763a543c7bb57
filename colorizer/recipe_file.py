"""Recipe files: JSON with a format name and a schema version (looks, and the app's per-photo sidecars).

```
{"format": "colorizer-recipe", "version": 3,
 "settings": {"chroma_gain": 1.2, ...},                 # flat RenderSettings, missing names = defaults
 "reference": {"path": ..., "sha256": ..., "strength": 2.0, "method": "energy", "amount": 0.6} | null,
 "hints": [{"color": "#aa3322", "strength": 5.0, "feather": 0.75, "follow_edges": true,
            "mask": {"width": W, "height": H, "png": "<base64 8-bit gray PNG>"},
            "erased": {"width": W, "height": H, "png": ...} | null}],
 "sample": {"seed": 0, "index": 2, "count": 6} | null,
 "model": {"name": "colorizer.safetensors", "sha256": ..., "working_size": 512} | null,
 "photo": {"name": "x.jpg", "sha256": ...}}             # sidecars only: the photo it belongs to
```
A relative reference path is relative to the recipe file's folder. Every problem is a one-line
``RecipeError`` that names the file.

Versions: 2 added ``follow_edges``/``erased`` to hints and ``amount`` to the reference. A version 1 file
reads as what it meant: hints cover exactly their brushed mask (``follow_edges`` false) and the whole
match is applied (``amount`` 1), so it renders as it did; it is written back as the current version.
Version 3 added ``cast_removal`` and changed the default ``chroma_gain`` (1.0 -> 1.2): a version 1 or 2 file
that leaves them out meant no cast removal and gain 1, and reads so.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorizer.atomic import atomic_write_text
from colorizer.energy import Hint, parse_hex_colour
from colorizer.pipeline import WORKING_SIZE
from colorizer.recipe import ModelRef, Recipe, RecipeError, Reference, SampleChoice
from colorizer.render_settings import RenderSettings

FORMAT = "colorizer-recipe"
VERSION = 3
BEFORE_CAST_REMOVAL = {"cast_removal": 0.0, "chroma_gain": 1.0}  # what versions 1-2 left out meant
TOP_LEVEL_KEYS = frozenset({"format", "version", "settings", "reference", "hints", "sample", "model", "photo"})


@dataclass(frozen=True)
class PhotoRef:
    """The photo a sidecar belongs to: its file name and content hash (found again after a rename)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class RecipeFile:
    """A recipe read from a file, with the photo it belongs to (sidecars) or None (looks)."""

    recipe: Recipe
    photo: PhotoRef | None = None


# ----- to JSON ---------------------------------------------------------------------------------
def mask_to_json(mask: np.ndarray) -> dict:
    """An 8-bit mask as a base64 PNG payload (compact for brushed regions)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(mask), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("cannot encode a hint mask as PNG")
    return {"width": int(mask.shape[1]), "height": int(mask.shape[0]), "png": base64.b64encode(buf.tobytes()).decode("ascii")}


def recipe_to_json(recipe: Recipe, photo: PhotoRef | None = None) -> dict:
    """The JSON object of ``recipe`` (and of the photo it belongs to, for sidecars)."""
    ref, sample, model = recipe.reference, recipe.sample, recipe.model
    data: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "settings": recipe.settings.as_dict(),
        "reference": None if ref is None else {"path": ref.path, "sha256": ref.sha256, "strength": ref.strength,
                                               "method": ref.method, "amount": ref.amount},
        "hints": [{"color": h.hex, "strength": h.strength, "feather": h.feather, "follow_edges": h.follow_edges,
                   "mask": mask_to_json(h.mask), "erased": None if h.erased is None else mask_to_json(h.erased)}
                  for h in recipe.hints],
        "sample": None if sample is None else {"seed": sample.seed, "index": sample.index, "count": sample.count},
        "model": None if model is None else {"name": model.name, "sha256": model.sha256,
                                             "working_size": model.working_size},
    }
    if photo is not None:
        data["photo"] = {"name": photo.name, "sha256": photo.sha256}
    return data


def save_recipe(path: str | Path, recipe: Recipe, photo: PhotoRef | None = None) -> Path:
    """Write a recipe file atomically; raises OSError when the folder cannot be written."""
    return atomic_write_text(path, json.dumps(recipe_to_json(recipe, photo), indent=1) + "\n")


# ----- from JSON -------------------------------------------------------------------------------
class _Reader:
    """Typed access to one JSON object, every complaint prefixed with the file and the field."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise RecipeError(f"{where} must be a JSON object")
        self.data, self.where = data, where

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise RecipeError(f"{self.where}: '{key}' is missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise RecipeError(f"{self.where}: '{key}' has the wrong type")
        if not isinstance(value, kind):
            raise RecipeError(f"{self.where}: '{key}' has the wrong type")
        if isinstance(value, float) and not math.isfinite(value):
            raise RecipeError(f"{self.where}: '{key}' must be a finite number")
        return value

    def number(self, key: str, default: float) -> float:
        return float(self.get(key, (int, float), default))


def _mask_from_json(data: Any, where: str) -> np.ndarray:
    r = _Reader(data, where)
    width, height = r.get("width", int, required=True), r.get("height", int, required=True)
    try:
        raw = base64.b64decode(r.get("png", str, required=True), validate=True)
    except (binascii.Error, ValueError):
        raise RecipeError(f"{where}: the mask payload is not base64") from None
    mask = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.dtype != np.uint8 or mask.ndim != 2 or mask.shape != (height, width):
        raise RecipeError(f"{where}: the mask payload is not an 8-bit gray {width}x{height} PNG")
    return mask


def recipe_from_json(data: Any, source: str, base_dir: Path | None = None) -> RecipeFile:
    """Check and read a recipe's JSON object; ``source`` names the file in errors. Settings the file leaves
    out take ``RenderSettings()``'s values whatever model is in use, so a recipe means the same with every
    model (a fine-tuned model's own look applies only where no recipe is given)."""
    top = _Reader(data, source)
    if top.get("format", str) != FORMAT:
        raise RecipeError(f"{source}: not a colorizer recipe (format is not {FORMAT!r})")
    version = top.get("version", int, required=True)
    if version > VERSION:
        raise RecipeError(f"{source}: recipe version {version} is newer than this program reads (up to "
                          f"{VERSION}); update colorizer")
    if version < 1:
        raise RecipeError(f"{source}: unknown recipe version {version}")
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise RecipeError(f"{source}: unknown field '{unknown[0]}'")
    try:
        written = top.get("settings", dict, {})
        settings = RenderSettings.from_dict(written if version >= 3 else BEFORE_CAST_REMOVAL | written)
        reference = _reference(top.get("reference", dict), f"{source}: reference", base_dir)
        hints = tuple(_hint(h, f"{source}: hint {i + 1}", follow_edges=version >= 2)
                      for i, h in enumerate(top.get("hints", list, [])))
        sample = _sample(top.get("sample", dict), f"{source}: sample")
        model = _model(top.get("model", dict), f"{source}: model")
        photo_data = top.get("photo", dict)
        photo = None
        if photo_data is not None:
            p = _Reader(photo_data, f"{source}: photo")
            photo = PhotoRef(p.get("name", str, ""), p.get("sha256", str, ""))
    except RecipeError:
        raise
    except ValueError as exc:
        raise RecipeError(f"{source}: {exc}") from None
    return RecipeFile(Recipe(settings=settings, reference=reference, hints=hints, sample=sample, model=model), photo)


def _reference(data: dict | None, where: str, base_dir: Path | None) -> Reference | None:
    if data is None:
        return None
    r = _Reader(data, where)
    path = Path(r.get("path", str, required=True))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return Reference(str(path), r.get("sha256", str, ""), r.number("strength", 1.0), r.get("method", str, "energy"),
                     r.number("amount", 1.0))


def _hint(data: Any, where: str, follow_edges: bool) -> Hint:
    """A hint; ``follow_edges`` is its default (False for version 1 files, whose hints meant the mask)."""
    r = _Reader(data, where)
    erased = r.get("erased", dict)
    return Hint(mask=_mask_from_json(r.get("mask", dict, required=True), where),
                color=parse_hex_colour(r.get("color", str, required=True)),
                strength=r.number("strength", 5.0), feather=r.number("feather", 1.5),
                follow_edges=r.get("follow_edges", bool, follow_edges),
                erased=None if erased is None else _mask_from_json(erased, f"{where}: erased"))


def _sample(data: dict | None, where: str) -> SampleChoice | None:
    if data is None:
        return None
    r = _Reader(data, where)
    return SampleChoice(r.get("seed", int, 0), r.get("index", int, required=True), r.get("count", int, required=True))


def _model(data: dict | None, where: str) -> ModelRef | None:
    if data is None:
        return None
    r = _Reader(data, where)
    return ModelRef(r.get("name", str, ""), r.get("sha256", str, ""), r.get("working_size", int, WORKING_SIZE))


def read_recipe_file(path: str | Path) -> RecipeFile:
    """Read a recipe file (look or sidecar); raises RecipeError naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: not a valid recipe (broken JSON at line {exc.lineno}: {exc.msg})") from None
    return recipe_from_json(data, str(path), path.parent)


def load_recipe(path: str | Path) -> Recipe:
    """The recipe in a file (see :func:`read_recipe_file`)."""
    return read_recipe_file(path).recipe
