"""The app's background machinery: coalescing, cancellation, errors delivered to the GUI thread."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from app.editing import EditState, Hint, render_state
from colorizer.energy import preview_prediction
from app.gc_guard import ensure_gui_gc, release_gui_gc
from app.workers import Cancelled, CancelToken, Runner, error_text


@pytest.fixture(autouse=True)
def _gui_thread_gc(qapp):
    """Python's cyclic GC runs only in the GUI thread while a test drives Qt (see app.gc_guard)."""
    ensure_gui_gc()
    yield
    release_gui_gc()


def test_submit_latest_coalesces_and_runs_callbacks_in_gui_thread(qtbot):
    runner = Runner(max_threads=2)
    gate = threading.Event()
    done: list[int] = []
    threads: list[bool] = []
    main = threading.get_ident()

    def job(i: int) -> int:
        if i == 0:
            gate.wait(5)
        return i

    def on_done(i: int) -> None:
        threads.append(threading.get_ident() == main)
        done.append(i)

    for i in range(5):
        runner.submit_latest("preview", job, i, on_done=on_done, fast=True)
    assert runner.busy
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert done == [0, 4]          # 1..3 were superseded while 0 ran
    assert all(threads)


def test_errors_and_cancel(qtbot):
    runner = Runner()
    errors: list[BaseException] = []

    def boom() -> None:
        raise ValueError("photo.jpg: damaged\nsecond line")

    runner.submit(boom, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert error_text(errors[0]) == "photo.jpg: damaged"
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
    runner.wait()


def test_preview_render_and_hint_mask(tiny_colorizer):
    lum = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (200, 1))
    pred = tiny_colorizer.predict(lum)
    small = preview_prediction(pred, 100, grid_side=None)
    assert small.size == (67, 100) and small.grid_size == pred.grid_size
    t = time.perf_counter()
    result = render_state(tiny_colorizer, pred, EditState(), max_side=100)
    assert result.rgb.shape == (67, 100, 3) and time.perf_counter() - t < 5
    hint = Hint(strokes=(((0.1, 0.5), (0.9, 0.5)),), radius=0.05, color=(200, 40, 40))
    mask = hint.mask((50, 100))
    assert mask[25, 50] and not mask[0, 0] and mask.dtype == bool
