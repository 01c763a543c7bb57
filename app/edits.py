"""Undoable edits of a photo's recipe: sliders, reset, samples, reference palette, region hints, looks.

Every change becomes one ``StateCommand`` on the photo's undo stack; undo and redo apply recipes
through :meth:`EditController.apply`, which tells the session (re-render, save the sidecar) and the
window (show the recipe in the panels). The controller is composed into the window, not mixed in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from colorizer.energy import Hint
from colorizer.messages import one_line
from colorizer.pipeline import working_shape
from colorizer.recipe import Recipe, Reference, SampleChoice
from colorizer.render_settings import RenderSettings

from app import jobs
from app.document import Document, StateCommand
from app.session import Session

HINT_MASK_SIDE = 1024  # brushed hints are rasterised at most this large (the energy sees the grid)


def brushed_mask(strokes: list[list[tuple[float, float]]], radius: float, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise brush strokes (normalised x, y in [0, 1]; ``radius`` a fraction of the longest side)
    into a uint8 (h, w) mask, 255 inside."""
    h, w = shape
    out = np.zeros((h, w), np.uint8)
    r = max(1, int(round(radius * max(h, w))))
    for stroke in strokes:
        pts = np.array([[x * (w - 1), y * (h - 1)] for x, y in stroke], np.int32).reshape(-1, 1, 2)
        if len(pts) > 1:
            cv2.polylines(out, [pts], False, 255, thickness=2 * r, lineType=cv2.LINE_8)
        for p in pts[[0, -1], 0]:
            cv2.circle(out, (int(p[0]), int(p[1])), r, 255, -1)
    return out


