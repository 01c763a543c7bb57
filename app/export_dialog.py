"""Save (the active photo) and Export (every open photo, each with its own edits) dialogs.

Both use ``colorizer.export`` for names, sizes and atomic writes, and never overwrite a file without
asking: an existing target gets "Replace", "Keep both" (a numbered name) or "Cancel".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QMessageBox, QProgressBar, QPushButton, QRadioButton,
                               QVBoxLayout, QWidget)

from colorizer.export import ExportError, ExportOptions, PlannedExport, output_name, plan_exports, unique_path
from colorizer.messages import one_line

from app import jobs
from app.export_options import ExportOptionsWidget
from app.cancellable_dialog import CancellableDialog
from app.workers import Runner

Ask = Callable[[str], str]  # question -> "replace" | "keep" | "cancel"


def ask_overwrite(parent: QWidget, question: str) -> str:
    """Ask what to do with files that already exist."""
    box = QMessageBox(QMessageBox.Question, "Files already exist", question, parent=parent)
    replace = box.addButton("Replace", QMessageBox.DestructiveRole)
    keep = box.addButton("Keep both", QMessageBox.AcceptRole)
    box.addButton(QMessageBox.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    return "replace" if box.clickedButton() is replace else "keep" if box.clickedButton() is keep else "cancel"


def _browse_row(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    row.addWidget(button)
    return box


class SaveDialog(QDialog):
    """Where and how to save the active photo: a file, its format, JPEG quality and size."""

    def __init__(self, start: Path, options: ExportOptions, ask: Ask | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save the colourised photo")
        self.setMinimumWidth(520)
        self.ask = ask or (lambda q: ask_overwrite(self, q))
        self.path = QLineEdit(str(start.with_suffix(options.suffix)))
        self.path.setObjectName("savePath")
        self.options_widget = ExportOptionsWidget(options)
        self.options_widget.format.currentIndexChanged.connect(self._follow_format)
        self.problem = QLabel()
        self.problem.setObjectName("hint")
        form = QFormLayout()
        form.addRow("File", _browse_row(self.path, self._browse))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.options_widget)
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.target: Path | None = None
        self.replace = False  # the user chose to replace an existing file (else none is ever replaced)

    def options(self) -> ExportOptions:
        return self.options_widget.options()

    def _follow_format(self) -> None:
        text = self.path.text().strip()
        if text:
            self.path.setText(str(Path(text).with_suffix(self.options().suffix)))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self.path.text(), options=QFileDialog.DontConfirmOverwrite)
        if path:
            self.path.setText(str(Path(path).with_suffix(self.options().suffix)))

    def accept(self) -> None:  # noqa: D401 - Qt override
        """Check the file (asking before replacing one), then close with ``target`` set."""
        text = self.path.text().strip()
        if not text:
            self.problem.setText("Choose a file name.")
            return
        target = Path(text).with_suffix(self.options().suffix)
        self.replace = False
        if target.exists():
            answer = self.ask(f"{target.name} already exists in {target.parent}.\n\n"
                              "Replace it, or keep both (the new file gets a number)?")
            if answer == "cancel":
                return
            if answer == "keep":
                target = unique_path(target)
            self.replace = answer == "replace"
        self.target = target
        super().accept()


class _Progress(QObject):
    step = Signal(int, int, str)


class ExportDialog(CancellableDialog):
    """Write the open photos (or the active one), each with its own recipe, to a folder."""

    finished_export = Signal(list, list)   # written paths, error lines

    def __init__(self, items: Callable[[bool], list[jobs.ExportItem]], colorizer_getter, runner: Runner,
                 options: ExportOptions, folder: str, count: int, ask: Ask | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self.items, self.colorizer_getter, self.runner = items, colorizer_getter, runner
        self.ask = ask or (lambda q: ask_overwrite(self, q))
        self.written: list[Path] = []
        self.errors_found: list[str] = []
        self._planned_targets: set[Path] = set()
        self._progress = _Progress()
        self._progress.step.connect(self._on_step)
        self.folder = QLineEdit(folder)
        self.folder.setObjectName("exportFolder")
        self.template = QLineEdit(options.template)
        self.template.setObjectName("exportTemplate")
        self.template.setToolTip("{stem}: the photo's name; {n}: its number in this export; {format}: the format")
        self.example = QLabel()
        self.example.setObjectName("hint")
        self.all_photos = QRadioButton(f"All {count} open photos, each with its own edits")
        self.this_photo = QRadioButton("Only the photo on screen")
        scope = QButtonGroup(self)
        for b in (self.all_photos, self.this_photo):
            scope.addButton(b)
        (self.all_photos if count > 1 else self.this_photo).setChecked(True)
        self.options_widget = ExportOptionsWidget(options)
        form = QFormLayout()
        form.addRow("Folder", _browse_row(self.folder, self._browse))
        form.addRow("File names", self.template)
        form.addRow("", self.example)
        form.addRow("Photos", self.all_photos)
        form.addRow("", self.this_photo)
        self.progress = QProgressBar()
        self.status = QLabel("Ready.")
        self.errors = QListWidget()
        self.errors.hide()
        self.buttons = QDialogButtonBox()
        self.start = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.cancel_button = self.buttons.addButton("Close", QDialogButtonBox.RejectRole)
        self.start.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.options_widget)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.errors)
        layout.addWidget(self.buttons)
        self.template.textChanged.connect(self._show_example)
        self.options_widget.changed.connect(self._show_example)
        self._show_example()

    def options(self) -> ExportOptions:
        """The chosen options; raises ExportError naming a problem."""
        return self.options_widget.options(self.template.text())

    def _show_example(self) -> None:
        try:
            self.example.setText("e.g. " + output_name(self.options(), "photo.jpg"))
            self.start.setEnabled(not self._running)
        except ExportError as exc:
            self.example.setText(str(exc))
            self.start.setEnabled(False)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if path:
            self.folder.setText(path)

    def plan(self, items: list[jobs.ExportItem], options: ExportOptions) -> list[PlannedExport] | None:
        """Where each picture goes; asks about files that already exist (None: the user cancelled)."""
        folder = self.folder.text().strip()
        planned = plan_exports([i.path for i in items], folder, options)
        existing = [p for p in planned if p.exists]
        if not existing:
            return planned
        names = ", ".join(p.target.name for p in existing[:3]) + (" …" if len(existing) > 3 else "")
        answer = self.ask(f"{len(existing)} of these files already exist in {folder}: {names}\n\n"
                          "Replace them, or keep both (the new files get a number)?")
        if answer == "cancel":
            return None
        if answer == "replace":
            return [dataclasses.replace(p, replace=p.exists) for p in planned]
        return plan_exports([i.path for i in items], folder, options, keep_both=True)

    def start_export(self) -> None:
        folder = self.folder.text().strip()
        colorizer = self.colorizer_getter()
        if not folder:
            self.status.setText("Choose a folder.")
            return
        if colorizer is None:
            self.status.setText("The colouriser is not ready yet.")
            return
        try:
            options = self.options()
        except ExportError as exc:
            self.status.setText(str(exc))
            return
        items = self.items(self.all_photos.isChecked())
        planned = self.plan(items, options)
        if planned is None:
            self.status.setText("Nothing exported.")
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        self._cancel.clear()
        self._running = True
        self.errors.clear()
        self.errors.hide()
        self.progress.setRange(0, len(items))
        self.progress.setValue(0)
        self.start.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.status.setText(f"Exporting {len(items)} photos…")
        self._planned_targets = {p.target for p in planned}
        self.runner.submit(jobs.export_job, colorizer, items, planned, options, self._cancel.is_set,
                           lambda d, t, name: self._progress.step.emit(d, t, name),
                           on_done=self._on_done, on_error=self._on_error, label="Exporting")

    def _on_step(self, done: int, total: int, name: str) -> None:
        self.progress.setValue(done)
        self.status.setText(f"{done}/{total}: {name}")

    def _on_done(self, result: tuple[list[Path], list[str], bool]) -> None:
        written, errors, cancelled = result
        self._running = False
        self.written, self.errors_found = written, errors
        head = "Cancelled" if cancelled else "Done"
        moved = [w.name for w in written if w not in self._planned_targets]
        note = (f" {len(moved)} took a numbered name because a file appeared meanwhile: {', '.join(moved[:3])}"
                + (" …" if len(moved) > 3 else "") + ".") if moved else ""
        self.status.setText(f"{head}: {len(written)} written, {len(errors)} failed.{note}")
        for line in errors:
            self.errors.addItem(line)
        self.errors.setVisible(bool(errors))
        self.start.setEnabled(True)
        self.cancel_button.setText("Close")
        self.finished_export.emit(written, errors)

    def _on_error(self, exc: BaseException) -> None:
        self._on_done(([], [f"Export stopped: {one_line(exc)}"], False))
