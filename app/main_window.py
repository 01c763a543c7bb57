"""The main window: opening photos, the filmstrip, views, panels, undo/redo, saving and devices.

Heavy work (loading weights, reading photos, the network, full-resolution renders, saving, samples,
batch export) runs on the ``Runner``'s thread pool; the GUI thread only swaps images. Each photo
keeps its prediction, so sliders, samples and energy edits re-render without the network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QAction, QActionGroup, QColor, QDragEnterEvent, QDropEvent, QIcon, QImage,
                           QKeySequence, QPixmap, QUndoGroup)
from PySide6.QtWidgets import (QFileDialog, QLabel, QListView, QListWidget, QListWidgetItem,
                               QMainWindow, QMessageBox, QProgressBar, QSplitter, QTabWidget,
                               QToolBar, QVBoxLayout, QWidget)

from colorizer.imageio import ImageReadError, is_image_file
from colorizer.pipeline import Colorizer
from colorizer.weights import WeightsError

from app import jobs
from app.adjust_panel import AdjustPanel
from app.batch_dialog import BatchDialog
from app.document import Document
from app.edit_actions import EditActionsMixin
from app.gc_guard import ensure_gui_gc
from app.editing import EditState
from app.energy_panel import EnergyPanel
from app.samples_panel import SamplesPanel
from app.settings_store import SettingsStore
from app.views import MODE_LABELS, MODES, CompareView
from app.workers import Cancelled, CancelToken, Runner, error_text

ColorizerFactory = Callable[[str | None, str], Colorizer]
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp *.gif);;All files (*)"
SAVE_FILTERS = {"png": "PNG image (*.png)", "jpg": "JPEG image (*.jpg *.jpeg)", "tif": "TIFF image (*.tif *.tiff)"}
FILM_THUMB = jobs.FILM_THUMB
FULL_RENDER_DELAY_MS = 300
DRAG_PREVIEW_FACTOR = 0.6


def default_factory(weights: str | None, device: str) -> Colorizer:
    return Colorizer.load(weights, device=device)


def device_label(colorizer: Colorizer | None, requested: str) -> str:
    if colorizer is None:
        return "Device: —"
    active = str(colorizer.device)
    text = f"Device: {active.upper() if active == 'cpu' else active}"
    if requested == "cuda" and not active.startswith("cuda"):
        text += " (CUDA not available)"
    return text


class MainWindow(EditActionsMixin, QMainWindow):
    """The colouriser's main window."""

    documentReady = Signal(object)   # a document's first colour result is on screen
    renderShown = Signal(object)     # any preview render reached the screen

    def __init__(self, weights: str | None = None, device: str | None = None,
                 colorizer_factory: ColorizerFactory | None = None, store: SettingsStore | None = None,
                 preview_max: int = 1600, interactive: bool = True) -> None:
        super().__init__()
        ensure_gui_gc()  # cyclic GC only in this thread (worker threads must never free Qt objects)
        self.setWindowTitle("Colorizer")
        self.setAcceptDrops(True)
        self.store = store or SettingsStore()
        self.weights = weights
        self.device = device or self.store.device()
        self.factory = colorizer_factory or default_factory
        self.preview_max = preview_max
        self.interactive = interactive
        self.colorizer: Colorizer | None = None
        self.model_error: str | None = None
        self.model_loading = False
        self.docs: list[Document] = []
        self.doc: Document | None = None
        self.errors: list[str] = []
        self.render_latencies: list[float] = []
        self.sample_count = 6
        self.runner = Runner(max_threads=2, parent=self)
        self.undo_group = QUndoGroup(self)
        self._build_ui()
        self._build_actions()
        self._full_timer = QTimer(self)
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(FULL_RENDER_DELAY_MS)
        self._full_timer.timeout.connect(self._render_full)
        self._samples_timer = QTimer(self)
        self._samples_timer.setSingleShot(True)
        self._samples_timer.setInterval(600)
        self._samples_timer.timeout.connect(lambda: self.request_samples())
        self.runner.busyChanged.connect(self._on_busy)
        geometry = self.store.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        self._update_actions()
        self.load_model()

    # ======================================================================== UI construction
    def _build_ui(self) -> None:
        self.view = CompareView()
        for v in self.view.views():
            v.strokeFinished.connect(self._on_stroke)
            v.zoomChanged.connect(lambda s: self.zoom_label.setText(f"{s * 100:.0f} %"))
            v.zoomChanged.connect(lambda _s: self._schedule_full())
            v.hoverInfo.connect(lambda t: self.pos_label.setText(t))
        self.filmstrip = QListWidget()
        self.filmstrip.setObjectName("filmstrip")
        self.filmstrip.setViewMode(QListView.IconMode)
        self.filmstrip.setFlow(QListView.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setMovement(QListView.Static)
        self.filmstrip.setIconSize(QSize(FILM_THUMB, FILM_THUMB))
        self.filmstrip.setSpacing(4)
        self.filmstrip.setFixedHeight(FILM_THUMB + 44)
        self.filmstrip.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.filmstrip.currentRowChanged.connect(self._on_film_row)
        self.filmstrip.hide()
        self.filmstrip.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.filmstrip)

        self.adjust = AdjustPanel()
        self.adjust.previewRequested.connect(self._on_slider_preview)
        self.adjust.committed.connect(self._on_slider_commit)
        self.adjust.resetRequested.connect(self.reset_adjustments)
        self.samples = SamplesPanel()
        self.samples.adopted.connect(self.adopt_sample)
        self.samples.moreRequested.connect(self.more_samples)
        self.samples.countChanged.connect(self._on_sample_count)
        self.energy = EnergyPanel()
        self.energy.start_folder = self.store.folder("reference")
        self.energy.referenceChosen.connect(self.set_reference)
        self.energy.referenceCleared.connect(lambda: self.set_reference(None))
        self.energy.strengthCommitted.connect(self.set_match_strength)
        self.energy.quantileToggled.connect(self.set_quantile)
        self.energy.brushToggled.connect(self.set_brush)
        self.energy.brushColorChanged.connect(lambda c: self.view.set_brush(self.view.main.brush_enabled, color=c))
        self.energy.brushSizeChanged.connect(lambda r: self.view.set_brush(self.view.main.brush_enabled, radius=r))
        self.energy.hintRemoved.connect(self.remove_hint)
        self.view.set_brush(False, color=self.energy.brush_color, radius=0.03)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.adjust, "Adjust")
        self.tabs.addTab(self.samples, "Samples")
        self.tabs.addTab(self.energy, "Match && hints")
        self.tabs.setMinimumWidth(300)
        self.tabs.setMaximumWidth(420)
        self.tabs.currentChanged.connect(self._on_tab)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setSizes([1060, 330])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)

        sb = self.statusBar()
        self.message = QLabel("Ready")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.hide()
        self.pos_label = QLabel("")
        self.zoom_label = QLabel("Fit")
        self.device_label = QLabel("Device: —")
        self.device_label.setObjectName("deviceLabel")
        sb.addWidget(self.message, 1)
        sb.addPermanentWidget(self.busy_bar)
        sb.addPermanentWidget(self.pos_label)
        sb.addPermanentWidget(self.zoom_label)
        sb.addPermanentWidget(self.device_label)

    def _action(self, text: str, slot: Callable | None = None, shortcut: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if slot is not None:
            a.triggered.connect(lambda _=False: slot())
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        self.act_open = self._action("&Open…", self.open_dialog, QKeySequence.Open, "Open photos")
        self.act_save = self._action("&Save result as…", self.save_dialog, QKeySequence.Save, "Save the colourised photo")
        self.act_batch = self._action("&Batch export…", self.batch_dialog, "Ctrl+B", "Colourise a whole folder")
        self.act_close = self._action("&Close photo", self.close_document, QKeySequence.Close)
        self.act_quit = self._action("&Quit", self.close, QKeySequence.Quit)
        self.recent_menu = None
        m = mb.addMenu("&File")
        m.addAction(self.act_open)
        self.recent_menu = m.addMenu("Open &recent")
        m.addAction(self.act_save)
        m.addAction(self.act_batch)
        m.addSeparator()
        m.addAction(self.act_close)
        m.addAction(self.act_quit)
        self._rebuild_recent()

        self.act_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.Undo)
        self.act_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence.Redo)
        self.act_reset = self._action("Reset &all adjustments", self.reset_adjustments, "Ctrl+R")
        m = mb.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m.addSeparator()
        m.addAction(self.act_reset)
        m.addSeparator()
        self.act_brush = self._action("&Brush a region hint", lambda: self._toggle_brush(), "B",
                                      "Paint a region that should take the chosen colour")
        self.act_brush_smaller = self._action("Smaller brush", lambda: self._brush_step(-1), "[")
        self.act_brush_larger = self._action("Larger brush", lambda: self._brush_step(1), "]")
        for a in (self.act_brush, self.act_brush_smaller, self.act_brush_larger):
            m.addAction(a)

        m = mb.addMenu("&View")
        self.mode_group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for i, mode in enumerate(MODES):
            a = self._action(MODE_LABELS[mode], lambda md=mode: self.set_view_mode(md), f"Ctrl+{i + 1}")
            a.setCheckable(True)
            self.mode_group.addAction(a)
            self.mode_actions[mode] = a
            m.addAction(a)
        m.addSeparator()
        self.act_fit = self._action("Zoom to &fit", lambda: self._zoom(None), "Ctrl+0")
        self.act_100 = self._action("Zoom &100 %", lambda: self._zoom(1.0), "Ctrl+Alt+0")
        self.act_zoom_in = self._action("Zoom &in", lambda: self._zoom_step(1.25), QKeySequence.ZoomIn)
        self.act_zoom_out = self._action("Zoom &out", lambda: self._zoom_step(0.8), QKeySequence.ZoomOut)
        for a in (self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out):
            m.addAction(a)

        m = mb.addMenu("&Colourise")
        self.device_group = QActionGroup(self)
        self.device_actions: dict[str, QAction] = {}
        dm = m.addMenu("&Device")
        for key, label in (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "CUDA (GPU)")):
            a = self._action(label, lambda k=key: self.set_device(k))
            a.setCheckable(True)
            a.setChecked(key == self.device)
            self.device_group.addAction(a)
            self.device_actions[key] = a
            dm.addAction(a)
        self.act_weights = self._action("Load &weights…", self.weights_dialog)
        self.act_recolor = self._action("&Colourise again", self.recolourise, "F5")
        m.addAction(self.act_weights)
        m.addAction(self.act_recolor)

        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.addToolBar(tb)
        tb.addAction(self.act_open)
        tb.addAction(self.act_save)
        tb.addAction(self.act_batch)
        tb.addSeparator()
        self.tb_undo = self._action("Undo", self.undo_group.undo, tip="Undo the last adjustment")
        self.tb_redo = self._action("Redo", self.undo_group.redo, tip="Redo")
        self.tb_undo.setEnabled(False)
        self.tb_redo.setEnabled(False)
        self.undo_group.canUndoChanged.connect(self.tb_undo.setEnabled)
        self.undo_group.canRedoChanged.connect(self.tb_redo.setEnabled)
        self.undo_group.undoTextChanged.connect(lambda t: self.tb_undo.setToolTip(f"Undo {t}" if t else "Undo"))
        self.undo_group.redoTextChanged.connect(lambda t: self.tb_redo.setToolTip(f"Redo {t}" if t else "Redo"))
        tb.addAction(self.tb_undo)
        tb.addAction(self.tb_redo)
        tb.addSeparator()
        for mode in MODES:
            tb.addAction(self.mode_actions[mode])
        tb.addSeparator()
        self.act_fit.setIconText("Fit")
        self.act_100.setIconText("100 %")
        tb.addAction(self.act_fit)
        tb.addAction(self.act_100)
        mode = str(self.store.value("view/mode", "split"))
        self.set_view_mode(mode if mode in MODES else "split")

    def _rebuild_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        items = self.store.recent_files()
        for path in items:
            a = self.recent_menu.addAction(Path(path).name)
            a.setToolTip(path)
            a.triggered.connect(lambda _=False, p=path: self.open_files([p]))
        if items:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", lambda: (self.store.clear_recent(), self._rebuild_recent()))
        self.recent_menu.setEnabled(bool(items))

    # ======================================================================== model
    def load_model(self) -> None:
        """(Re)load the colouriser on the chosen device in the background."""
        self.model_loading = True
        self.model_error = None
        self._set_message("Loading the colouriser…")
        weights, device = self.weights, self.device
        self.runner.submit(jobs.load_colorizer_job, self.factory, weights, device, on_done=self._on_model,
                           on_error=self._on_model_error, label="Loading model")

    def _on_model(self, colorizer: Colorizer) -> None:
        self.model_loading = False
        self.colorizer = colorizer
        self.device_label.setText(device_label(colorizer, self.device))
        if self.doc is None or self.doc.error is None:
            self._set_message("Colouriser ready")
        self._update_actions()
        if self.doc is not None and not self.doc.ready and self.doc.error is None:
            self.colourise(self.doc)
        elif self.doc is not None and self.doc.ready:
            self.request_render(self.doc)

    def _on_model_error(self, exc: BaseException) -> None:
        self.model_loading = False
        self.colorizer = None
        self.device_label.setText("Device: —")
        msg = error_text(exc)
        if isinstance(exc, WeightsError):
            text = (f"The colouriser's weights could not be loaded:\n\n{msg}\n\n"
                    "Choose a weights file with Colourise ▸ Load weights…, or reinstall the program.")
        else:
            text = f"The colouriser could not start:\n\n{msg}"
        self.model_error = msg
        self.view.set_badge("")
        if self.doc is not None and not self.doc.ready:
            self.view.main.placeholder = "No colouriser: " + msg
            self.view.main.update()
        self._update_actions()
        self.show_error("Weights problem", text)

    def set_device(self, device: str) -> None:
        if device == self.device and self.colorizer is not None:
            return
        self.device = device
        self.store.set_device(device)
        self.device_actions[device].setChecked(True)
        self.load_model()

    def weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a weights file", self.store.folder("weights"),
                                              "Weights (*.safetensors);;All files (*)")
        if path:
            self.store.set_folder("weights", str(Path(path).parent))
            self.weights = path
            self.load_model()

    # ======================================================================== documents
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", self.store.folder("open"), IMAGE_FILTER)
        if paths:
            self.store.set_folder("open", str(Path(paths[0]).parent))
            self.open_files(paths)

    def open_files(self, paths: list[str | Path]) -> list[Document]:
        """Open photos (folders expand to their images); the first new one becomes active."""
        files: list[Path] = []
        for p in paths:
            p = Path(p)
            if p.is_dir():
                files.extend(sorted(q for q in p.iterdir() if q.is_file() and is_image_file(q)))
            else:
                files.append(p)
        new: list[Document] = []
        for f in files:
            existing = next((d for d in self.docs if d.path.resolve() == f.resolve()), None)
            if existing is not None:
                new.append(existing)
                continue
            doc = Document(path=f, state=EditState(settings=self.store.render_settings()))
            self.undo_group.addStack(doc.undo)
            self.docs.append(doc)
            item = QListWidgetItem(self._placeholder_icon(), f.name)
            item.setToolTip(str(f))
            item.setSizeHint(QSize(FILM_THUMB + 24, FILM_THUMB + 36))
            self.filmstrip.addItem(item)
            new.append(doc)
            if f.exists():
                self.store.add_recent(f)
        self._rebuild_recent()
        self.filmstrip.setVisible(len(self.docs) > 1)
        if new:
            self.activate(new[0])
        for doc in new[1:]:
            if doc.thumb is None:
                self.runner.submit(jobs.thumb_job, doc.path, on_done=lambda img, d=doc: self._on_thumb(d, img),
                                   priority=-1)
        return new

    def _on_thumb(self, doc: Document, img: QImage | None) -> None:
        if img is not None and doc.thumb is None:
            doc.thumb = img
            self._set_film_icon(doc, img)

    def _placeholder_icon(self) -> QIcon:
        pm = QPixmap(FILM_THUMB, FILM_THUMB)
        pm.fill(QColor(60, 60, 64))
        return QIcon(pm)

    def _on_film_row(self, row: int) -> None:
        if 0 <= row < len(self.docs) and self.docs[row] is not self.doc:
            self.activate(self.docs[row])

    def activate(self, doc: Document) -> None:
        """Show ``doc``; a pending colourisation of the previously active photo is cancelled."""
        previous = self.doc
        if previous is not None and previous is not doc and previous.token is not None and not previous.ready:
            previous.token.cancel()
            previous.token = None
        if previous is not None and previous is not doc:
            self._evict_full_size(previous)
        self.doc = doc
        row = self.docs.index(doc)
        if self.filmstrip.currentRow() != row:
            self.filmstrip.blockSignals(True)
            self.filmstrip.setCurrentRow(row)
            self.filmstrip.blockSignals(False)
        self.undo_group.setActiveStack(doc.undo)
        self.setWindowTitle(f"{doc.name} — Colorizer")
        self._show_state_in_panels(doc.state)
        self.view.clear()
        self.view.set_badge("")
        for name in ("original", "original_full", "result", "result_full", "uncertainty", "hints"):
            img = doc.images.get(name)
            if img is not None:
                layer, _, level = name.partition("_")
                self.view.set_layer(layer, img, level or "preview")
        if doc.loaded is not None:
            w, h = doc.loaded.size
            self.view.set_image_size(QSize(w, h))
        self.view.state.set(None)
        if doc.loaded is not None and "original_full" not in doc.images:
            self.runner.submit(jobs.original_full_job, doc.loaded, self.preview_max,
                               on_done=lambda img, d=doc: self._on_original_full(d, img), label="")
        self._show_samples(doc)
        if doc.error is not None:
            self.view.main.placeholder = doc.error
            self._set_message(doc.error)
        elif not doc.ready:
            self.view.main.placeholder = "Loading…"
            self.colourise(doc)
        else:
            self._set_message(self._doc_summary(doc))
            self._refresh_histograms(doc)
        self._update_actions()

    def _evict_full_size(self, doc: Document) -> None:
        """Free the full-resolution display images of a photo that is no longer shown (12 MP ≈ 100 MB)."""
        doc.images.pop("result_full", None)
        doc.images.pop("original_full", None)
        doc.full_rgb8 = None
        doc.full_state = None

    def _on_original_full(self, doc: Document, img: QImage | None) -> None:
        if img is None:
            return
        doc.images["original_full"] = img
        if doc is self.doc:
            self.view.set_layer("original", img, "full")

    def close_document(self) -> None:
        doc = self.doc
        if doc is None:
            return
        if doc.token is not None:
            doc.token.cancel()
        i = self.docs.index(doc)
        self.docs.pop(i)
        self.undo_group.removeStack(doc.undo)
        self.filmstrip.blockSignals(True)
        self.filmstrip.takeItem(i)
        self.filmstrip.blockSignals(False)
        self.filmstrip.setVisible(len(self.docs) > 1)
        self.doc = None
        if self.docs:
            self.activate(self.docs[min(i, len(self.docs) - 1)])
        else:
            self.view.clear()
            self.view.main.placeholder = "Open a photo (File ▸ Open, drag and drop, or Ctrl+O)"
            self.samples.clear()
            self.setWindowTitle("Colorizer")
            self._update_actions()

    def _doc_summary(self, doc: Document) -> str:
        if doc.loaded is None:
            return doc.name
        w, h = doc.loaded.size
        parts = [f"{doc.name} — {w}×{h}"]
        if "first_colour" in doc.timings:
            parts.append(f"colour in {doc.timings['first_colour']:.2f} s")
        parts.extend(doc.loaded.notes)
        return "  ·  ".join(parts)

    # ======================================================================== colourisation
    def colourise(self, doc: Document) -> None:
        """Load (if needed) and predict ``doc`` in the background; a newer request supersedes it."""
        if doc.token is not None:
            doc.token.cancel()
        token = CancelToken()
        doc.token = token
        doc.error = None
        doc.timings["t0"] = time.perf_counter()
        if doc is self.doc:
            self.view.set_badge("Opening…")
        if doc.loaded is None:
            self.runner.submit(jobs.load_job, doc.path, self.preview_max, token,
                               on_done=lambda r: self._on_loaded(doc, token, r),
                               on_error=lambda e: self._on_doc_error(doc, token, e), label=f"Opening {doc.name}")
        else:
            self._start_predict(doc, token)

    def recolourise(self) -> None:
        if self.doc is not None:
            self.doc.prediction = None
            self.doc.cache = type(self.doc.cache)()
            self.colourise(self.doc)

    def _on_loaded(self, doc: Document, token: CancelToken, result: dict) -> None:
        doc.loaded = result["loaded"]
        doc.images["original"] = result["original"]
        doc.images["original_full"] = result["original_full"]
        doc.thumb = result["thumb"]
        self._set_film_icon(doc, result["thumb"])
        if doc is self.doc:
            w, h = doc.loaded.size
            self.view.set_image_size(QSize(w, h))
            self.view.set_layer("original", result["original"])
            self.view.set_layer("original", result["original_full"], "full")
            self.view.state.set(None)
        if token.cancelled or doc.token is not token:
            return
        self._start_predict(doc, token)

    def _start_predict(self, doc: Document, token: CancelToken) -> None:
        if self.colorizer is None:
            if self.model_error and doc is self.doc:
                self.view.set_badge("")
                self.view.main.placeholder = "No colouriser: " + self.model_error
                self.view.main.update()
            return  # _on_model resumes
        if doc is self.doc:
            self._set_message(f"Colourising {doc.name}…")
            self.view.set_badge("Colourising…")
        self.runner.submit(jobs.predict_job, self.colorizer, doc.loaded, doc.state, doc.cache, self._preview_side(),
                           token, on_done=lambda r: self._on_predicted(doc, token, r),
                           on_error=lambda e: self._on_doc_error(doc, token, e), label=f"Colourising {doc.name}")

    def _on_predicted(self, doc: Document, token: CancelToken, result: dict) -> None:
        if doc.token is not token:
            return
        doc.token = None
        doc.prediction = result["prediction"]
        doc.timings["predict"] = result["seconds"]
        doc.timings["first_colour"] = time.perf_counter() - doc.timings.get("t0", time.perf_counter())
        doc.render_gen += 1
        doc.shown_gen = doc.render_gen
        self._apply_render(doc, result["render"], result["state"])
        self._set_film_icon(doc, result["thumb"])
        self._update_actions()
        if doc is self.doc:
            self.view.set_badge("")
            self._set_message(self._doc_summary(doc))
            self._schedule_full()
            self._samples_timer.start()
        if result["state"] is not doc.state:  # adjusted while the network ran
            self.request_render(doc)
        self.documentReady.emit(doc)

    def _on_doc_error(self, doc: Document, token: CancelToken, exc: BaseException) -> None:
        if isinstance(exc, Cancelled) or doc.token is not token:
            return
        doc.token = None
        msg = error_text(exc)
        if not isinstance(exc, (ImageReadError, MemoryError)):
            msg = f"{doc.path}: {msg}"
        doc.error = msg
        if doc is self.doc:
            self.view.set_badge("")
            self.view.main.placeholder = f"⚠  Cannot open this photo.\n{msg}"
            self.view.main.update()
            self._set_message(msg)
            self._update_actions()
        self.show_error("Cannot open photo", f"This photo could not be opened:\n\n{msg}")

    def _preview_side(self) -> int:
        v = self.view.main
        side = int(max(v.width(), v.height()) * v.devicePixelRatioF())
        return max(800, min(self.preview_max, side))

    # ======================================================================== rendering
    def request_render(self, doc: Document, state: EditState | None = None, final: bool = True) -> None:
        """Re-render ``doc`` (preview resolution) from its cached prediction; newest request wins."""
        if doc.prediction is None or self.colorizer is None:
            return
        state = state or doc.state
        doc.render_gen += 1
        gen = doc.render_gen
        self._full_timer.stop()
        colorizer, pred, cache, side = self.colorizer, doc.prediction, doc.cache, self._preview_side()
        if not final:
            side = max(480, int(side * DRAG_PREVIEW_FACTOR))  # lighter renders while a slider moves
        doc.timings["requested"] = time.perf_counter()
        self.runner.submit_latest("preview", jobs.render_job, colorizer, pred, state, cache, side, time.perf_counter(),
                                  on_done=lambda r: self._on_render(doc, gen, state, r, final),
                                  on_error=lambda e: self._on_render_error(doc, e), label="Rendering", fast=True)

    def _on_render(self, doc: Document, gen: int, state: EditState, result: dict, final: bool) -> None:
        if gen < doc.shown_gen:
            return
        doc.shown_gen = gen
        doc.timings["last_render"] = result["seconds"]
        self.render_latencies.append(time.perf_counter() - result["submitted"])
        self._apply_render(doc, result, state)
        if final and gen == doc.render_gen and doc is self.doc:
            self._schedule_full()
            img = result["rgb"]
            self._set_film_icon(doc, img.scaled(FILM_THUMB * 2, FILM_THUMB * 2, Qt.KeepAspectRatio,
                                                Qt.SmoothTransformation))

    def _on_render_error(self, doc: Document, exc: BaseException) -> None:
        msg = error_text(exc)
        self._set_message(f"Rendering failed: {msg}")
        self.errors.append(msg)

    def _apply_render(self, doc: Document, result: dict, state: EditState) -> None:
        doc.images["result"] = result["rgb"]
        doc.images["uncertainty"] = result["uncertainty"]
        if doc.full_state is not state:
            doc.images.pop("result_full", None)
        doc.histograms = (result.get("ref_hist"), result.get("cur_hist"))
        if doc is self.doc:
            self.view.set_layer("result", result["rgb"])
            self.view.set_layer("uncertainty", result["uncertainty"])
            if "result_full" not in doc.images:
                self.view.set_layer("result", None, "full")
            self._refresh_histograms(doc)
            self.view.main.placeholder = ""
        self.renderShown.emit(doc)

    def _schedule_full(self) -> None:
        """Render at full resolution soon, but only when the zoom shows more than the preview holds."""
        doc = self.doc
        if doc is None or doc.loaded is None:
            return
        preview = doc.images.get("result")
        needed = self.view.active_view().scale() * doc.loaded.size[0]
        if preview is not None and needed <= preview.width() * 1.05:
            return
        self._full_timer.start()

    def _render_full(self) -> None:
        """Full-resolution render of the active photo's state (for 100 % zoom and saving)."""
        doc = self.doc
        if doc is None or doc.prediction is None or self.colorizer is None or doc.loaded is None:
            return
        state = doc.state
        if doc.full_state is state and "result_full" in doc.images:
            return
        w, h = doc.loaded.size
        if max(w, h) <= self._preview_side():
            return  # the preview already is full resolution
        gen = doc.render_gen
        self.runner.submit_latest("full", jobs.full_job, self.colorizer, doc.prediction, state, doc.cache,
                                  on_done=lambda r: self._on_full(doc, gen, state, r),
                                  on_error=lambda e: self._on_render_error(doc, e), label="Full-size render")

    def _on_full(self, doc: Document, gen: int, state: EditState, result: dict) -> None:
        doc.full_rgb8 = result["rgb8"]
        doc.full_state = state
        if gen != doc.render_gen or state is not doc.state:
            return
        doc.images["result_full"] = result["rgb"]
        if doc is self.doc:
            self.view.set_layer("result", result["rgb"], "full")

    def _refresh_histograms(self, doc: Document) -> None:
        ref, cur = getattr(doc, "histograms", (None, None))
        self.energy.histogram.set_histogram("Reference", ref)
        self.energy.histogram.set_histogram("Current", cur)

    # ======================================================================== saving and batch
    def save_dialog(self) -> None:
        doc = self.doc
        if doc is None or not doc.ready:
            return
        fmt = str(self.store.value("save/format", "png"))
        start = Path(self.store.folder("save")) / f"{doc.path.stem}_colour.{fmt}"
        path, chosen = QFileDialog.getSaveFileName(self, "Save the colourised photo", str(start),
                                                   ";;".join(SAVE_FILTERS.values()), SAVE_FILTERS.get(fmt, ""))
        if not path:
            return
        p = Path(path)
        if p.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            key = next((k for k, v in SAVE_FILTERS.items() if v == chosen), "png")
            p = p.with_suffix(f".{key}")
        self.store.set_folder("save", str(p.parent))
        self.store.set_value("save/format", p.suffix.lstrip(".").lower().replace("jpeg", "jpg").replace("tiff", "tif"))
        self.save(p)

    def save(self, path: str | Path, on_done: Callable[[Path], None] | None = None) -> None:
        """Save the active photo's result at full resolution (background; metadata kept)."""
        doc = self.doc
        if doc is None or doc.prediction is None or self.colorizer is None:
            return
        state = doc.state
        rgb8 = doc.full_rgb8 if doc.full_state is state else None
        self._set_message(f"Saving {Path(path).name}…")

        def done(p: Path) -> None:
            self._set_message(f"Saved {p}")
            if on_done is not None:
                on_done(p)

        def failed(exc: BaseException) -> None:
            self.show_error("Cannot save", f"The photo could not be saved:\n\n{error_text(exc)}")

        self.runner.submit(jobs.save_job, self.colorizer, doc.prediction, doc.loaded, state, doc.cache, rgb8, Path(path),
                           on_done=done, on_error=failed, label="Saving")

    def batch_dialog(self) -> BatchDialog:
        old = getattr(self, "_batch", None)
        if old is not None:
            if old.running:  # one batch at a time: show the running one
                old.show()
                old.raise_()
                return old
            old.deleteLater()  # freed in this (the GUI) thread
        settings = self.doc.state.settings if self.doc is not None else self.store.render_settings()
        dlg = BatchDialog(lambda: self.colorizer, settings, self.runner,
                          input_dir=str(self.store.value("folders/batch_in", "")) or
                          (str(self.doc.path.parent) if self.doc is not None else ""), output_dir=str(self.store.value("folders/batch_out", "")),
                          parent=self, reference=self.doc.state.reference if self.doc is not None else None,
                          match_strength=self.doc.state.match_strength if self.doc is not None else 1.0,
                          quantile=self.doc.state.quantile if self.doc is not None else False)
        dlg.finished_report.connect(lambda _r: (self.store.set_folder("batch_in", dlg.input.text()),
                                                self.store.set_folder("batch_out", dlg.output.text())))
        self._batch = dlg
        if self.interactive:
            dlg.open()
        return dlg

    # ======================================================================== view
    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        self.mode_actions[mode].setChecked(True)
        self.store.set_value("view/mode", mode)

    def _zoom(self, zoom: float | None) -> None:
        self.view.zoom_to(zoom)
        self.zoom_label.setText("Fit" if zoom is None else f"{zoom * 100:.0f} %")
        self._schedule_full()

    def _zoom_step(self, factor: float) -> None:
        v = self.view.active_view()
        self._zoom(v.scale() * factor)

    def _toggle_brush(self) -> None:
        if self.doc is None or not self.doc.ready or not self.energy.hint_group.isEnabled():
            return
        on = not self.view.main.brush_enabled
        if on:
            self.tabs.setCurrentWidget(self.energy)
        self.set_brush(on)

    def _brush_step(self, step: int) -> None:
        self.energy.size.setValue(self.energy.size.value() + step)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is not self.energy and self.view.main.brush_enabled:
            self.set_brush(False)
        self._show_hint_overlay()

    def _show_hint_overlay(self) -> None:
        """Hint masks are drawn over the photo only while the hints panel is in front."""
        on = self.tabs.currentWidget() is self.energy
        for v in self.view.views():
            v.show_hints = on
            v.update()

    # ======================================================================== status and errors
    def _set_message(self, text: str) -> None:
        self.message.setText(text)

    def _on_busy(self, busy: bool, label: str) -> None:
        self.busy_bar.setVisible(busy)
        if busy and label and label not in ("Rendering",):
            self.busy_bar.setToolTip(label)

    def _set_film_icon(self, doc: Document, img: QImage | None) -> None:
        if img is None or doc not in self.docs:
            return
        item = self.filmstrip.item(self.docs.index(doc))
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(img)))

    def _update_actions(self) -> None:
        ready = self.doc is not None and self.doc.ready and self.colorizer is not None
        self.act_save.setEnabled(ready)
        self.act_close.setEnabled(self.doc is not None)
        self.act_reset.setEnabled(self.doc is not None)
        self.adjust.setEnabled(self.doc is not None and self.doc.error is None)
        self.energy.setEnabled(self.doc is not None and self.doc.error is None)
        self.samples.set_available(ready)

    def show_error(self, title: str, text: str) -> None:
        """A non-blocking message box (never a traceback); also kept in ``errors`` for tests."""
        self.errors.append(text)
        self._set_message(text.splitlines()[-1] if text else title)
        if not self.interactive:
            return
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def is_idle(self) -> bool:
        """Nothing loading, predicting or rendering (used by --screenshot and tests)."""
        return not self.model_loading and not self.runner.busy and not self._full_timer.isActive() \
            and not self._samples_timer.isActive()

    # ======================================================================== drag and drop, close
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event) -> None:  # noqa: N802
        dlg = getattr(self, "_batch", None)
        if dlg is not None and dlg.running:
            dlg.cancel_or_close()
        for doc in self.docs:
            if doc.token is not None:
                doc.token.cancel()
        self.store.set_geometry(self.saveGeometry())
        self.store.sync()
        self.runner.wait(60000)
        super().closeEvent(event)