class EditController(QObject):
    """Edits of the session's active photo (or a given one), each one undo step."""

    stateApplied = Signal(object)  # a document whose recipe changed: show it
    referenceThumb = Signal(str)   # a reference photo's thumbnail is now known

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.copied_look: Recipe | None = None
        self.reference_thumbs: dict[str, QImage] = {}

    # ----- the mechanism ------------------------------------------------------------------------
    def push(self, new: Recipe, text: str, doc: Document | None = None) -> None:
        """Apply ``new`` to ``doc`` (default: the active photo) as one undo step."""
        doc = doc or self.session.doc
        if doc is None or not doc.editable or new == doc.state:
            return
        doc.undo.push(StateCommand(doc, doc.state, new, text, self.apply))

    def apply(self, doc: Document, state: Recipe) -> None:
        """Make ``state`` current (run by undo/redo commands)."""
        old = doc.state
        doc.state = state
        self.stateApplied.emit(doc)
        self.session.state_changed(doc, old)

    def _active(self) -> Document | None:
        doc = self.session.doc
        return doc if doc is not None and doc.editable else None

    # ----- settings and samples -----------------------------------------------------------------
    def commit_settings(self, settings: RenderSettings, label: str) -> None:
        doc = self._active()
        if doc is not None:
            self.push(doc.state.replace(settings=settings), f"Adjust {label.lower()}")

    def reset(self) -> None:
        if self._active() is not None:
            self.push(Recipe(settings=self.session.default_settings()), "Reset all adjustments")

    def adopt_sample(self, index: int) -> None:
        doc = self._active()
        count = len(doc.samples) if doc is not None and doc.samples else self.session.sample_count
        if doc is not None and 0 <= index < count:
            self.push(doc.state.replace(sample=SampleChoice(doc.sample_seed, index, count)), f"Adopt sample {index + 1}")

    # ----- reference palette --------------------------------------------------------------------
    def set_reference(self, path: str | None, amount: float = 1.0, method: str = "energy") -> None:
        """Use a colour photo's palette (read in the background, errors shown), or clear it (None)."""
        doc = self._active()
        if doc is None:
            return
        if path is None:
            self.push(doc.state.replace(reference=None), "Clear reference")
            return

        def read(result: tuple[Reference, QImage]) -> None:
            reference, thumb = result
            self.reference_thumbs[reference.path] = thumb
            self.referenceThumb.emit(reference.path)
            self.session.store.set_folder("reference", str(Path(path).parent))
            if doc in self.session.docs:
                reference = dataclasses.replace(reference, amount=float(amount), method=method)
                self.push(doc.state.replace(reference=reference, sample=None), "Set reference", doc)

        self.session.runner.submit(jobs.reference_job, str(path), self.session.references, on_done=read,
                                   on_error=self._reference_failed, label="Reading the reference")

    def _reference_failed(self, exc: BaseException) -> None:
        self.session.problem.emit("Cannot use reference",
                                  f"This reference photo could not be read:\n\n{one_line(exc)}")

    def load_reference_thumb(self, reference: Reference) -> None:
        """Read the thumbnail of a restored recipe's reference (shown when ready)."""
        if reference.path in self.reference_thumbs:
            return

        def read(result: tuple[Reference, QImage]) -> None:
            self.reference_thumbs[reference.path] = result[1]
            self.referenceThumb.emit(reference.path)

        self.session.runner.submit(jobs.reference_job, reference.path, self.session.references, on_done=read,
                                   on_error=self._reference_failed, label="")

    def with_amount(self, amount: float, doc: Document | None = None) -> Recipe | None:
        """The active photo's recipe with the reference's match ``amount`` (0..1), or None without one."""
        doc = doc or self._active()
        if doc is None or doc.state.reference is None:
            return None
        return doc.state.replace(reference=dataclasses.replace(doc.state.reference, amount=float(amount)))

    def set_match_amount(self, amount: float) -> None:
        new = self.with_amount(amount)
        if new is not None:
            self.push(new, "Match amount")

    def set_reference_method(self, method: str) -> None:
        doc = self._active()
        if doc is not None and doc.state.reference is not None:
            reference = dataclasses.replace(doc.state.reference, method=method)
            self.push(doc.state.replace(reference=reference),
                      "Quantile matching" if method == "quantile" else "Energy matching")

    # ----- region hints -------------------------------------------------------------------------
    def brushed_hint(self, points: list[tuple[float, float]], radius: float, color: tuple[int, int, int],
                     params: tuple[float, float, bool] = (5.0, 0.75, True)) -> Hint | None:
        """A hint from one brush stroke over the active photo (``params``: strength, feather, follow edges)."""
        doc = self._active()
        if doc is None or not points:
            return None
        strength, feather, follow = params
        return Hint(mask=self.stroke_mask(doc, points, radius), color=color, strength=strength, feather=feather,
                    follow_edges=follow)

    @staticmethod
    def stroke_mask(doc: Document, points: list[tuple[float, float]], radius: float) -> np.ndarray:
        shape = working_shape(doc.loaded.size[1], doc.loaded.size[0], HINT_MASK_SIDE)
        return brushed_mask([points], radius, shape)

    def add_brushed_hint(self, points: list[tuple[float, float]], radius: float, color: tuple[int, int, int],
                         params: tuple[float, float, bool] = (5.0, 0.75, True)) -> None:
        hint = self.brushed_hint(points, radius, color, params)
        if hint is not None:
            self.add_hint(hint)

    def add_hint(self, hint: Hint) -> None:
        doc = self._active()
        if doc is not None:
            self.push(doc.state.replace(hints=doc.state.hints + (hint,)), "Add hint")

    def erase(self, points: list[tuple[float, float]], radius: float) -> None:
        """Take an eraser stroke out of every hint (a hint with nothing brushed left goes)."""
        doc = self._active()
        if doc is None or not points or not doc.state.hints:
            return
        rubber = self.stroke_mask(doc, points, radius)
        hints = tuple(h for h in (hint.erase(rubber) for hint in doc.state.hints) if h is not None)
        self.push(doc.state.replace(hints=hints), "Erase hints")

    def edit_hint(self, index: int, strength: float, feather: float, follow_edges: bool) -> None:
        doc = self._active()
        if doc is not None and 0 <= index < len(doc.state.hints):
            hints = list(doc.state.hints)
            hints[index] = hints[index].replace(strength=strength, feather=feather, follow_edges=follow_edges)
            self.push(doc.state.replace(hints=tuple(hints)), "Edit hint")

    def remove_hint(self, index: int) -> None:
        doc = self._active()
        if doc is not None and 0 <= index < len(doc.state.hints):
            hints = doc.state.hints[:index] + doc.state.hints[index + 1:]
            self.push(doc.state.replace(hints=hints), "Remove hint")

    # ----- looks --------------------------------------------------------------------------------
    def copy_look(self) -> Recipe | None:
        """Remember the active photo's look (settings and reference; hints stay with their photo)."""
        doc = self._active()
        if doc is not None:
            self.copied_look = doc.state.look()
            self.session.message.emit(f"Copied the look of {doc.name}")
        return self.copied_look

    def paste_look(self) -> None:
        """Give the active photo the copied look (its own hints kept), one undo step."""
        doc = self._active()
        if doc is not None and self.copied_look is not None:
            self.push(doc.state.with_look(self.copied_look), "Paste look")
