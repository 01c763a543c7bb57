"""pytest-qt tests driving the real desktop widgets (offscreen, tiny random model, small images)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent
from PySide6.QtTest import QTest

from colorizer.pipeline import Colorizer, RenderSettings

from app.adjust_panel import SLIDERS
from app.gc_guard import ensure_gui_gc, release_gui_gc
from app.main_window import MainWindow
from app.settings_store import SettingsStore

TIMEOUT = 30000


@pytest.fixture(autouse=True)
def _gui_thread_gc(qapp):
    """Python's cyclic GC runs only in the GUI thread while a test drives Qt (see app.gc_guard)."""
    ensure_gui_gc()
    yield
    release_gui_gc()


# ----- fixtures --------------------------------------------------------------------------------
def _gray(path: Path, w: int = 96, h: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = (127 + 80 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + rng.normal(0, 8, (h, w))).clip(0, 255).astype(np.uint8)
    Image.fromarray(arr, "L").save(path)
    return path


def _colour(path: Path, w: int = 80, h: int = 60) -> Path:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = 200
    arr[: h // 2, :, 2] = 180
    arr[..., 1] = np.linspace(30, 120, w).astype(np.uint8)[None, :]
    Image.fromarray(arr, "RGB").save(path)
    return path


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))


@pytest.fixture
def factory(tiny_weights: Path):
    calls = []

    def make(weights, device):
        calls.append(device)
        return Colorizer.load(weights or tiny_weights, device="cpu", working_size=64)
    make.calls = calls
    return make


@pytest.fixture
def window(qtbot, store, factory):
    win = MainWindow(colorizer_factory=factory, store=store, interactive=False, preview_max=800)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitUntil(lambda: win.colorizer is not None, timeout=TIMEOUT)
    yield win
    win.runner.wait(TIMEOUT)


def settle(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: win.is_idle(), timeout=TIMEOUT)


def open_ready(qtbot, win: MainWindow, *paths: Path):
    docs = win.open_files(list(paths))
    qtbot.waitUntil(lambda: win.doc is not None and win.doc.ready, timeout=TIMEOUT)
    settle(qtbot, win)
    return docs


# ----- opening and colourising -----------------------------------------------------------------
def test_open_colourise_and_views(qtbot, window, tmp_path):
    img = _gray(tmp_path / "a.png")
    open_ready(qtbot, window, img)
    doc = window.doc
    assert doc.loaded.size == (96, 64)
    assert "result" in doc.images and "uncertainty" in doc.images
    assert window.view.main.layers["result"].images
    assert window.act_save.isEnabled() and window.samples.more.isEnabled()
    assert "Device: CPU" in window.device_label.text()
    assert str(img.resolve()) in window.store.recent_files()
    for mode in ("result", "original", "split", "uncertainty", "side"):
        window.set_view_mode(mode)
        window.view.grab()
    assert window.view.stack.currentIndex() == 1
    # zoom and pan are shared by every view (side by side panes included)
    window._zoom(1.0)
    assert window.view.left.scale() == window.view.right.scale() == 1.0
    QTest.mouseDClick(window.view.right, Qt.LeftButton, pos=QPoint(50, 50))
    assert window.view.state.zoom is None
    window.set_view_mode("split")
    v = window.view.main
    centre = v.rect().center()
    qtbot.mousePress(v, Qt.LeftButton, pos=QPoint(int(v.width() * v.split), centre.y()))
    qtbot.mouseMove(v, QPoint(int(v.width() * 0.25), centre.y()))
    qtbot.mouseRelease(v, Qt.LeftButton, pos=QPoint(int(v.width() * 0.25), centre.y()))
    assert abs(v.split - 0.25) < 0.05
    assert window.errors == []


def test_several_photos_filmstrip_and_stale_cancel(qtbot, window, tmp_path):
    a, b = _gray(tmp_path / "a.png", seed=1), _gray(tmp_path / "b.png", seed=2)
    window.open_files([a, b])
    window.activate(window.docs[1])   # supersedes a's pending colourisation
    qtbot.waitUntil(lambda: window.docs[1].ready, timeout=TIMEOUT)
    settle(qtbot, window)
    assert window.doc is window.docs[1]
    assert window.filmstrip.count() == 2 and window.filmstrip.isVisible()
    assert window.docs[0].error is None
    window.filmstrip.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.docs[0].ready, timeout=TIMEOUT)
    settle(qtbot, window)
    assert window.doc is window.docs[0]
    window.close_document()
    assert len(window.docs) == 1


def test_drag_and_drop_opens(qtbot, window, tmp_path):
    img = _gray(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(img))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.doc is not None and window.doc.ready, timeout=TIMEOUT)
    assert window.doc.path == img


