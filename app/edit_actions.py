"""Undoable edits of the active photo: sliders, reset, samples, reference palette and region hints.

A mixin of :class:`app.main_window.MainWindow`; every change becomes one ``StateCommand`` on the
photo's undo stack, and ``apply_state`` (run by redo/undo) shows the state and re-renders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from colorizer.pipeline import RenderSettings

from app import jobs
from app.document import Document, StateCommand
from app.editing import EditState, Hint, SampleChoice
from app.workers import error_text


class EditActionsMixin:
    """Edit operations of the main window (expects its widgets, runner and documents)."""

    def push_state(self, new: EditState, text: str, doc: Document | None = None) -> None:
        """Apply ``new`` to the active photo as one undo step."""
        doc = doc or self.doc
        if doc is None or new == doc.state:
            return
        doc.undo.push(StateCommand(doc, doc.state, new, text, self.apply_state))

    def apply_state(self, doc: Document, state: EditState) -> None:
        """Make ``state`` current (called by undo/redo commands)."""
        old = doc.state
        doc.state = state
        if doc is self.doc:
            self._show_state_in_panels(state)
            if state.settings != old.settings:
                self.store.set_render_settings(state.settings)
        if (state.reference, state.match_strength, state.quantile, state.hints) != \
                (old.reference, old.match_strength, old.quantile, old.hints):
            self._samples_timer.start()
        self.request_render(doc, state)

    def _show_state_in_panels(self, state: EditState) -> None:
        self.adjust.set_settings(state.settings)
        self.energy.set_values(state.match_strength, state.quantile)
        self.energy.set_hints(state.hints)
        if state.reference:
            thumb = self._reference_thumb(state.reference)
            self.energy.set_reference(thumb, state.reference)
        else:
            self.energy.set_reference(None)
        self._update_hint_layer(state)
        selected = None
        if state.sample is not None and self.doc is not None and state.sample.seed == self.doc.sample_seed:
            selected = state.sample.index
        for i, b in enumerate(self.samples.buttons):
            b.setChecked(i == selected)

    def _on_slider_preview(self, settings: RenderSettings) -> None:
        if self.doc is not None:
            self.request_render(self.doc, self.doc.state.replace(settings=settings), final=False)

    def _on_slider_commit(self, old: RenderSettings, new: RenderSettings) -> None:
        if self.doc is None:
            return
        changed = [f for f in ("chroma_gain", "temperature", "fading_eta", "hue_direction", "hue_bias",
                               "chroma_push", "smoothing", "method") if getattr(old, f) != getattr(new, f)]
        label = self.adjust.specs[changed[0]].label if changed and changed[0] in self.adjust.specs else "Decoding"
        self.push_state(self.doc.state.replace(settings=new), f"Adjust {label.lower()}")

    def reset_adjustments(self) -> None:
        if self.doc is not None:
            self.push_state(EditState(), "Reset all adjustments")

    # ----- samples ------------------------------------------------------------------------------
    def request_samples(self, doc: Document | None = None) -> None:
        """Render N alternatives of the current state as thumbnails (in the background)."""
        doc = doc or self.doc
        if doc is None or doc.prediction is None:
            return
        n, seed, state = self.sample_count, doc.sample_seed, doc.state
        self.samples.info.setText("Drawing samples…")
        self.runner.submit_latest("samples", jobs.samples_job, doc.prediction, state, n, seed, doc.cache,
                                  on_done=lambda r: self._on_samples(doc, seed, r),
                                  on_error=lambda e: self._on_render_error(doc, e), label="Drawing samples")

    def _on_samples(self, doc: Document, seed: int, images: list[QImage]) -> None:
        if seed != doc.sample_seed:
            return
        doc.samples = images
        if doc is self.doc:
            self._show_samples(doc)

    def _show_samples(self, doc: Document) -> None:
        sel = doc.state.sample.index if doc.state.sample is not None and doc.state.sample.seed == doc.sample_seed else None
        if doc.samples:
            self.samples.set_thumbnails(doc.samples, sel)
        else:
            self.samples.clear()
        self.samples.set_available(doc.ready)

    def more_samples(self) -> None:
        if self.doc is not None:
            self.doc.sample_seed += 1
            self.request_samples()

    def _on_sample_count(self, n: int) -> None:
        self.sample_count = n
        self.request_samples()

    def adopt_sample(self, index: int) -> None:
        doc = self.doc
        count = len(doc.samples) if doc is not None and doc.samples else self.sample_count
        if doc is None or not (0 <= index < count):
            return
        new = doc.state.replace(sample=SampleChoice(doc.sample_seed, index, count, 1.0))
        self.push_state(new, f"Adopt sample {index + 1}")

    # ----- reference and hints ------------------------------------------------------------------
    def set_reference(self, path: str | None) -> None:
        """Use a colour photo's palette (read in the background), or clear it (None)."""
        doc = self.doc
        if doc is None:
            return
        if path is None:
            self.push_state(doc.state.replace(reference=None), "Clear reference")
            return
        path = str(path)

        def loaded(thumb: QImage) -> None:
            self._ref_thumbs[path] = thumb
            self.store.set_folder("reference", str(Path(path).parent))
            if doc in self.docs:
                self.push_state(doc.state.replace(reference=path, sample=None), "Set reference", doc)

        def failed(exc: BaseException) -> None:
            self.show_error("Cannot use reference", f"This reference photo could not be read:\n\n{error_text(exc)}")

        if path in self._ref_thumbs:
            loaded(self._ref_thumbs[path])
        else:
            self.runner.submit(jobs.reference_thumb_job, path, on_done=loaded, on_error=failed,
                               label="Reading the reference")

    @property
    def _ref_thumbs(self) -> dict[str, QImage]:
        cache = self.__dict__.get("_ref_thumb_cache")
        if cache is None:
            cache = self.__dict__["_ref_thumb_cache"] = {}
        return cache

    def _reference_thumb(self, path: str) -> QImage | None:
        """The reference's thumbnail if it was read already (panels never read files themselves)."""
        return self._ref_thumbs.get(path)

    def set_match_strength(self, strength: float) -> None:
        if self.doc is not None:
            self.push_state(self.doc.state.replace(match_strength=float(strength)), "Match strength")

    def set_quantile(self, on: bool) -> None:
        if self.doc is not None:
            self.push_state(self.doc.state.replace(quantile=bool(on)), "Quantile matching" if on else "Energy matching")

    def set_brush(self, on: bool) -> None:
        self.view.set_brush(on, color=self.energy.brush_color)
        self.energy.set_brush_checked(on)
        if on:
            self._set_message("Brush over a region to give it the chosen colour (double-click does not zoom while brushing)")
        elif self.doc is not None:
            self._set_message(self._doc_summary(self.doc))

    def _on_stroke(self, points: list, radius: float) -> None:
        doc = self.doc
        if doc is None or not points:
            return
        c = self.energy.brush_color
        hint = Hint(strokes=(tuple(points),), radius=radius, color=(c.red(), c.green(), c.blue()))
        self.add_hint(hint)

    def add_hint(self, hint: Hint) -> None:
        if self.doc is not None:
            self.push_state(self.doc.state.replace(hints=self.doc.state.hints + (hint,)), "Add hint")

    def remove_hint(self, index: int) -> None:
        doc = self.doc
        if doc is None or not (0 <= index < len(doc.state.hints)):
            return
        hints = doc.state.hints[:index] + doc.state.hints[index + 1:]
        self.push_state(doc.state.replace(hints=hints), "Remove hint")

    def _update_hint_layer(self, state: EditState) -> None:
        doc = self.doc
        if doc is None or doc.loaded is None or not state.hints:
            self.view.set_layer("hints", None)
            if doc is not None:
                doc.images.pop("hints", None)
            return
        w, h = doc.loaded.size
        s = min(1.0, 800 / max(w, h))
        hh, ww = max(1, round(h * s)), max(1, round(w * s))
        rgba = np.zeros((hh, ww, 4), np.uint8)
        for hint in state.hints:
            m = hint.mask((hh, ww))
            rgba[m, :3] = hint.color
            rgba[m, 3] = 255
        img = QImage(rgba.data, ww, hh, 4 * ww, QImage.Format_RGBA8888).copy()
        doc.images["hints"] = img
        self.view.set_layer("hints", img)
