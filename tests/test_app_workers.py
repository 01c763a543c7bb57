"""The app's background machinery: coalescing, cancellation, errors delivered to the GUI thread."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from colorizer.energy import Hint
from colorizer.messages import one_line
from colorizer.pipeline import preview_prediction
from colorizer.recipe import Recipe, RenderCache

from app.edits import brushed_mask
from app.gc_guard import ensure_gui_gc, release_gui_gc
from app.workers import Cancelled, CancelToken, Runner


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
    assert one_line(errors[0]) == "photo.jpg: damaged"
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
    runner.wait()


def test_preview_render_and_brushed_hint(tiny_colorizer):
    from app.imaging import region_overlay
    from app.jobs import render_job

    lum = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (200, 1))
    pred = tiny_colorizer.predict(lum)
    small = preview_prediction(pred, 100, grid_side=None)
    assert small.size == (67, 100) and small.grid_size == pred.grid_size
    mask = brushed_mask([[(0.1, 0.5), (0.9, 0.5)]], 0.05, (50, 100))
    assert mask.dtype == np.uint8 and mask[25, 50] == 255 and mask[0, 0] == 0
    hint = Hint(mask=mask, color=(200, 40, 40))
    t = time.perf_counter()
    result = render_job(pred, Recipe(hints=(hint,)), RenderCache(), 100)
    assert (result["rgb"].width(), result["rgb"].height()) == (100, 67) and time.perf_counter() - t < 5
    assert result["cur_hist"] is not None and result["cur_hist"].sum() == pytest.approx(1.0, abs=1e-5)
    overlay = region_overlay([(hint.mask / 255.0, hint.color)], (300, 200), max_side=150)
    assert (overlay.width(), overlay.height()) == (150, 100)
    assert overlay.pixelColor(75, 50).red() == 200 and overlay.pixelColor(75, 5).alpha() == 0
    assert overlay.pixelColor(75, 50).alpha() < 128                                   # a light tint inside
    assert max(overlay.pixelColor(75, y).alpha() for y in range(30, 50)) == 255        # an opaque outline