def test_unreadable_photo_gives_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    window.open_files([bad])
    qtbot.waitUntil(lambda: window.doc.error is not None, timeout=TIMEOUT)
    assert "broken.jpg" in window.doc.error
    assert window.errors and "Traceback" not in window.errors[-1]
    assert not window.act_save.isEnabled()


def test_broken_weights_message(qtbot, store, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    win = MainWindow(weights=str(bad), store=store, interactive=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.model_loading, timeout=TIMEOUT)
    assert win.colorizer is None
    assert win.errors and "bad.safetensors" in win.errors[-1] and "Traceback" not in win.errors[-1]
    missing = MainWindow(weights=str(tmp_path / "nope.safetensors"), store=store, interactive=False)
    qtbot.addWidget(missing)
    qtbot.waitUntil(lambda: not missing.model_loading, timeout=TIMEOUT)
    assert missing.colorizer is None and "nope.safetensors" in missing.errors[-1]


def test_device_choice(qtbot, window):
    window.set_device("cuda")   # falls back to the CPU here; the label says so
    qtbot.waitUntil(lambda: not window.model_loading, timeout=TIMEOUT)
    assert window.store.device() == "cuda"
    assert "Device:" in window.device_label.text()
    window.set_device("cpu")
    qtbot.waitUntil(lambda: not window.model_loading and window.colorizer is not None, timeout=TIMEOUT)
    assert window.device_label.text() == "Device: CPU"


# ----- adjustments, undo/redo ------------------------------------------------------------------
def test_each_slider_renders_and_undoes(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    doc = window.doc
    before = window.view.main.layers["result"].images["preview"]
    for i, spec in enumerate(SLIDERS):
        target = spec.lo + 0.7 * (spec.hi - spec.lo)
        slider = window.adjust.sliders[spec.field]
        # a drag: press, several steps (live previews), release (one undo step)
        slider.setSliderDown(True)
        for frac in (0.3, 0.5, 0.7):
            slider.setValue(round((spec.lo + frac * (spec.hi - spec.lo)) * spec.scale))
        slider.setSliderDown(False)
        window.adjust._commit()
        settle(qtbot, window)
        assert getattr(doc.state.settings, spec.field) == pytest.approx(target, abs=1.5 / spec.scale)
        assert doc.undo.count() == i + 1
    assert window.view.main.layers["result"].images["preview"] is not before
    assert window.store.render_settings().chroma_gain == pytest.approx(doc.state.settings.chroma_gain)
    changed = doc.state.settings
    window.act_undo.trigger()
    settle(qtbot, window)
    assert doc.state.settings.smoothing == RenderSettings().smoothing
    window.act_redo.trigger()
    settle(qtbot, window)
    assert doc.state.settings == changed
    for _ in range(len(SLIDERS)):
        window.act_undo.trigger()
    settle(qtbot, window)
    assert doc.state.settings == RenderSettings()
    assert window.adjust.settings() == RenderSettings()
    window.adjust.method.setCurrentIndex(2)
    settle(qtbot, window)
    assert doc.state.settings.method == "mode"
    window.reset_adjustments()
    settle(qtbot, window)
    assert doc.state.settings == RenderSettings() and window.errors == []


def test_save_keeps_size(qtbot, window, tmp_path):
    src = _gray(tmp_path / "a.png", w=120, h=90)
    open_ready(qtbot, window, src)
    window.adjust.set_value("chroma_gain", 2.0)
    for ext in ("png", "jpg", "tif"):
        out = tmp_path / f"out.{ext}"
        window.save(out)
        qtbot.waitUntil(lambda o=out: o.exists(), timeout=TIMEOUT)
        settle(qtbot, window)
        with Image.open(out) as im:
            assert im.size == (120, 90) and im.mode.startswith("RGB")
    window.save(src)  # never over the input
    settle(qtbot, window)
    assert any("refusing" in e for e in window.errors)


# ----- samples, reference, hints ---------------------------------------------------------------
def test_samples_gallery_adopt_and_more(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    qtbot.waitUntil(lambda: len(window.samples.buttons) == 6, timeout=TIMEOUT)
    doc = window.doc
    first = list(doc.samples)
    qtbot.mouseClick(window.samples.buttons[2], Qt.LeftButton)
    settle(qtbot, window)
    assert doc.state.sample is not None and doc.state.sample.index == 2
    assert window.samples.buttons[2].isChecked()
    qtbot.mouseClick(window.samples.more, Qt.LeftButton)
    qtbot.waitUntil(lambda: doc.samples is not first and len(doc.samples) == 6, timeout=TIMEOUT)
    window.act_undo.trigger()
    settle(qtbot, window)
    assert doc.state.sample is None and doc.state.settings.hue_bias == 0


def test_reference_strength_quantile(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    ref = _colour(tmp_path / "ref.png")
    doc = window.doc
    window.energy.referenceChosen.emit(str(ref))
    settle(qtbot, window)
    assert doc.state.reference == str(ref)
    assert window.energy.ref_thumb.pixmap() is not None and not window.energy.ref_thumb.pixmap().isNull()
    assert window.energy.histogram.rows["Reference"] is not None
    assert window.energy.histogram.rows["Current"] is not None
    window.energy.strength.setValue(35)
    settle(qtbot, window)
    assert doc.state.match_strength == pytest.approx(3.5)
    window.energy.quantile.setChecked(True)
    settle(qtbot, window)
    assert doc.state.quantile
    assert window.errors == []
    window.act_undo.trigger()
    window.act_undo.trigger()
    settle(qtbot, window)
    assert doc.state.match_strength == pytest.approx(1.0) and not doc.state.quantile
    window.energy.referenceCleared.emit()
    settle(qtbot, window)
    assert doc.state.reference is None
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    window.set_reference(str(bad))
    settle(qtbot, window)
    assert doc.state.reference is None and "bad.png" in window.errors[-1]


def test_brush_hint_add_remove(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    doc = window.doc
    window.set_view_mode("result")
    window.tabs.setCurrentWidget(window.energy)
    window.energy.set_brush_color(QColor(40, 90, 220))
    qtbot.mouseClick(window.energy.brush, Qt.LeftButton)
    assert window.view.main.brush_enabled
    v = window.view.main
    c = v.rect().center()
    qtbot.mousePress(v, Qt.LeftButton, pos=c)
    for dx in (10, 20, 30):
        QTest.mouseMove(v, c + QPoint(dx, 5))
    qtbot.mouseRelease(v, Qt.LeftButton, pos=c + QPoint(30, 5))
    settle(qtbot, window)
    assert len(doc.state.hints) == 1 and doc.state.hints[0].color == (40, 90, 220)
    assert window.energy.hints.count() == 1
    assert "hints" in doc.images
    assert window.errors == []
    window.energy.hints.setCurrentRow(0)
    qtbot.mouseClick(window.energy.remove, Qt.LeftButton)
    settle(qtbot, window)
    assert doc.state.hints == () and window.energy.hints.count() == 0
    window.act_undo.trigger()
    settle(qtbot, window)
    assert len(doc.state.hints) == 1 and window.energy.hints.count() == 1
    window.act_redo.trigger()
    settle(qtbot, window)
    assert window.energy.hints.count() == 0
    # keyboard: B toggles the brush, Delete removes the selected hint
    window.act_brush.trigger()
    assert not window.view.main.brush_enabled
    window.act_brush.trigger()
    assert window.view.main.brush_enabled
    window.act_undo.trigger()
    settle(qtbot, window)
    window.energy.hints.setCurrentRow(0)
    window.energy.hints.setFocus()
    QTest.keyClick(window.energy.hints, Qt.Key_Delete)
    settle(qtbot, window)
    assert doc.state.hints == ()


# ----- batch export ----------------------------------------------------------------------------
def test_batch_export_with_bad_file(qtbot, window, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _gray(src / "one.png", seed=1)
    _gray(src / "two.jpg", seed=2)
    (src / "bad.png").write_bytes(b"not an image")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    dlg = window.batch_dialog()
    dlg.input.setText(str(src))
    dlg.output.setText(str(src))
    dlg.start_batch()
    assert not dlg.running and "must not be the input folder" in dlg.status.text()
    dlg.output.setText(str(out))
    dlg.format.setCurrentIndex(dlg.format.findData("jpg"))
    qtbot.mouseClick(dlg.start, Qt.LeftButton)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=TIMEOUT)
    report = dlg.report
    assert len(report.failures) == 1 and "bad.png" in report.failures[0].error
    assert (out / "one.jpg").exists() and (out / "two.jpg").exists()
    assert dlg.errors.isVisible() or dlg.errors.count() == 1
    assert dlg.errors.count() == 1 and "1 failed" in dlg.status.text()
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
    # skip existing on a second run
    dlg.report = None
    dlg.start_batch()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=TIMEOUT)
    assert sum(r.skipped for r in dlg.report.results) == 2
    dlg.cancel_or_close()


def test_batch_cancel(qtbot, window, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        _gray(src / f"p{i:02d}.png", w=160, h=120, seed=i)
    dlg = window.batch_dialog()
    dlg.input.setText(str(src))
    dlg.output.setText(str(tmp_path / "out"))
    dlg.start_batch()
    assert dlg.running
    qtbot.mouseClick(dlg.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=TIMEOUT)
    assert dlg.report.cancelled and len(dlg.report.results) < 12
    assert "Cancelled" in dlg.status.text()


# ----- command line ----------------------------------------------------------------------------
def test_screenshot_cli(qtbot, tiny_weights, tmp_path, monkeypatch):
    from app import main as app_main

    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "cfg"))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    img = _gray(tmp_path / "a.png")
    out = tmp_path / "shot.png"
    status = app_main.main([str(img), "--weights", str(tiny_weights), "--device", "cpu",
                            "--screenshot", str(out), "--size", "900x600"])
    assert status == 0 and out.exists()
    with Image.open(out) as im:
        assert im.size[0] >= 900
    bad = app_main.main(["--weights", str(tmp_path / "missing.safetensors"), "--screenshot", str(tmp_path / "s2.png")])
    assert bad == 1


def test_batch_uses_current_reference(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    window.set_reference(str(_colour(tmp_path / "ref.png")))
    settle(qtbot, window)
    src = tmp_path / "in"
    src.mkdir()
    _gray(src / "one.png", seed=3)
    dlg = window.batch_dialog()
    assert dlg.use_reference.isChecked() and "ref.png" in dlg.use_reference.text()
    dlg.uncertainty.setChecked(True)
    dlg.input.setText(str(src))
    dlg.output.setText(str(tmp_path / "out"))
    dlg.start_batch()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=TIMEOUT)
    assert dlg.report.failures == []
    assert (tmp_path / "out" / "one.png").exists() and (tmp_path / "out" / "one_uncertainty.png").exists()


def test_settings_recent_and_wheel_zoom(qtbot, window, store, factory, tmp_path):
    img = _gray(tmp_path / "a.png", w=200, h=150)
    open_ready(qtbot, window, img)
    window.adjust.set_value("chroma_gain", 1.8)
    settle(qtbot, window)
    window.set_view_mode("result")
    v = window.view.main
    fit = v.scale()
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent
    ev = QWheelEvent(QPointF(v.width() / 2, v.height() / 2), QPointF(v.mapToGlobal(P(v.width() // 2, v.height() // 2))),
                     P(0, 0), P(0, 240), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    v.wheelEvent(ev)
    assert v.scale() == pytest.approx(fit * 1.25 ** 2)
    # pan by dragging keeps the zoom and moves the centre
    centre = QPoint(v.width() // 2, v.height() // 2)
    before = QPointF(window.view.state.center)
    qtbot.mousePress(v, Qt.LeftButton, pos=centre)
    qtbot.mouseMove(v, centre + QPoint(40, 0))
    qtbot.mouseRelease(v, Qt.LeftButton, pos=centre + QPoint(40, 0))
    assert window.view.state.center.x() < before.x()
    # a second window (next run) remembers the settings, the view mode and the recent file
    win2 = MainWindow(colorizer_factory=factory, store=store, interactive=False)
    qtbot.addWidget(win2)
    qtbot.waitUntil(lambda: win2.colorizer is not None, timeout=TIMEOUT)
    assert win2.view.mode == "result"
    actions = [a for a in win2.recent_menu.actions() if a.toolTip() == str(img.resolve())]
    assert actions
    actions[0].trigger()
    qtbot.waitUntil(lambda: win2.doc is not None and win2.doc.ready, timeout=TIMEOUT)
    assert win2.doc.state.settings.chroma_gain == pytest.approx(1.8)
    assert win2.adjust.sliders["chroma_gain"].value() == 180
    win2.runner.wait(TIMEOUT)


def test_busy_state_never_freezes_and_newer_request_wins(qtbot, store, tiny_weights, tmp_path):
    import time as _time

    class SlowColorizer(Colorizer):
        def predict(self, image):
            _time.sleep(0.8)
            return super().predict(image)

    def make(weights, device):
        c = Colorizer.load(tiny_weights, device="cpu", working_size=64)
        c.__class__ = SlowColorizer
        return c

    win = MainWindow(colorizer_factory=make, store=store, interactive=False, preview_max=800)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.colorizer is not None, timeout=TIMEOUT)
    a, b = _gray(tmp_path / "a.png", seed=4), _gray(tmp_path / "b.png", seed=5)
    ticks: list[float] = []
    from PySide6.QtCore import QTimer
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(_time.perf_counter()))
    timer.start(20)
    win.open_files([a])
    qtbot.waitUntil(lambda: win.view.main.badge == "Colourising…", timeout=TIMEOUT)
    assert win.busy_bar.isVisible()
    doc_a = win.doc
    win.open_files([b])            # newer request: a's pending colourisation is cancelled
    qtbot.waitUntil(lambda: win.doc.ready and win.is_idle(), timeout=TIMEOUT)
    timer.stop()
    assert win.doc.path == b and win.view.main.badge == ""
    assert not doc_a.ready and doc_a.token is None and doc_a.error is None
    assert max(t1 - t0 for t0, t1 in zip(ticks, ticks[1:])) < 0.5   # the GUI kept running
    assert not win.busy_bar.isVisible()
    win.runner.wait(TIMEOUT)
