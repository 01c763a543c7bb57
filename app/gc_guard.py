"""Run Python's cyclic garbage collector in the GUI thread only.

Automatic collection can start in any thread that allocates, e.g. a worker thread running the
network; if it then frees a Qt object (a closed window or dialog caught in a reference cycle) that
object is destroyed outside the GUI thread and the process can crash. While the guard is active,
automatic collection is off and a timer in the GUI thread collects instead (the pattern used by
pyqtgraph's GarbageCollector).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

_guard: "GarbageCollector | None" = None


class GarbageCollector(QObject):
    """Collects generation 0/1/2 from a GUI-thread timer, following gc's own thresholds."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)

    def start(self) -> None:
        gc.disable()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        if c0 > self.threshold[0]:
            gc.collect(0)
            if c1 > self.threshold[1]:
                gc.collect(1)
                if c2 > self.threshold[2]:
                    gc.collect(2)


def ensure_gui_gc() -> GarbageCollector | None:
    """Start the guard on the running QApplication (idempotent)."""
    global _guard
    app = QCoreApplication.instance()
    if app is None:
        return None
    if _guard is None or _guard.parent() is not app:
        _guard = GarbageCollector(app)
    _guard.start()
    return _guard


def release_gui_gc() -> None:
    """Stop the guard and give automatic collection back (call from the GUI thread, workers idle)."""
    if _guard is not None:
        _guard.stop()
    gc.collect()
