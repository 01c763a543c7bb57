"""Batch export: colourise a folder in a worker thread.

Each photo gets its own saved edits (its sidecar recipe) where it has them, and the chosen look
elsewhere. Progress bar, cancel, skip-existing, and a list of per-file errors at the end. Inputs are
never overwritten: the output folder must differ from the input folder (and not lie inside it), and
``run_batch`` itself refuses to write over any input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from colorizer.batch import BatchReport, ColorizeOptions, FileResult, collect_jobs, run_batch
from colorizer.export import FORMATS
from colorizer.messages import one_line
from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe
from colorizer.sidecars import SidecarStore

from app.cancellable_dialog import CancellableDialog
from app.workers import Runner


class _Progress(QObject):
    step = Signal(int, int, object)


class BatchDialog(CancellableDialog):
    """Choose folders and format, run, watch progress, cancel, read the errors."""

    finished_report = Signal(object)

    def __init__(self, colorizer_getter: Callable[[], Colorizer | None], looks: dict[str, Recipe],
                 sidecars: SidecarStore, runner: Runner, input_dir: str = "", output_dir: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.setMinimumWidth(560)
        self.colorizer_getter = colorizer_getter
        self.looks = looks
        self.sidecars = sidecars
        self.runner = runner
        self.report: BatchReport | None = None
        self._problems: list[FileResult] = []
        self._progress = _Progress()
        self._progress.step.connect(self._on_step)

        self.input = QLineEdit(input_dir)
        self.input.setObjectName("inputDir")
        self.output = QLineEdit(output_dir)
        self.output.setObjectName("outputDir")
        self.format = QComboBox()
        for key, label in FORMATS.items():
            self.format.addItem(label, key)
        self.look = QComboBox()
        self.look.setObjectName("look")
        self.look.addItems(list(looks))
        self.own_edits = QCheckBox("Photos with their own saved edits keep them")
        self.own_edits.setToolTip("A photo edited in this program has its recipe beside it (<name>.colorizer.json)")
        self.own_edits.setChecked(True)
        self.skip = QCheckBox("Skip photos whose output already exists")
        self.skip.setChecked(True)
        self.uncertainty = QCheckBox("Also write uncertainty maps (<name>_uncertainty)")
        form = QFormLayout()
        form.addRow("Input folder", self._with_browse(self.input, "Choose the input folder"))
        form.addRow("Output folder", self._with_browse(self.output, "Choose the output folder"))
        form.addRow("Format", self.format)
        form.addRow("Look", self.look)
        form.addRow("", self.own_edits)
        form.addRow("", self.skip)
        form.addRow("", self.uncertainty)
        summary = QLabel()
        summary.setObjectName("hint")
        summary.setWordWrap(True)
        self.look.currentTextChanged.connect(lambda name: summary.setText(describe_look(self.looks[name])))
        summary.setText(describe_look(self.chosen_look()))
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.status = QLabel("Ready.")
        self.errors = QListWidget()
        self.errors.setObjectName("batchErrors")
        self.errors.hide()
        self.buttons = QDialogButtonBox()
        self.start = self.buttons.addButton("Start", QDialogButtonBox.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel", QDialogButtonBox.RejectRole)
        self.start.clicked.connect(self.start_batch)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.errors)
        layout.addWidget(self.buttons)

    def chosen_look(self) -> Recipe:
        """The recipe for photos without their own edits."""
        return self.looks[self.look.currentText()]

    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        b = QPushButton("Browse…")
        b.clicked.connect(lambda: self._browse(edit, title))
        row.addWidget(b)
        return box

    def _browse(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title, edit.text())
        if path:
            edit.setText(path)

    # ----- running ------------------------------------------------------------------------------
    def validate(self) -> str | None:
        """A message saying what is wrong with the choices, or None."""
        src, dst = self.input.text().strip(), self.output.text().strip()
        if not src or not Path(src).is_dir():
            return "Choose an existing input folder."
        if not dst:
            return "Choose an output folder."
        s, d = Path(src).resolve(), Path(dst).resolve()
        if s == d or s in d.parents:
            return "The output folder must not be the input folder or inside it (inputs are never overwritten)."
        if self.colorizer_getter() is None:
            return "The colouriser is not ready yet (check the weights file)."
        return None

    def start_batch(self) -> None:
        problem = self.validate()
        if problem:
            self.status.setText(problem)
            return
        colorizer = self.colorizer_getter()
        fmt = self.format.currentData()
        jobs, problems = collect_jobs([self.input.text().strip()], self.output.text().strip(), fmt)
        options = ColorizeOptions(recipe=self.chosen_look(), skip_existing=self.skip.isChecked(), output_format=fmt,
                                  uncertainty=self.uncertainty.isChecked())
        own_edits = self.own_edits.isChecked()
        self._cancel.clear()
        self._running = True
        self._problems = problems
        self.errors.clear()
        self.errors.hide()
        self.progress.setRange(0, max(1, len(jobs)))
        self.progress.setValue(0)
        self.status.setText(f"Colourising {len(jobs)} photos…")
        self.start.setEnabled(False)
        self.cancel_button.setText("Cancel")

        def work() -> BatchReport:
            todo, unusable = self.sidecars.attach(jobs) if own_edits else (jobs, [])
            report = run_batch(colorizer, todo, options, progress=lambda d, t, r: self._progress.step.emit(d, t, r),
                               cancel=self._cancel.is_set)
            report.results[:0] = unusable
            return report

        self.runner.submit(work, on_done=self._on_done, on_error=self._on_error, label="Batch export")

    @Slot(int, int, object)
    def _on_step(self, done: int, total: int, result: FileResult) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        state = "skipped" if result.skipped else ("ok" if result.ok else "failed")
        self.status.setText(f"{done}/{total}: {result.source.name} ({state})")

    def _on_done(self, report: BatchReport) -> None:
        self._running = False
        report.results[:0] = self._problems
        self.report = report
        failures = report.failures
        ok = sum(1 for r in report.results if r.ok and not r.skipped)
        skipped = sum(1 for r in report.results if r.skipped)
        head = "Cancelled" if report.cancelled else "Done"
        self.status.setText(f"{head}: {ok} written, {skipped} skipped, {len(failures)} failed.")
        if failures:
            self.errors.show()
            for r in failures:
                self.errors.addItem(r.error or f"{r.source}: failed")
        self.start.setEnabled(True)
        self.cancel_button.setText("Close")
        self.finished_report.emit(report)

    def _on_error(self, exc: BaseException) -> None:
        self._running = False
        self.status.setText(f"Batch stopped: {one_line(exc)}")
        self.start.setEnabled(True)
        self.cancel_button.setText("Close")


def describe_look(look: Recipe) -> str:
    """One line about a look: its settings and reference palette."""
    s = look.settings
    text = (f"Colour strength {s.value('chroma_gain'):.2f}, T {s.value('temperature'):.2f}, "
            f"fading {s.value('fading_eta'):.3f}, hue {s.hue_bias:.2f} @ {s.hue_direction * 360:.0f}°, "
            f"push {s.chroma_push:+.2f}, {s.value('method')}")
    ref = look.reference
    if ref is not None:
        text += f"; palette of {Path(ref.path).name} ({ref.method}, strength {ref.strength:.1f})"
    return text
