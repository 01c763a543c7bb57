"""Shows the session in the window: the active photo's pictures, its recipe in the panels, the filmstrip,
the device and the status line. It listens to the session and the edit controller and only draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidgetItem

from colorizer.recipe import Recipe

from app.document import Document
from app.jobs import FILM_THUMB

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from app.session import Session

EMPTY_TEXT = "Open a photo (File ▸ Open, drag and drop, or Ctrl+O), or File ▸ Open sample photos"


class Presenter:
    """Keeps the window's widgets in step with the session (composed into the window)."""

    def __init__(self, window: "MainWindow") -> None:
        self.w = window
        s, e = window.session, window.edits
        window.view.main.placeholder = EMPTY_TEXT
        s.modelChanged.connect(self.show_model)
        s.docOpened.connect(self._on_opened)
        s.docClosed.connect(self._on_closed)
        s.activeChanged.connect(self.show_document)
        s.docLoaded.connect(lambda doc: doc is s.doc and self.show_document(doc))
        s.originalFullReady.connect(lambda doc: doc is s.doc and window.view.set_layer(
            "original", doc.images["original_full"], "full"))
        s.docReady.connect(self._on_ready)
        s.docFailed.connect(self._on_failed)
        s.rendered.connect(self._on_rendered)
        s.fullRendered.connect(lambda doc: doc is s.doc and window.view.set_layer("result", doc.images["result_full"], "full"))
        s.samplesReady.connect(lambda doc: doc is s.doc and self.show_samples(doc))
        s.thumbReady.connect(self.set_film_icon)
        s.message.connect(window.message.setText)
        s.problem.connect(window.show_error)
        e.stateApplied.connect(lambda doc: doc is s.doc and self.show_state(doc))
        e.referenceThumb.connect(lambda _path: s.doc is not None and self.show_state(s.doc))

    # ----- the colouriser and the filmstrip -----------------------------------------------------
    def show_model(self) -> None:
        w, s = self.w, self.w.session
        device = "—" if s.colorizer is None else str(s.colorizer.device)
        text = f"Device: {device.upper() if device == 'cpu' else device}"
        if s.colorizer is not None and s.device == "cuda" and not device.startswith("cuda"):
            text += " (CUDA not available)"
        w.device_label.setText(text)
        w.model_label.setText("Model: loading…" if s.model_loading and s.colorizer is None else
                              f"Model: {model_title(s)}" if s.colorizer is not None else "Model: none")
        w.model_label.setToolTip("\n".join(model_provenance(s)))
        if s.doc is not None and s.colorizer is not None:
            self.show_panels(s.doc.state)  # a photo may have taken the new model's look
        w.actions.show_model(s.weights is None, s.colorizer is not None)
        if s.model_error and not s.model_loading:
            error, s.model_error = s.model_error, None  # said once
            if s.colorizer is not None:
                w.show_error("Weights problem", f"This weights file could not be loaded:\n\n{error}\n\n"
                                                f"The model in use stays {model_title(s)}.")
            else:
                w.view.set_badge("")
                if s.doc is not None and not s.doc.ready:
                    w.view.main.placeholder = "No colouriser: " + error
                    w.view.main.update()
                w.show_error("Weights problem", f"The colouriser's weights could not be loaded:\n\n{error}\n\n"
                                                "Choose a weights file with Model ▸ Open weights file…, "
                                                "or reinstall the program.")
        self.update_actions()

    def _on_opened(self, doc: Document) -> None:
        w = self.w
        w.undo_group.addStack(doc.undo)
        pm = QPixmap(FILM_THUMB, FILM_THUMB)
        pm.fill(QColor(60, 60, 64))
        item = QListWidgetItem(untinted_icon(pm), doc.name)
        item.setToolTip(str(doc.path))
        item.setSizeHint(QSize(FILM_THUMB + 24, FILM_THUMB + 36))
        w.filmstrip.addItem(item)
        w.filmstrip.setVisible(len(w.session.docs) > 1)
        w.rebuild_recent()

    def _on_closed(self, index: int) -> None:
        w = self.w
        w.filmstrip.blockSignals(True)
        w.filmstrip.takeItem(index)
        w.filmstrip.blockSignals(False)
        w.filmstrip.setVisible(len(w.session.docs) > 1)
        for stack in w.undo_group.stacks():
            if not any(d.undo is stack for d in w.session.docs):
                w.undo_group.removeStack(stack)

    def set_film_icon(self, doc: Document, img) -> None:
        docs = self.w.session.docs
        if img is not None and doc in docs:
            item = self.w.filmstrip.item(docs.index(doc))
            if item is not None:
                item.setIcon(untinted_icon(QPixmap.fromImage(img)))

    # ----- the active photo ---------------------------------------------------------------------
    def show_document(self, doc: Document | None) -> None:
        """Show the active photo (or the empty window) with everything known about it."""
        w = self.w
        w.view.clear()
        w.view.set_badge("")
        if doc is None:
            w.view.main.placeholder = EMPTY_TEXT
            w.samples.clear()
            self.show_panels(Recipe(settings=w.session.default_settings()))
            for row in ("Reference", "Current"):
                w.energy.histogram.set_histogram(row, None)
            w.setWindowTitle("Colorizer")
            w.message.setText("No photo open")
            self.update_actions()
            return
        row = w.session.docs.index(doc)
        if w.filmstrip.currentRow() != row:
            w.filmstrip.blockSignals(True)
            w.filmstrip.setCurrentRow(row)
            w.filmstrip.blockSignals(False)
        w.undo_group.setActiveStack(doc.undo)
        w.setWindowTitle(f"{doc.name} — Colorizer")
        for name in ("original", "original_full", "result", "result_full", "uncertainty"):
            if doc.images.get(name) is not None:
                layer, _, level = name.partition("_")
                w.view.set_layer(layer, doc.images[name], level or "preview")
        if doc.loaded is not None:
            w.view.set_image_size(QSize(*doc.loaded.size))
        w.view.state.set(None)
        self.show_state(doc)
        self.show_samples(doc)
        if doc.error is not None:
            w.view.main.placeholder = doc.error
            w.message.setText(doc.error)
        elif not doc.ready:
            w.view.main.placeholder = "Loading…"
            if w.session.colorizer is not None or doc.loaded is None:
                w.view.set_badge("Opening…" if doc.loaded is None else "Colourising…")
        else:
            w.message.setText(self.summary(doc))

    def _on_ready(self, doc: Document) -> None:
        w = self.w
        if doc is w.session.doc:
            w.hint_tools.refresh_regions(doc)
            w.view.set_badge("")
            w.message.setText(self.summary(doc))
            w.schedule_full()
        self.update_actions()
        w.documentReady.emit(doc)

    def _on_failed(self, doc: Document, msg: str) -> None:
        w = self.w
        if doc is w.session.doc:
            w.view.set_badge("")
            w.view.main.placeholder = f"⚠  Cannot open this photo.\n{msg}"
            w.view.main.update()
            w.message.setText(msg)
            self.update_actions()
        w.show_error("Cannot open photo", f"This photo could not be opened:\n\n{msg}")

    def _on_rendered(self, doc: Document, result: dict, final: bool) -> None:
        w = self.w
        if doc is w.session.doc:
            w.view.set_layer("result", result["rgb"])
            w.view.set_layer("uncertainty", result["uncertainty"])
            if "result_full" not in doc.images:
                w.view.set_layer("result", None, "full")
            w.energy.histogram.set_histogram("Reference", doc.histograms[0])
            w.energy.histogram.set_histogram("Current", doc.histograms[1])
            w.view.main.placeholder = ""
            if final:
                w.schedule_full()
                self.set_film_icon(doc, result["rgb"].scaled(FILM_THUMB * 2, FILM_THUMB * 2, Qt.KeepAspectRatio,
                                                              Qt.SmoothTransformation))
        w.renderShown.emit(doc)

    # ----- the recipe ---------------------------------------------------------------------------
    def show_state(self, doc: Document) -> None:
        """Show ``doc``'s recipe in the panels and its hints over the photo."""
        w, state = self.w, doc.state
        self.show_panels(state)
        w.hint_tools.refresh_regions(doc)
        selected = state.sample.index if state.sample is not None and state.sample.seed == doc.sample_seed else None
        for i, b in enumerate(w.samples.buttons):
            b.setChecked(i == selected)
        self.update_actions()

    def show_panels(self, state: Recipe) -> None:
        """The recipe's settings, reference and hints in the side panels."""
        w = self.w
        w.adjust.set_settings(state.settings)
        ref = state.reference
        w.energy.set_values(ref.amount if ref else 1.0, ref is not None and ref.method == "quantile")
        w.energy.set_hints(state.hints)
        if ref is None:
            w.energy.set_reference(None)
        else:
            w.energy.set_reference(w.edits.reference_thumbs.get(ref.path), ref.path)
            w.edits.load_reference_thumb(ref)

    def show_samples(self, doc: Document) -> None:
        sample = doc.state.sample
        selected = sample.index if sample is not None and sample.seed == doc.sample_seed else None
        if doc.samples:
            self.w.samples.set_thumbnails(doc.samples, selected)
        else:
            self.w.samples.clear()
        self.w.samples.set_available(doc.ready)

    def show_default_look(self) -> None:
        """Say, by name, what new photos start from."""
        look = self.w.store.default_look()
        self.w.adjust.set_starting_point(None if look is None else look[0])

    # ----- status -------------------------------------------------------------------------------
    def summary(self, doc: Document) -> str:
        """One status line about ``doc``: size, time to colour, saved edits, notes."""
        if doc.loaded is None:
            return doc.name
        w, h = doc.loaded.size
        parts = [f"{doc.name} — {w}×{h}"]
        if "first_colour" in doc.timings:
            parts.append(f"colour in {doc.timings['first_colour']:.2f} s")
        if doc.edits_saved:
            parts.append("edits saved")
        return "  ·  ".join(parts + doc.loaded.notes)

    def update_actions(self) -> None:
        """Enable what the active photo allows."""
        w, s = self.w, self.w.session
        doc = s.doc
        ready = doc is not None and doc.ready and s.colorizer is not None
        editable = doc is not None and doc.editable
        w.actions.update_enabled(ready, editable, doc is not None, w.edits.copied_look is not None)
        w.adjust.setEnabled(editable)
        w.energy.setEnabled(editable)
        w.samples.set_available(ready)


def model_title(session: "Session") -> str:
    """The model in use, for people: its file name, and whether it is the bundled one."""
    model = session.model
    name = model.name if model is not None else "?"
    return f"{name} (bundled)" if session.weights is None else name


def model_provenance(session: "Session") -> list[str]:
    """Where the model in use comes from: a few lines (its weights file's training record)."""
    from colorizer.provenance import describe_provenance, format_provenance

    colorizer = session.colorizer
    if colorizer is None:
        return ["No model is loaded."]
    path = colorizer.weights.path
    lines = [f"{model_title(session)}" + (f" — {path}" if path is not None else "")]
    if session.model is not None and session.model.sha256:
        lines.append(f"weights sha256 {session.model.sha256[:16]}…")
    return lines + format_provenance(describe_provenance(colorizer.weights.training))


def untinted_icon(pixmap: QPixmap) -> QIcon:
    """An icon that looks the same selected (Qt would tint a selected item's picture with the
    highlight colour, turning a photo blue)."""
    icon = QIcon()
    for mode in (QIcon.Normal, QIcon.Selected, QIcon.Active):
        icon.addPixmap(pixmap, mode)
    return icon
