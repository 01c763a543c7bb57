"""The main window: the view, the filmstrip, the side panels and the status bar, wired together.

The window only shows things. Photos, the colouriser and render requests live in the ``Session``;
undoable edits in the ``EditController``; menus and shortcuts in ``WindowActions``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QSize, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QUndoGroup
from PySide6.QtWidgets import (QFileDialog, QInputDialog, QLabel, QListView, QListWidget, QMainWindow,
                               QMessageBox, QProgressBar, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from colorizer.export import ExportOptions
from colorizer.render_settings import RenderSettings
from colorizer.sidecars import SidecarStore

from app.actions import WindowActions
from app.adjust_panel import AdjustPanel
from app.batch_dialog import BatchDialog
from app.compare_view import CompareView
from app.document import Document
from app.edits import EditController
from app.energy_panel import EnergyPanel
from app.export_dialog import ExportDialog, SaveDialog
from app.export_options import load_export_options, save_export_options
from app.gc_guard import ensure_gui_gc
from app.hint_tools import BrushTools
from app.imaging import IMAGE_FILTER
from app.jobs import FILM_THUMB
from app.models_menu import ModelsMenu
from app.presenter import Presenter
from app.resources import sample_photos
from app.samples_panel import SamplesPanel
from app.session import ColorizerFactory, Session
from app.settings_store import SettingsStore
from app.user_models import ModelLibrary
from app.views import MODES
from app.window_dialogs import open_batch_dialog, open_export_dialog
from app.workers import Runner

FULL_RENDER_DELAY_MS = 300


def default_recipes_dir() -> Path:
    """Where recipes of photos in read-only folders are kept (the app's data folder)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "recipes"


class MainWindow(QMainWindow):
    """The colouriser's main window."""

    documentReady = Signal(object)   # a document's first colour result is on screen
    renderShown = Signal(object)     # any preview render reached the screen

    def __init__(self, weights: str | None = None, device: str | None = None,
                 colorizer_factory: ColorizerFactory | None = None, store: SettingsStore | None = None,
                 preview_max: int = 1600, interactive: bool = True, recipes_dir: Path | None = None,
                 models_dir: Path | None = None) -> None:
        super().__init__()
        ensure_gui_gc()  # cyclic GC only in this thread (worker threads must never free Qt objects)
        self.setWindowTitle("Colorizer")
        self.setAcceptDrops(True)
        self.store = store or SettingsStore()
        self.interactive = interactive
        self.errors: list[str] = []
        self.runner = Runner(max_threads=2, parent=self)
        self.undo_group = QUndoGroup(self)
        sidecars = SidecarStore(recipes_dir if recipes_dir is not None else default_recipes_dir())
        weights = weights if weights is not None else self.store.weights()
        self.session = Session(self.runner, self.store, sidecars, colorizer_factory, weights, device, preview_max, self)
        self.session.preview_side = self._preview_side
        self.edits = EditController(self.session, self)
        self._batch: BatchDialog | None = None
        self._export: ExportDialog | None = None
        self._build_ui()
        self.hint_tools = BrushTools(self)
        self.actions = WindowActions(self)
        self.models = ModelsMenu(self, ModelLibrary(models_dir))
        self.rebuild_recent()
        self.actions.devices[self.session.device].setChecked(True)
        mode = str(self.store.value("view/mode", "split"))
        self.set_view_mode(mode if mode in MODES else "split")
        self._full_timer = QTimer(self)
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(FULL_RENDER_DELAY_MS)
        self._full_timer.timeout.connect(self._render_full)
        self.presenter = Presenter(self)
        self._connect()
        geometry = self.store.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        self.presenter.update_actions()
        self.presenter.show_default_look()
        self.session.load_model()

    # ----- construction -------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = CompareView()
        self.filmstrip = QListWidget()
        self.filmstrip.setObjectName("filmstrip")
        self.filmstrip.setViewMode(QListView.IconMode)
        self.filmstrip.setFlow(QListView.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setMovement(QListView.Static)
        self.filmstrip.setIconSize(QSize(FILM_THUMB, FILM_THUMB))
        self.filmstrip.setSpacing(4)
        self.filmstrip.setFixedHeight(FILM_THUMB + 44)
        self.filmstrip.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.filmstrip.hide()
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.filmstrip)
        self.adjust = AdjustPanel(self.session.default_settings)
        self.samples, self.energy = SamplesPanel(), EnergyPanel()
        self.energy.start_folder = self.store.folder("reference")
        self.view.set_brush(False, color=self.energy.brush_color, radius=0.03)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.adjust, "Adjust")
        self.tabs.addTab(self.samples, "Samples")
        self.tabs.addTab(self.energy, "Match && hints")
        self.tabs.setMinimumWidth(300)
        self.tabs.setMaximumWidth(420)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setSizes([1060, 330])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)
        self.message = QLabel("Ready")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.hide()
        self.pos_label, self.zoom_label = QLabel(""), QLabel("Fit")
        self.device_label = QLabel("Device: —")
        self.device_label.setObjectName("deviceLabel")
        self.model_label = QLabel("Model: loading…")
        self.model_label.setObjectName("modelLabel")
        sb = self.statusBar()
        sb.addWidget(self.message, 1)
        for w in (self.busy_bar, self.pos_label, self.zoom_label, self.model_label, self.device_label):
            sb.addPermanentWidget(w)

    def _connect(self) -> None:
        e = self.edits
        for v in self.view.views():
            v.zoomChanged.connect(self._on_zoom)
            v.hoverInfo.connect(self.pos_label.setText)
        self.view.state.changed.connect(self._show_zoom)
        self.filmstrip.currentRowChanged.connect(self._on_film_row)
        self.adjust.previewRequested.connect(self._preview_settings)
        self.adjust.committed.connect(lambda old, new: e.commit_settings(new, self.adjust.change_label(old, new)))
        self.adjust.resetRequested.connect(e.reset)
        self.samples.adopted.connect(e.adopt_sample)
        self.samples.moreRequested.connect(self._more_samples)
        self.samples.countChanged.connect(self._on_sample_count)
        self.energy.referenceChosen.connect(lambda path: e.set_reference(path, *self.energy.values()))
        self.energy.referenceCleared.connect(lambda: e.set_reference(None))
        self.energy.amountPreview.connect(self._preview_amount)
        self.energy.amountCommitted.connect(e.set_match_amount)
        self.energy.quantileToggled.connect(lambda on: e.set_reference_method("quantile" if on else "energy"))
        self.energy.brushColorChanged.connect(lambda c: self.view.set_brush(self.view.main.brush_enabled, color=c))
        self.energy.brushSizeChanged.connect(lambda r: self.view.set_brush(self.view.main.brush_enabled, radius=r))
        self.energy.hintRemoved.connect(e.remove_hint)
        self.tabs.currentChanged.connect(self._on_tab)
        self.runner.busyChanged.connect(self._on_busy)

    def _on_busy(self, busy: bool, label: str) -> None:
        self.busy_bar.setVisible(busy)
        if busy and label:
            self.busy_bar.setToolTip(label)

    def _on_zoom(self, _zoom: float) -> None:
        self._show_zoom()
        self.schedule_full()

    def _show_zoom(self) -> None:
        """The zoom in the status bar: "Fit (43 %)" while fitting the window, else the zoom."""
        scale = self.view.active_view().scale()
        self.zoom_label.setText(f"Fit ({scale * 100:.0f} %)" if self.view.state.zoom is None else f"{scale * 100:.0f} %")

    def _preview_amount(self, amount: float) -> None:
        """The match slider is moving: a light preview with that much of the reference (not an edit yet)."""
        doc = self.session.doc
        state = self.edits.with_amount(amount)
        if doc is not None and state is not None:
            self.session.request_render(doc, state, final=False)

    def _preview_settings(self, settings: RenderSettings) -> None:
        """A slider is moving: a light preview of the active photo with ``settings`` (not an edit yet)."""
        doc = self.session.doc
        if doc is not None:
            self.session.request_render(doc, doc.state.replace(settings=settings), final=False)

    def _more_samples(self) -> None:
        if self.session.doc is not None:
            self.session.doc.sample_seed += 1
            self.session.request_samples()

    def _on_sample_count(self, n: int) -> None:
        self.session.sample_count = n
        self.session.request_samples()

    # ----- files --------------------------------------------------------------------------------
    def open_files(self, paths: list[str | Path]) -> list[Document]:
        return self.session.open_files(paths)

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", self.store.folder("open"), IMAGE_FILTER)
        if paths:
            self.store.set_folder("open", str(Path(paths[0]).parent))
            self.open_files(paths)

    def open_sample_photos(self) -> list[Document]:
        """Open the black-and-white photos that come with the program."""
        photos = sample_photos()
        if not photos:
            self.show_error("No sample photos", "The sample photos are missing from this installation.")
            return []
        return self.open_files(photos)

    def save_dialog(self) -> SaveDialog | None:
        """Save the active photo: file, format, quality and size (asks before replacing a file)."""
        doc = self.session.doc
        if doc is None or not doc.ready:
            return None
        options = load_export_options(self.store)
        start = Path(self.store.folder("save")) / f"{doc.path.stem}_colour{options.suffix}"
        dlg = SaveDialog(start, options, parent=self)
        dlg.accepted.connect(lambda: self._save_chosen(dlg))
        if self.interactive:
            dlg.open()
        return dlg

    def _save_chosen(self, dlg: SaveDialog) -> None:
        target, options = dlg.target, dlg.options()
        save_export_options(self.store, dataclasses.replace(options, template=load_export_options(self.store).template))
        self.store.set_folder("save", str(target.parent))
        self.session.save(target, options, replace=dlg.replace)

    def save(self, path: str | Path, options: ExportOptions | None = None) -> None:
        """Save the active photo's picture to ``path``; an existing file there is kept (the picture then
        takes the next free number)."""
        self.session.save(path, options)

    def export_dialog(self) -> ExportDialog:
        """Export the open photos, each with its own edits (one export at a time)."""
        return open_export_dialog(self)

    # ----- looks and models -----------------------------------------------------------------------
    def save_default_look(self, name: str | None = None) -> None:
        """New photos start from the active photo's look (settings and reference), under ``name``."""
        doc = self.session.doc
        if doc is None or not doc.editable:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Default look", "Name this look (new photos will start from it):",
                                            text=doc.path.stem)
            if not ok or not name.strip():
                return
        self.store.set_default_look(name.strip(), doc.state.look())
        self.presenter.show_default_look()

    def clear_default_look(self) -> None:
        self.store.clear_default_look()
        self.presenter.show_default_look()

    def weights_dialog(self) -> None:
        self.models.open_weights_file()

    def about_model(self) -> None:
        self.models.about_model()

    def batch_dialog(self) -> BatchDialog:
        """The batch export dialog (one batch at a time: a running one is shown again)."""
        return open_batch_dialog(self)

    def close_document(self) -> None:
        if self.session.doc is not None:
            self.session.close(self.session.doc)

    def recolourise(self) -> None:
        if self.session.doc is not None:
            self.session.recolourise(self.session.doc)

    def rebuild_recent(self) -> None:
        self.actions.rebuild_recent(self.store.recent_files(), self.open_files,
                                    lambda: (self.store.clear_recent(), self.rebuild_recent()))

    # ----- view ---------------------------------------------------------------------------------
    def set_view_mode(self, mode: str) -> None:
        self.view.set_mode(mode)
        self.actions.modes[mode].setChecked(True)
        self.store.set_value("view/mode", mode)

    def zoom(self, zoom: float | None) -> None:
        self.view.zoom_to(zoom)
        self._show_zoom()
        self.schedule_full()

    def zoom_step(self, factor: float) -> None:
        self.zoom(self.view.active_view().scale() * factor)

    def schedule_full(self) -> None:
        """Render at full resolution soon, but only when the zoom shows more than the preview holds."""
        doc = self.session.doc
        if doc is None or doc.loaded is None:
            return
        preview = doc.images.get("result")
        if preview is not None and self.view.active_view().scale() * doc.loaded.size[0] <= preview.width() * 1.05:
            return
        self._full_timer.start()

    def _render_full(self) -> None:
        if self.session.doc is not None:
            self.session.request_full(self.session.doc)

    def _preview_side(self) -> int:
        v = self.view.main
        side = int(max(v.width(), v.height()) * v.devicePixelRatioF())
        return max(800, min(self.session.preview_max, side))

    def toggle_brush(self) -> None:
        self.hint_tools.toggle("brush")

    def toggle_eraser(self) -> None:
        self.hint_tools.toggle("eraser")

    def toggle_hint_overlay(self) -> None:
        self.hint_tools.set_overlay(not self.hint_tools.overlay_on)

    def set_brush(self, on: bool) -> None:
        self.hint_tools.set_tool("brush" if on else None)

    def brush_step(self, step: int) -> None:
        self.energy.size.setValue(self.energy.size.value() + step)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is not self.energy and self.hint_tools.tool is not None:
            self.hint_tools.set_tool(None)
        self.hint_tools.show_overlay()

    def _on_film_row(self, row: int) -> None:
        if 0 <= row < len(self.session.docs) and self.session.docs[row] is not self.session.doc:
            self.session.activate(self.session.docs[row])

    # ----- status -------------------------------------------------------------------------------
    def show_error(self, title: str, text: str) -> None:
        """A non-blocking message box (never a traceback); also kept in ``errors`` for tests."""
        self.errors.append(text)
        self.message.setText(text.splitlines()[-1] if text else title)
        if self.interactive:
            box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
            box.setAttribute(Qt.WA_DeleteOnClose)
            box.open()

    def is_idle(self) -> bool:
        """Nothing loading, predicting, rendering or saving (used by --screenshot and tests)."""
        return self.session.is_idle() and not self._full_timer.isActive()

    # ----- drag and drop, close -----------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_files(paths)
            event.acceptProposedAction()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._batch is not None and self._batch.running:
            self._batch.cancel_or_close()
        self.models.cancel_running()
        for doc in self.session.docs:
            if doc.token is not None:
                doc.token.cancel()
            self.session.save_sidecar(doc, wait=True)  # pending background writes are dropped on exit
        self.store.set_geometry(self.saveGeometry())
        self.store.sync()
        self.runner.wait(60000)
        super().closeEvent(event)
