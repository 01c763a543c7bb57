"""Background work: QRunnable tasks on a thread pool, with results delivered to the GUI thread.

``Runner.submit`` runs a plain function in the pool and calls ``on_done(result)`` or
``on_error(exc)`` in the GUI thread. ``Runner.submit_latest`` coalesces requests on a named
channel: while one runs, only the newest waiting request is kept (slider drags never pile up).
Stale results are discarded by the caller's generation counters.
"""

from __future__ import annotations

import threading
from collections import deque
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot


class Cancelled(Exception):
    """Raised inside a task whose cancel token was set."""


class CancelToken:
    """A flag a task polls between steps; setting it makes the task stop early."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, object)


class Task(QRunnable):
    """Runs ``fn(*args, **kwargs)`` in a pool thread and reports back through Qt signals."""

    _next_id = 0

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        Task._next_id += 1
        self.tid = Task._next_id
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Signals()

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI thread
            exc.__dict__.setdefault("app_traceback", traceback.format_exc())
            self.signals.failed.emit(self.tid, exc)
        else:
            self.signals.done.emit(self.tid, result)


class Runner(QObject):
    """Owns a thread pool and tracks what is running (for the busy indicator).

    Results arrive through queued connections to this object's slots, so every callback runs in
    the GUI thread.
    """

    busyChanged = Signal(bool, str)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        # interactive previews get their own thread, so a running prediction or full-size render
        # never makes a slider wait for a free worker
        self.fast_pool = QThreadPool(self)
        self.fast_pool.setMaxThreadCount(1)
        self._tasks: dict[int, tuple[Task, str, Callable | None, Callable | None]] = {}
        self._channels: dict[str, int] = {}
        self._pending: dict[str, tuple] = {}
        # Finished tasks stay referenced a while: the pool thread may still be returning from run()
        # when the GUI thread handles the result, and must not find its runnable/signals deleted.
        self._finished: deque[Task] = deque(maxlen=64)

    # ----- state --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self._tasks) or bool(self._pending)

    def labels(self) -> list[str]:
        return [entry[1] for entry in self._tasks.values() if entry[1]]

    def _emit_busy(self) -> None:
        labels = self.labels()
        self.busyChanged.emit(self.busy, labels[-1] if labels else "")

    # ----- submission ---------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, label: str = "",
               priority: int = 0, fast: bool = False, **kwargs: Any) -> Task:
        """Run ``fn`` in the pool (``fast``: the interactive one); callbacks run in the GUI thread."""
        task = Task(fn, *args, **kwargs)
        self._tasks[task.tid] = (task, label, on_done, on_error)
        task.signals.done.connect(self._on_done, Qt.QueuedConnection)
        task.signals.failed.connect(self._on_failed, Qt.QueuedConnection)
        (self.fast_pool if fast else self.pool).start(task, priority)
        self._emit_busy()
        return task

    @Slot(int, object)
    def _on_done(self, tid: int, result: Any) -> None:
        self._finish(tid, result, True)

    @Slot(int, object)
    def _on_failed(self, tid: int, exc: Any) -> None:
        self._finish(tid, exc, False)

    def _finish(self, tid: int, value: Any, ok: bool) -> None:
        entry = self._tasks.pop(tid, None)
        if entry is None:
            return
        task, _, on_done, on_error = entry
        self._finished.append(task)
        try:
            if ok and on_done is not None:
                on_done(value)
            elif not ok and on_error is not None:
                on_error(value)
        finally:
            self._emit_busy()

    def submit_latest(self, channel: str, fn: Callable[..., Any], *args: Any,
                      on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None, label: str = "",
                      fast: bool = False, **kwargs: Any) -> None:
        """Like ``submit``, but at most one task per channel runs and only the newest one waits."""
        request = (fn, args, kwargs, on_done, on_error, label, fast)
        if channel in self._channels:
            self._pending[channel] = request
            return
        self._start_channel(channel, request)

    def _start_channel(self, channel: str, request: tuple) -> None:
        fn, args, kwargs, on_done, on_error, label, fast = request

        def after(callback: Callable | None, value: Any) -> None:
            self._channels.pop(channel, None)
            nxt = self._pending.pop(channel, None)
            if nxt is not None:
                self._start_channel(channel, nxt)
            if callback is not None:
                callback(value)

        task = self.submit(fn, *args, on_done=lambda r: after(on_done, r),
                           on_error=lambda e: after(on_error, e), label=label, priority=1, fast=fast, **kwargs)
        self._channels[channel] = task.tid

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (used on exit)."""
        self._pending.clear()
        ok = self.pool.waitForDone(msecs)
        return self.fast_pool.waitForDone(msecs) and ok


