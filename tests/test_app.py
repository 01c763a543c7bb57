"""pytest-qt tests driving the real desktop widgets (offscreen, tiny random model, small images)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent
from PySide6.QtTest import QTest

from colorizer.pipeline import Colorizer
from colorizer.render_settings import RenderSettings

from app.adjust_panel import SLIDERS
from app.main_window import MainWindow
from app_fixtures import (TIMEOUT, _colour, _gray, _gui_thread_gc, factory, open_ready, settle, store,  # noqa: F401
                          window)


# ----- opening and colourising -----------------------------------------------------------------
def test_open_colourise_and_views(qtbot, window, tmp_path):
    img = _gray(tmp_path / "a.png")
    open_ready(qtbot, window, img)
    doc = window.session.doc
    assert doc.loaded.size == (96, 64)
    assert "result" in doc.images and "uncertainty" in doc.images
    assert window.view.main.layers["result"].images
    assert window.actions.save.isEnabled() and window.samples.more.isEnabled()
    assert "Device: CPU" in window.device_label.text()
    assert str(img.resolve()) in window.store.recent_files()
    for mode in ("result", "original", "split", "uncertainty", "side"):
        window.set_view_mode(mode)
        window.view.grab()
    assert window.view.stack.currentIndex() == 1
    # zoom and pan are shared by every view (side by side panes included)
    window.zoom(1.0)
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
    window.session.activate(window.session.docs[1])   # supersedes a's pending colourisation
    qtbot.waitUntil(lambda: window.session.docs[1].ready, timeout=TIMEOUT)
    settle(qtbot, window)
    assert window.session.doc is window.session.docs[1]
    assert window.filmstrip.count() == 2 and window.filmstrip.isVisible()
    assert window.session.docs[0].error is None
    window.filmstrip.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.session.docs[0].ready, timeout=TIMEOUT)
    settle(qtbot, window)
    assert window.session.doc is window.session.docs[0]
    window.close_document()
    assert len(window.session.docs) == 1


def test_drag_and_drop_opens(qtbot, window, tmp_path):
    img = _gray(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(img))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.doc is not None and window.session.doc.ready, timeout=TIMEOUT)
    assert window.session.doc.path == img


def test_unreadable_photo_gives_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    window.open_files([bad])
    qtbot.waitUntil(lambda: window.session.doc.error is not None, timeout=TIMEOUT)
    assert "broken.jpg" in window.session.doc.error
    assert window.errors and "Traceback" not in window.errors[-1]
    assert not window.actions.save.isEnabled()


def test_broken_weights_message(qtbot, store, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    win = MainWindow(weights=str(bad), store=store, interactive=False, recipes_dir=tmp_path)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.session.model_loading, timeout=TIMEOUT)
    assert win.session.colorizer is None
    assert win.errors and "bad.safetensors" in win.errors[-1] and "Traceback" not in win.errors[-1]
    missing = MainWindow(weights=str(tmp_path / "nope.safetensors"), store=store, interactive=False,
                         recipes_dir=tmp_path)
    qtbot.addWidget(missing)
    qtbot.waitUntil(lambda: not missing.session.model_loading, timeout=TIMEOUT)
    assert missing.session.colorizer is None and "nope.safetensors" in missing.errors[-1]


def test_device_choice(qtbot, window):
    window.session.set_device("cuda")   # falls back to the CPU here; the label says so
    qtbot.waitUntil(lambda: not window.session.model_loading, timeout=TIMEOUT)
    assert window.store.device() == "cuda"
    assert "Device:" in window.device_label.text()
    window.session.set_device("cpu")
    qtbot.waitUntil(lambda: not window.session.model_loading and window.session.colorizer is not None, timeout=TIMEOUT)
    assert window.device_label.text() == "Device: CPU"


# ----- adjustments, undo/redo ------------------------------------------------------------------
def test_each_slider_renders_and_undoes(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    doc = window.session.doc
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
        assert doc.state.settings.value(spec.field) == pytest.approx(target, abs=1.5 / spec.scale)
        assert doc.undo.count() == i + 1
    assert window.view.main.layers["result"].images["preview"] is not before
    assert window.store.value("render/chroma_gain") is None  # a photo's edits stay with the photo
    changed = doc.state.settings
    window.actions.undo.trigger()
    settle(qtbot, window)
    last = SLIDERS[-1].field  # one undo reverts the last slider's change only
    assert doc.state.settings.value(last) == RenderSettings().value(last)
    assert doc.state.settings.value(SLIDERS[-2].field) == changed.value(SLIDERS[-2].field)
    window.actions.redo.trigger()
    settle(qtbot, window)
    assert doc.state.settings == changed
    for _ in range(len(SLIDERS)):
        window.actions.undo.trigger()
    settle(qtbot, window)
    assert doc.state.settings == RenderSettings()
    assert window.adjust.settings() == RenderSettings()
    window.adjust.method.setCurrentIndex(2)
    settle(qtbot, window)
    assert doc.state.settings.value("method") == "mode"
    window.edits.reset()
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
    before = src.read_bytes()
    window.save(src)                                   # an existing file is kept: the picture goes beside it
    qtbot.waitUntil(lambda: (tmp_path / "a (2).png").exists(), timeout=TIMEOUT)
    settle(qtbot, window)
    window.session.save(src, replace=True)             # and even when asked to replace, never over the input
    settle(qtbot, window)
    assert any("refusing" in e for e in window.errors) and src.read_bytes() == before


# ----- samples, reference, hints ---------------------------------------------------------------
def test_samples_gallery_adopt_and_more(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    qtbot.waitUntil(lambda: len(window.samples.buttons) == 6, timeout=TIMEOUT)
    doc = window.session.doc
    first = list(doc.samples)
    qtbot.mouseClick(window.samples.buttons[2], Qt.LeftButton)
    settle(qtbot, window)
    assert doc.state.sample is not None and doc.state.sample.index == 2
    assert window.samples.buttons[2].isChecked()
    qtbot.mouseClick(window.samples.more, Qt.LeftButton)
    qtbot.waitUntil(lambda: doc.samples is not first and len(doc.samples) == 6, timeout=TIMEOUT)
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert doc.state.sample is None and doc.state.settings.hue_bias == 0


def test_reference_strength_quantile(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    ref = _colour(tmp_path / "ref.png")
    doc = window.session.doc
    window.energy.referenceChosen.emit(str(ref))
    settle(qtbot, window)
    assert doc.state.reference.path == str(ref.resolve()) and len(doc.state.reference.sha256) == 64
    assert window.energy.ref_thumb.pixmap() is not None and not window.energy.ref_thumb.pixmap().isNull()
    assert window.energy.histogram.rows["Reference"] is not None
    assert window.energy.histogram.rows["Current"] is not None
    window.energy.strength.setValue(35)
    settle(qtbot, window)
    assert doc.state.reference.amount == pytest.approx(0.35) and doc.state.reference.strength == 1.0
    window.energy.quantile.setChecked(True)
    settle(qtbot, window)
    assert doc.state.reference.method == "quantile"
    assert window.errors == []
    window.actions.undo.trigger()
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert doc.state.reference.amount == pytest.approx(1.0) and doc.state.reference.method == "energy"
    window.energy.referenceCleared.emit()
    settle(qtbot, window)
    assert doc.state.reference is None
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    window.edits.set_reference(str(bad))
    settle(qtbot, window)
    assert doc.state.reference is None and "bad.png" in window.errors[-1]


def test_brush_hint_add_remove(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    doc = window.session.doc
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
    overlay = window.view.main.layers["hints"].images["preview"]
    inside = overlay.pixelColor(overlay.width() // 2 + 1, overlay.height() // 2).alpha()
    assert 0 < inside < 128  # a light tint over the region: the result stays visible
    assert window.errors == []
    window.energy.hints.setCurrentRow(0)
    qtbot.mouseClick(window.energy.remove, Qt.LeftButton)
    settle(qtbot, window)
    assert doc.state.hints == () and window.energy.hints.count() == 0
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert len(doc.state.hints) == 1 and window.energy.hints.count() == 1
    window.actions.redo.trigger()
    settle(qtbot, window)
    assert window.energy.hints.count() == 0
    # keyboard: B toggles the brush, Delete removes the selected hint
    window.actions.brush.trigger()
    assert not window.view.main.brush_enabled
    window.actions.brush.trigger()
    assert window.view.main.brush_enabled
    window.actions.undo.trigger()
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
    window.edits.set_reference(str(_colour(tmp_path / "ref.png")))
    settle(qtbot, window)
    src = tmp_path / "in"
    src.mkdir()
    _gray(src / "one.png", seed=3)
    dlg = window.batch_dialog()
    assert "a.png" in dlg.look.currentText() and "ref.png" in dlg.chosen_look().reference.path
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
    win2 = MainWindow(colorizer_factory=factory, store=store, interactive=False, recipes_dir=tmp_path)
    qtbot.addWidget(win2)
    qtbot.waitUntil(lambda: win2.session.colorizer is not None, timeout=TIMEOUT)
    assert win2.view.mode == "result"
    actions = [a for a in win2.actions.recent.actions() if a.toolTip() == str(img.resolve())]
    assert actions
    actions[0].trigger()
    qtbot.waitUntil(lambda: win2.session.doc is not None and win2.session.doc.ready, timeout=TIMEOUT)
    assert win2.session.doc.state.settings.value("chroma_gain") == pytest.approx(1.8)
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

    win = MainWindow(colorizer_factory=make, store=store, interactive=False, preview_max=800, recipes_dir=tmp_path)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.colorizer is not None, timeout=TIMEOUT)
    a, b = _gray(tmp_path / "a.png", seed=4), _gray(tmp_path / "b.png", seed=5)
    ticks: list[float] = []
    from PySide6.QtCore import QTimer
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(_time.perf_counter()))
    timer.start(20)
    win.open_files([a])
    qtbot.waitUntil(lambda: win.view.main.badge == "Colourising…", timeout=TIMEOUT)
    assert win.busy_bar.isVisible()
    doc_a = win.session.doc
    win.open_files([b])            # newer request: a's pending colourisation is cancelled
    qtbot.waitUntil(lambda: win.session.doc.ready and win.is_idle(), timeout=TIMEOUT)
    timer.stop()
    assert win.session.doc.path == b and win.view.main.badge == ""
    assert not doc_a.ready and doc_a.token is None and doc_a.error is None
    assert max(t1 - t0 for t0, t1 in zip(ticks, ticks[1:])) < 0.5   # the GUI kept running
    assert not win.busy_bar.isVisible()
    win.runner.wait(TIMEOUT)
