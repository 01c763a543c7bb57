"""Exporting finished pictures: format, JPEG quality, long-edge size and a file-name template.

The app's Save and Export dialogs use these; files are written through
``colorizer.imageio.save_image`` (atomic, metadata kept, never over an input). Nothing here
overwrites an existing file on its own: ``plan_exports`` says which planned names are taken, and the
caller asks, or takes ``unique_path`` names; ``export_picture`` (unless told to replace) checks again at
the rename, so a file that appears meanwhile is kept too (the picture takes the next free number).
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from colorizer.imageio import OUTPUT_FORMATS, ImageWriteError, LoadedImage, OutputExistsError, save_image

_LABELS = {"png": "PNG (lossless)", "jpg": "JPEG", "tif": "TIFF", "webp": "WebP"}
FORMATS = {key: _LABELS.get(key, key.upper()) for key in OUTPUT_FORMATS}  # format -> label in menus
LOSSY = frozenset({"jpg", "webp"})
TEMPLATE_FIELDS = ("stem", "n", "format")
DEFAULT_TEMPLATE = "{stem}_colour"
MAX_NUMBERED = 10_000  # numbered names tried before giving up


class ExportError(ValueError):
    """Export options that cannot work (a bad template, format or size); the message says why."""


@dataclass(frozen=True)
class ExportOptions:
    """How pictures are written.

    ``format``: a key of ``FORMATS``; ``quality``: JPEG/WebP quality 1..100; ``long_edge``: the longest
    side in pixels (None: the photo's own size; never enlarged); ``template``: the file name without
    extension, with ``{stem}`` (the photo's name without extension), ``{n}`` (its number in the export,
    from 1) and ``{format}``.
    """

    format: str = "png"
    quality: int = 92
    long_edge: int | None = None
    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if not 1 <= int(self.quality) <= 100:
            raise ExportError(f"quality must be 1..100, not {self.quality}")
        if self.long_edge is not None and int(self.long_edge) < 16:
            raise ExportError(f"the long edge must be at least 16 pixels, not {self.long_edge}")
        check_template(self.template)

    @property
    def suffix(self) -> str:
        return "." + self.format


def check_template(template: str) -> None:
    """Raise ExportError unless ``template`` makes a usable file name from the known fields."""
    if not template.strip():
        raise ExportError("the file name template is empty")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ExportError(f"bad file name template {template!r}: {exc}") from None
    unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
    if unknown:
        raise ExportError(f"unknown field {{{unknown[0]}}} in the file name template; use "
                          + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS))
    if any(sep in template for sep in ("/", "\\")):
        raise ExportError("the file name template must not contain a folder separator")


def output_name(options: ExportOptions, source: str | Path, number: int = 1) -> str:
    """The file name (with extension) that ``options`` give the picture of ``source``."""
    name = options.template.format(stem=Path(source).stem, n=number, format=options.format).strip()
    return (name or Path(source).stem) + options.suffix


def numbered_names(path: Path) -> Iterator[Path]:
    """``path``, then ``stem (2).ext``, ``stem (3).ext``... without end."""
    yield path
    i = 2
    while True:
        yield path.with_name(f"{path.stem} ({i}){path.suffix}")
        i += 1


def unique_path(path: Path, taken: Iterable[Path] = ()) -> Path:
    """``path``, or ``stem (2).ext``, ``stem (3).ext``... : the first that exists neither on disk nor in
    ``taken``."""
    taken = {Path(p) for p in taken}
    return next(c for c in numbered_names(path) if not (c.exists() or c in taken))


@dataclass(frozen=True)
class PlannedExport:
    """Where one picture will go; ``exists``: a file is already there (the caller decides);
    ``replace``: the user chose to replace it (else nothing is ever replaced)."""

    source: Path
    target: Path
    exists: bool
    replace: bool = False


def plan_exports(sources: list[Path], folder: str | Path, options: ExportOptions,
                 keep_both: bool = False) -> list[PlannedExport]:
    """The target of each source in ``folder``. Two sources never get one name (the later is numbered);
    with ``keep_both`` a name already on disk is numbered too, else it is reported as ``exists``."""
    folder = Path(folder)
    planned: list[PlannedExport] = []
    used: set[Path] = set()
    for i, source in enumerate(sources, 1):
        target = folder / output_name(options, source, i)
        if target in used or (keep_both and target.exists()):
            target = unique_path(target, used)
        used.add(target)
        planned.append(PlannedExport(Path(source), target, target.exists()))
    return planned


def fit_long_edge(rgb: np.ndarray, long_edge: int | None, alpha: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """``rgb`` (and its alpha) reduced so the longest side is ``long_edge`` (area filter; never enlarged)."""
    h, w = rgb.shape[:2]
    if long_edge is None or max(h, w) <= long_edge:
        return rgb, alpha
    scale = long_edge / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return small, None if alpha is None else cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)


def export_picture(rgb8: np.ndarray, target: str | Path, options: ExportOptions,
                   source: LoadedImage | None = None, replace: bool = False, avoid: Iterable[Path] = ()) -> Path:
    """Write one picture as ``options`` say (resized, format, quality), atomically; the photo's alpha and
    metadata come from ``source``. Unless ``replace`` (the user chose to replace ``target``) no existing
    file is replaced, checked again at the rename: a taken name moves the picture to the next free
    ``stem (n).ext`` that is not in ``avoid`` (names planned for other pictures). Returns the path
    written. Raises ImageWriteError (e.g. over an input file, or no free name)."""
    rgb, alpha = fit_long_edge(rgb8, options.long_edge, None if source is None else source.alpha)
    if replace:
        return save_image(Path(target), rgb, alpha, source=source, quality=int(options.quality))
    avoid = {Path(p) for p in avoid}
    for tries, candidate in enumerate(numbered_names(Path(target))):
        if tries >= MAX_NUMBERED:
            break
        if candidate in avoid or os.path.lexists(candidate):
            continue
        try:
            return save_image(candidate, rgb, alpha, source=source, quality=int(options.quality), replace=False)
        except OutputExistsError:  # taken since the check above
            continue
    raise ImageWriteError(f"{target}: no free name (tried {MAX_NUMBERED} numbers)")
