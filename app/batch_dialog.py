"""Batch export: colourise a folder with the current settings in a worker thread.

Progress bar, cancel, skip-existing, and a list of per-file errors at the end. Inputs are never
overwritten: the output folder must differ from the input folder (and not lie inside it), and
``run_batch`` itself refuses to write over any input.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from colorizer.batch import BatchReport, ColorizeOptions, FileResult, collect_jobs, run_batch
from colorizer.pipeline import Colorizer, RenderSettings

from app.workers import Runner, error_text

FORMATS = {"png": "PNG (lossless)", "jpg": "JPEG", "tif": "TIFF"}


class _Progress(QObject):
    step = Signal(int, int, object)


class BatchDialog(QDialog):
    """Choose folders and format, run, watch progress, cancel, read the errors."""

    finished_report = Signal(object)

    def __init__(self, colorizer_getter: Callable[[], Colorizer | None], settings: RenderSettings,
                 runner: Runner, input_dir: str = "", output_dir: str = "", parent: QWidget | None = None,
                 reference: str | None = None, match_strength: float = 1.0, quantile: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.setMinimumWidth(560)
        self.colorizer_getter = colorizer_getter
        self.settings = settings
        self.runner = runner
        self.report: BatchReport | None = None
        self._cancel = threading.Event()
        self._running = False
        self._progress = _Progress()
        self._progress.step.connect(self._on_step)

        self.input = QLineEdit(input_dir)
        self.input.setObjectName("inputDir")
        self.output = QLineEdit(output_dir)
        self.output.setObjectName("outputDir")
        self.format = QComboBox()
        for key, label in FORMATS.items():
            self.format.addItem(label, key)
        self.skip = QCheckBox("Skip photos whose output already exists")
        self.skip.setChecked(True)
        self.uncertainty = QCheckBox("Also write uncertainty maps (<name>_uncertainty)")
        self.reference = reference
        self.match_strength = match_strength
        self.quantile = quantile
        self.use_reference = QCheckBox(f"Match the reference palette ({Path(reference).name}, strength "
                                       f"{match_strength:.1f})" if reference else "Match a reference palette")
        self.use_reference.setEnabled(reference is not None)
        self.use_reference.setChecked(reference is not None)
        form = QFormLayout()
        form.addRow("Input folder", self._with_browse(self.input, "Choose the input folder"))
        form.addRow("Output folder", self._with_browse(self.output, "Choose the output folder"))
        form.addRow("Format", self.format)
        form.addRow("", self.skip)
        form.addRow("", self.uncertainty)
        form.addRow("", self.use_reference)
        s = settings
        summary = QLabel(f"Current settings: strength {s.chroma_gain:.2f}, T {s.temperature:.2f}, "
                         f"fading {s.fading_eta:.3f}, hue {s.hue_bias:.2f} @ {s.hue_direction * 360:.0f}°, "
                         f"push {s.chroma_push:+.2f}, {s.method}")
        summary.setObjectName("hint")
        summary.setWordWrap(True)
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
    @property
    def running(self) -> bool:
        return self._running

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
        options = ColorizeOptions(settings=self.settings, skip_existing=self.skip.isChecked(), output_format=fmt,
                                  uncertainty=self.uncertainty.isChecked())
        if self.reference is not None and self.use_reference.isChecked():
            options.reference = Path(self.reference)
            options.match_strength = self.match_strength
            if self.quantile:
                options.reference_method = "quantile"  # read by colorizer.batch when present
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
            return run_batch(colorizer, jobs, options,
                             progress=lambda d, t, r: self._progress.step.emit(d, t, r),
                             cancel=self._cancel.is_set)

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
        self.status.setText(f"Batch stopped: {error_text(exc)}")
        self.start.setEnabled(True)
        self.cancel_button.setText("Close")

    def cancel_or_close(self) -> None:
        """Cancel a running batch (after the current photo), else close the dialog."""
        if self._running:
            self._cancel.set()
            self.status.setText("Cancelling after the current photo…")
        else:
            self.reject()

    def reject(self) -> None:  # noqa: D401 - Qt override
        if self._running:
            self._cancel.set()
            return
        super().reject()
