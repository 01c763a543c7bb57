"""The window's menus, toolbar and keyboard shortcuts: every QAction, built in one place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from app.views import MODE_LABELS, MODES

if TYPE_CHECKING:
    from app.main_window import MainWindow

DEVICES = (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "CUDA (GPU)"))


class WindowActions:
    """Builds the menu bar and toolbar of ``window`` and keeps the actions (tests trigger them)."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        w = window
        self.open = self._make("&Open…", w.open_dialog, QKeySequence.Open, "Open photos")
        self.open_samples = self._make("Open &sample photos", w.open_sample_photos,
                                       tip="Open the black-and-white photos that come with the program")
        self.save = self._make("&Save result as…", w.save_dialog, QKeySequence.Save,
                               "Save the colourised photo (format, quality, size)")
        self.export = self._make("&Export open photos…", w.export_dialog, "Ctrl+E",
                                 "Write every open photo (or this one) with its own edits")
        self.batch = self._make("&Batch export a folder…", w.batch_dialog, "Ctrl+B", "Colourise a whole folder")
        self.close = self._make("&Close photo", w.close_document, QKeySequence.Close)
        self.quit = self._make("&Quit", w.close, QKeySequence.Quit)
        self.undo = w.undo_group.createUndoAction(w, "&Undo")
        self.undo.setShortcut(QKeySequence.Undo)
        self.redo = w.undo_group.createRedoAction(w, "&Redo")
        self.redo.setShortcut(QKeySequence.Redo)
        self.reset = self._make("Reset &all adjustments", w.edits.reset, "Ctrl+R")
        self.copy_look = self._make("&Copy look", w.edits.copy_look, "Ctrl+Shift+C",
                                    "Remember this photo's settings and reference palette")
        self.paste_look = self._make("&Paste look", w.edits.paste_look, "Ctrl+Shift+V",
                                     "Give this photo the copied settings and reference (its hints stay)")
        self.save_look = self._make("Save look as &default for new photos…", w.save_default_look,
                                    tip="New photos will start from this photo's settings and reference")
        self.clear_look = self._make("New photos start from the plain &defaults", w.clear_default_look)
        self.brush = self._make("&Brush a region hint", w.toggle_brush, "B",
                                "Paint over an object: it takes the chosen colour, up to its edges")
        self.eraser = self._make("&Erase hints", w.toggle_eraser, "E", "Paint where no hint should apply")
        self.show_hints = self._make("Show hint &regions", w.toggle_hint_overlay, "H",
                                     "Outline the regions the hints colour")
        self.brush_smaller = self._make("Smaller brush", lambda: w.brush_step(-1), "[")
        self.brush_larger = self._make("Larger brush", lambda: w.brush_step(1), "]")
        self.modes: dict[str, QAction] = {}
        self.mode_group = QActionGroup(w)
        for i, mode in enumerate(MODES):
            a = self._make(MODE_LABELS[mode], lambda md=mode: w.set_view_mode(md), f"Ctrl+{i + 1}")
            a.setCheckable(True)
            self.mode_group.addAction(a)
            self.modes[mode] = a
        self.fit = self._make("Zoom to &fit", lambda: w.zoom(None), "Ctrl+0")
        self.fit.setIconText("Fit")
        self.zoom_100 = self._make("Zoom &100 %", lambda: w.zoom(1.0), "Ctrl+Alt+0")
        self.zoom_100.setIconText("100 %")
        self.zoom_in = self._make("Zoom &in", lambda: w.zoom_step(1.25), QKeySequence.ZoomIn)
        self.zoom_out = self._make("Zoom &out", lambda: w.zoom_step(0.8), QKeySequence.ZoomOut)
        self.devices: dict[str, QAction] = {}
        self.device_group = QActionGroup(w)
        for key, label in DEVICES:
            a = self._make(label, lambda k=key: w.session.set_device(k))
            a.setCheckable(True)
            self.device_group.addAction(a)
            self.devices[key] = a
        self.bundled = self._make("&Bundled model", lambda: w.session.set_weights(None),
                                  tip="The model that comes with the program")
        self.bundled.setCheckable(True)
        self.weights = self._make("&Open weights file…", w.weights_dialog,
                                  tip="Use a model trained or fine-tuned with `colorizer train` / `finetune`")
        self.about_model = self._make("&About the current model…", w.about_model)
        self.recolor = self._make("&Colourise again", w.recolourise, "F5")
        self.recent: QMenu | None = None
        self._build_menus()
        self._build_toolbar()

    def _make(self, text: str, slot: Callable[[], Any] | None = None, shortcut: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self.window)
        if slot is not None:
            a.triggered.connect(lambda _=False: slot())
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        return a

    def _build_menus(self) -> None:
        mb = self.window.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.open)
        self.recent = m.addMenu("Open &recent")
        m.addAction(self.open_samples)
        m.addSeparator()
        m.addActions([self.save, self.export, self.batch])
        m.addSeparator()
        m.addActions([self.close, self.quit])
        m = mb.addMenu("&Edit")
        m.addActions([self.undo, self.redo])
        m.addSeparator()
        m.addActions([self.copy_look, self.paste_look, self.reset])
        m.addSeparator()
        m.addActions([self.save_look, self.clear_look])
        m.addSeparator()
        m.addActions([self.brush, self.eraser, self.brush_smaller, self.brush_larger, self.show_hints])
        m = mb.addMenu("&View")
        m.addActions(list(self.modes.values()))
        m.addSeparator()
        m.addActions([self.fit, self.zoom_100, self.zoom_in, self.zoom_out])
        m = self.model_menu = mb.addMenu("&Model")
        m.addActions([self.bundled, self.weights])
        m.addSeparator()
        m.addAction(self.about_model)
        m.addMenu("&Device").addActions(list(self.devices.values()))
        m.addSeparator()
        m.addAction(self.recolor)

    def _build_toolbar(self) -> None:
        w = self.window
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonTextOnly)
        w.addToolBar(tb)
        tb.addActions([self.open, self.save, self.export])
        tb.addSeparator()
        self.tb_undo = self._make("Undo", w.undo_group.undo, tip="Undo the last adjustment")
        self.tb_redo = self._make("Redo", w.undo_group.redo, tip="Redo")
        self.tb_undo.setEnabled(False)
        self.tb_redo.setEnabled(False)
        w.undo_group.canUndoChanged.connect(self.tb_undo.setEnabled)
        w.undo_group.canRedoChanged.connect(self.tb_redo.setEnabled)
        w.undo_group.undoTextChanged.connect(lambda t: self.tb_undo.setToolTip(f"Undo {t}" if t else "Undo"))
        w.undo_group.redoTextChanged.connect(lambda t: self.tb_redo.setToolTip(f"Redo {t}" if t else "Redo"))
        tb.addActions([self.tb_undo, self.tb_redo])
        tb.addSeparator()
        tb.addActions(list(self.modes.values()))
        tb.addSeparator()
        tb.addActions([self.fit, self.zoom_100])

    def rebuild_recent(self, items: list[str], open_files: Callable[[list[str]], Any], clear: Callable[[], None]) -> None:
        """Fill File ▸ Open recent with ``items``."""
        menu = self.recent
        if menu is None:
            return
        menu.clear()
        for path in items:
            a = menu.addAction(Path(path).name)
            a.setToolTip(path)
            a.triggered.connect(lambda _=False, p=path: open_files([p]))
        if items:
            menu.addSeparator()
            menu.addAction("Clear list", clear)
        menu.setEnabled(bool(items))

    def show_model(self, bundled: bool, loaded: bool) -> None:
        """Tick the bundled model when it is the one in use."""
        self.bundled.setChecked(bundled and loaded)
        self.about_model.setEnabled(loaded)

    def update_enabled(self, ready: bool, editable: bool, has_doc: bool, can_paste: bool) -> None:
        """Enable what the active photo allows."""
        self.save.setEnabled(ready)
        self.export.setEnabled(has_doc)
        self.save_look.setEnabled(editable)
        self.close.setEnabled(has_doc)
        self.reset.setEnabled(editable)
        self.copy_look.setEnabled(editable)
        self.paste_look.setEnabled(editable and can_paste)
