"""A dialog that runs one background job at a time and can cancel it (batch export, export)."""

from __future__ import annotations

import threading
from typing import TypeVar

from PySide6.QtWidgets import QDialog, QLabel, QWidget


def reuse_running(old: D | None) -> D | None:
    """One job dialog of a kind at a time: ``old`` shown again while it runs; a finished one is released
    (in the GUI thread) and None returned, so the caller builds a fresh dialog."""
    if old is not None and old.running:
        old.show()
        old.raise_()
        return old
    if old is not None:
        old.deleteLater()
    return None


class CancellableDialog(QDialog):
    """While ``_running``, Cancel (or Esc, or closing) asks the job to stop after the current photo;
    otherwise it closes. Subclasses set ``status`` (a QLabel) and poll ``_cancel`` in their job."""

    status: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def cancel_or_close(self) -> None:
        """Cancel a running job (after the current photo), else close the dialog."""
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


D = TypeVar("D", bound=CancellableDialog)
