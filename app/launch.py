"""A fast first window: shown before torch and the colouriser's modules are imported.

Importing the library (torch above all) takes seconds on a small machine; ``LaunchWindow`` appears at
once with a status message while ``BackgroundImport`` imports the main window's modules in a thread.
When they are in, the real window takes the launch window's place (same position and size).
``StartupTrace`` reports the moments (for ``benchmarks/app_startup.py``) when asked to.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from app.settings_store import SettingsStore

TRACE_ENV = "COLORIZER_STARTUP_T0"  # the launching process's time.time() at launch: report events on stderr


class StartupTrace:
    """Prints ``{"event": name, "seconds": since launch}`` lines on stderr when ``COLORIZER_STARTUP_T0`` is set."""

    def __init__(self, t0: float | None) -> None:
        self.t0 = t0
        self.seen: set[str] = set()

    @classmethod
    def from_env(cls) -> "StartupTrace":
        try:
            return cls(float(os.environ[TRACE_ENV]))
        except (KeyError, ValueError):
            return cls(None)

    def mark(self, event: str) -> None:
        if self.t0 is None or event in self.seen:
            return
        self.seen.add(event)
        print(json.dumps({"event": event, "seconds": round(time.time() - self.t0, 3)}), file=sys.stderr, flush=True)


class LaunchWindow(QMainWindow):
    """The window as it first appears: where the main window will be, saying what is happening."""

    def __init__(self, store: SettingsStore) -> None:
        super().__init__()
        self.setWindowTitle("Colorizer")
        geometry = store.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 880)
        text = QLabel("Starting the colouriser…")
        text.setAlignment(Qt.AlignCenter)
        text.setStyleSheet("color: #96969b; font-size: 15px; background: #1e1e20;")
        self.setCentralWidget(text)
        self.statusBar().showMessage("Loading the colouriser (the first start takes a few seconds)…")


class BackgroundImport(QObject):
    """Imports a module in a thread; ``done`` (in the GUI thread) carries an error text or None."""

    done = Signal(object)

    def __init__(self, module: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.module = module

    def start(self) -> None:
        threading.Thread(target=self._run, name="import", daemon=True).start()

    def _run(self) -> None:
        try:
            importlib.import_module(self.module)
        except Exception as exc:  # noqa: BLE001 - reported in the window, never a traceback
            self.done.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(None)


def when_exposed(window: QWidget, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the window is on screen (its first frame exposed)."""
    handle = window.windowHandle()
    if handle is not None and handle.isExposed():
        callback()
        return
    from PySide6.QtCore import QTimer

    QTimer.singleShot(10, lambda: when_exposed(window, callback))
