"""Teach from my colour photos: pick a folder, see how many photos are usable, fine-tune in a worker
thread with a progress bar, an ETA, Cancel and Finish now, and store the new model in the library.

All the work is :mod:`colorizer.train.finetune` (the same as ``colorizer finetune``); this dialog only
starts it, shows its progress and names the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from colorizer.messages import one_line
from colorizer.provenance import describe_look
from colorizer.train.finetune import (PHASES, FinetuneCancelled, FinetuneConfig, FinetuneControl, FinetuneProgress,
                                      FinetuneResult, check_photos, finetune)
from colorizer.train.finetune_data import SKIP_REASONS, Screening, holdout_count

from app.cancellable_dialog import CancellableDialog
from app.user_models import ModelLibrary
from app.workers import Runner

ENOUGH_PHOTOS = 20  # below this the dialog says the result may be weak (it still runs)


@dataclass(frozen=True)
class StartModel:
    """A model a fine-tune can start from: its label in the dialog and its weights file."""

    label: str
    path: Path


class _Signals(QObject):
    """Reports from the worker threads (queued into the GUI thread)."""

    checked = Signal(int, int, int)        # generation, photos checked, photos found
    progress = Signal(object)              # FinetuneProgress


def format_eta(seconds: float | None) -> str:
    """"about 2 min left" (None: still estimating)."""
    if seconds is None:
        return "estimating the time left…"
    if seconds < 60:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s left in this step"
    return f"about {seconds / 60:.0f} min left in this step"


def describe_screening(s: Screening, needed: int) -> str:
    """One or two lines: how many photos are usable, what was skipped and whether that is enough."""
    counts = s.skipped_counts
    skipped = ", ".join(f"{counts[r]} {r}" for r in SKIP_REASONS if r in counts)
    text = f"{len(s.usable)} usable colour photos" + (f" ({skipped} skipped)" if skipped else "")
    if len(s.usable) < needed:
        return text + f". At least {needed} are needed."
    if len(s.usable) < ENOUGH_PHOTOS:
        return text + f". It will work, but {ENOUGH_PHOTOS} or more teach it better."
    return text + "."


def describe_result(result: FinetuneResult) -> str:
    """The held-out comparison of a finished fine-tune, for people."""
    start, new = result.start, result.new
    text = (f"On {result.held_out} of your photos it did not learn from: PSNR {start['psnr']:.2f} → "
            f"{new['psnr']:.2f} dB ({result.psnr_gain:+.2f}), colour error {start['ab_rmse']:.1f} → "
            f"{new['ab_rmse']:.1f}. Trained on {result.photos} photos in {result.seconds / 60:.1f} min"
            + (" (finished early)." if result.interrupted else "."))
    look = result.look
    if look and look["cast_removal"] != look["start_cast_removal"]:
        text += f" Your photos keep more of their overall tint, so it is shown with {describe_look(look)}."
    return text


class FinetuneDialog(CancellableDialog):
    """Choose a folder and a name, start, watch, cancel; ``modelCreated(path)`` when a model is stored."""

    modelCreated = Signal(str)

    def __init__(self, runner: Runner, library: ModelLibrary, starts: list[StartModel],
                 config: FinetuneConfig | None = None, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Teach it your colours")
        self.setMinimumWidth(560)
        self.runner, self.library, self.starts = runner, library, starts
        self.config = config or FinetuneConfig()
        self.control: FinetuneControl | None = None
        self.screening: Screening | None = None
        self.result: FinetuneResult | None = None
        self.created: Path | None = None
        self._generation = 0
        self._signals = _Signals()
        self._signals.checked.connect(self._on_checking)
        self._signals.progress.connect(self._on_progress)
        self._build(folder)
        if folder:
            self.check_folder()

    # ----- layout ---------------------------------------------------------------------------------
    def _build(self, folder: str) -> None:
        intro = QLabel("Give it colour photos of the same people, places or kind of subject as your black-and-white "
                       "ones (later prints, a catalogue, your own shots). It learns their colours in a few minutes; "
                       "a tenth of them is kept aside to check that the new model really is better.")
        intro.setWordWrap(True)
        self.folder = QLineEdit(folder)
        self.folder.setObjectName("finetuneFolder")
        self.folder.editingFinished.connect(self.check_folder)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.count = QLabel("Choose a folder of colour photos.")
        self.count.setObjectName("finetuneCount")
        self.count.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setObjectName("finetuneName")
        self.start_from = QComboBox()
        for s in self.starts:
            self.start_from.addItem(s.label, str(s.path))
        form = QFormLayout()
        form.addRow("Photos", row)
        form.addRow("", self.count)
        form.addRow("Name", self.name)
        form.addRow("Start from", self.start_from)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.phase = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("finetuneStatus")
        buttons = QDialogButtonBox()
        self.start = buttons.addButton("Start", QDialogButtonBox.AcceptRole)
        self.start.setEnabled(False)
        self.finish = buttons.addButton("Finish now", QDialogButtonBox.ActionRole)
        self.finish.setToolTip("Stop training and keep the best model so far")
        self.finish.setEnabled(False)
        self.cancel_button = buttons.addButton("Close", QDialogButtonBox.RejectRole)
        self.start.clicked.connect(self.run)
        self.finish.clicked.connect(self.finish_now)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        for w in (self.progress, self.phase, self.status, buttons):
            layout.addWidget(w)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of colour photos", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.check_folder()

    # ----- checking the photos --------------------------------------------------------------------
    @property
    def needed(self) -> int:
        """Usable photos a fine-tune needs at least (held-out ones plus training ones)."""
        c, n = self.config, 1
        while n - holdout_count(n, c.holdout_share, c.min_holdout) < c.min_train:
            n += 1
        return n

    def check_folder(self) -> None:
        """Screen the chosen folder's photos in the background (a newer folder supersedes it)."""
        folder = self.folder.text().strip()
        self._generation += 1
        gen = self._generation
        self.screening = None
        self.start.setEnabled(False)
        if not folder or not Path(folder).is_dir():
            self.count.setText("Choose a folder of colour photos." if not folder else f"{folder}: no such folder.")
            return
        if not self.name.text().strip() or not self.name.isModified():  # a name the user typed stays
            self.name.setText(self.library.unique_name(Path(folder).name or "My colours"))
        self.count.setText("Checking the photos…")
        init = self.start_from.currentData()

        def report(done: int, total: int) -> None:
            if gen != self._generation:
                raise FinetuneCancelled("superseded")
            self._signals.checked.emit(gen, done, total)

        self.runner.submit(check_photos, [folder], init, self.config, report,
                           on_done=lambda s: self._on_checked(gen, s),
                           on_error=lambda e: self._on_check_error(gen, e), label="Checking photos")

    @Slot(int, int, int)
    def _on_checking(self, gen: int, done: int, total: int) -> None:
        if gen == self._generation and self.screening is None:
            self.count.setText(f"Checking the photos… {done} of {total}")

    def _on_checked(self, gen: int, screening: Screening) -> None:
        if gen != self._generation:
            return
        self.screening = screening
        self.count.setText(describe_screening(screening, self.needed))
        self.start.setEnabled(not self._running and len(screening.usable) >= self.needed)

    def _on_check_error(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation and not isinstance(exc, FinetuneCancelled):
            self.count.setText(f"Cannot read the photos: {one_line(exc)}")

    # ----- the fine-tune ----------------------------------------------------------------------------
    def run(self) -> None:
        """Start fine-tuning on the checked folder (in the background)."""
        if self._running or self.screening is None:
            return
        try:
            out = self.library.new_path(self.name.text())
        except (ValueError, OSError) as exc:
            self.status.setText(f"Choose another name: {one_line(exc)}")
            return
        self.control = FinetuneControl()
        self._running = True
        self.result = self.created = None
        for w in (self.start, self.folder, self.name, self.start_from):
            w.setEnabled(False)
        self.finish.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.status.setText("")
        self.progress.setRange(0, 0)
        init, photos, config = self.start_from.currentData(), list(self.screening.usable), replace(self.config)
        self.runner.submit(finetune, photos, out, init, config, self._signals.progress.emit, self.control,
                           on_done=self._on_done, on_error=self._on_error, label="Teaching it your colours")

    @Slot(object)
    def _on_progress(self, p: FinetuneProgress) -> None:
        if not self._running:
            return
        self.progress.setRange(0, max(1, p.total))
        self.progress.setValue(min(p.done, p.total))
        self.phase.setText(f"Step {p.index} of {len(PHASES)}: {p.phase} — {p.done} of {p.total}; "
                           f"{format_eta(p.eta_seconds)}")
        self.finish.setEnabled(p.phase == "training" and self.control is not None and not self.control.cancelled)

    def finish_now(self) -> None:
        """Stop training now and keep the best state so far (it is still checked and stored if better)."""
        if self._running and self.control is not None:
            self.control.finish_now()
            self.finish.setEnabled(False)
            self.status.setText("Finishing: checking the best model so far…")

    def cancel_or_close(self) -> None:
        """Cancel a running fine-tune (nothing is stored), else close the dialog."""
        if self._running and self.control is not None:
            self.control.cancel()
            self.finish.setEnabled(False)
            self.status.setText("Cancelling…")
        elif not self._running:
            self.reject()

    def reject(self) -> None:  # noqa: D401 - Qt override
        if self._running and self.control is not None:
            self.control.cancel()
        super().reject()

    def _ended(self) -> None:
        self._running = False
        self.finish.setEnabled(False)
        for w in (self.folder, self.name, self.start_from):
            w.setEnabled(True)
        self.start.setEnabled(self.screening is not None and len(self.screening.usable) >= self.needed)
        self.cancel_button.setText("Close")
        self.progress.setRange(0, 1)

    def _show_status(self, text: str) -> None:
        """The outcome under the bar (the dialog grows to show it whole)."""
        self.status.setText(text)
        self.adjustSize()

    def _on_done(self, result: FinetuneResult) -> None:
        self._ended()
        self.result = result
        self.progress.setValue(1)
        took = f"{result.seconds:.0f} s" if result.seconds < 60 else f"{result.seconds / 60:.1f} min"
        self.phase.setText(f"Finished in {took}.")
        if result.written is None:
            self._show_status(describe_result(result) + "\n\nNot stored: the new model is not better than the one "
                              "it started from on those photos. More photos, or photos closer to yours, may help.")
            return
        self.created = Path(result.written)
        self._show_status(describe_result(result) + f"\n\nStored as “{self.created.stem}” and now in use: the "
                          "bundled model's colours are on the left, yours on the right (Model ▸ Compare with the "
                          "bundled model side by side). Rename or delete it with Model ▸ Manage my models….")
        self.name.setText(self.library.unique_name(self.created.stem))
        self.modelCreated.emit(str(self.created))

    def _on_error(self, exc: BaseException) -> None:
        self._ended()
        self.progress.setValue(0)
        self.phase.setText("")
        if isinstance(exc, FinetuneCancelled):
            self._show_status("Cancelled; nothing was stored.")
        else:
            self._show_status(f"Could not teach it: {one_line(exc)}")
