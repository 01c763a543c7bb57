"""The app as a photographer uses it (issue 11): edge-aware hints, honest defaults, the match control,
first run, the Models menu, export and the small things (pytest-qt, offscreen, tiny random model)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from colorizer.export import ExportOptions, PlannedExport
from colorizer.recipe import Recipe
from colorizer.render_settings import RenderSettings

from app import jobs
from app.main_window import MainWindow
from app.settings_store import SettingsStore
from app_fixtures import (TIMEOUT, _colour, _gray, _gui_thread_gc, factory, open_ready, settle, store,  # noqa: F401
                          window)


def two_tone(path: Path, w: int = 160, h: int = 120) -> Path:
    """A dark lower half (a lawn) under a light upper half (sky), with a light thin pole."""
    arr = np.full((h, w), 205, np.uint8)
    arr[h // 2:] = 80
    arr[h // 2 - 8: h * 3 // 4, w // 2 - 2: w // 2 + 2] = 200
    Image.fromarray(arr, "L").save(path)
    return path


def drag(qtbot, view, points: list[QPoint], before_release=None) -> None:
    qtbot.mousePress(view, Qt.LeftButton, pos=points[0])
    for p in points[1:]:
        QTest.mouseMove(view, p)
        QTest.qWait(160)  # slower than the live preview's throttle
    if before_release is not None:
        before_release()
    qtbot.mouseRelease(view, Qt.LeftButton, pos=points[-1])


def image_point(view, x: float, y: float) -> QPoint:
    r = view.image_rect()
    return QPoint(int(r.left() + x * r.width()), int(r.top() + y * r.height()))


# ----- 1. edge-aware hints -----------------------------------------------------------------------
def test_hint_stroke_colours_the_object_up_to_its_edge(qtbot, window, tmp_path):
    open_ready(qtbot, window, two_tone(tmp_path / "scene.png"))
    doc = window.session.doc
    window.set_view_mode("result")
    window.energy.set_brush_color(QColor(60, 170, 40))
    window.actions.brush.trigger()
    assert window.hint_tools.tool == "brush" and window.view.main.brush_enabled
    v = window.view.main
    shown: list = []
    window.renderShown.connect(lambda d: shown.append(d.undo.count()))
    drag(qtbot, v, [image_point(v, 0.1, 0.85), image_point(v, 0.25, 0.85), image_point(v, 0.4, 0.85)],
         before_release=lambda: qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT))
    assert shown[0] == 0  # the result was re-rendered while the stroke was still being painted (no edit yet)
    settle(qtbot, window)
    assert len(doc.state.hints) == 1 and doc.state.hints[0].follow_edges
    from colorizer.recipe import hint_region_of
    region = hint_region_of(doc.prediction, doc.state.hints[0], doc.cache)
    h, w = region.shape
    assert region[int(h * 0.8):, int(w * 0.7):].mean() > 0.6     # the whole lawn, well beyond the stroke
    assert region[: int(h * 0.35)].max() < 0.1                    # never the sky
    assert window.view.main.show_hints and window.view.main.layers["hints"].images
    # the overlay can be switched off (H)
    window.actions.show_hints.trigger()
    assert not window.view.main.show_hints
    window.actions.show_hints.trigger()
    # hover: the region a stroke here would colour appears under the brush
    QTest.mouseMove(v, image_point(v, 0.8, 0.2))
    qtbot.waitUntil(lambda: bool(v.layers["hover"].images), timeout=TIMEOUT)
    # strength, soft edge and edge mode of the selected hint: one undo step each
    window.energy.hints.setCurrentRow(0)
    window.energy.hint_strength.setValue(9)
    settle(qtbot, window)
    assert doc.state.hints[0].strength == 9 and doc.undo.count() == 2
    window.energy.follow_edges.setChecked(False)
    settle(qtbot, window)
    assert not doc.state.hints[0].follow_edges
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert doc.state.hints[0].follow_edges
    # the eraser takes painted parts out; erasing all of it removes the hint
    window.actions.eraser.trigger()
    assert window.hint_tools.tool == "eraser" and window.view.main.erasing
    v.brush_radius = 0.15
    drag(qtbot, v, [image_point(v, 0.0, 0.85), image_point(v, 0.25, 0.85), image_point(v, 0.5, 0.85)])
    settle(qtbot, window)
    assert doc.state.hints == () and window.errors == []
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert len(doc.state.hints) == 1


# ----- 2. honest defaults ----------------------------------------------------------------------
def test_new_photos_start_from_the_defaults_or_a_named_look(qtbot, window, store, factory, tmp_path):
    a, b, c = (_gray(tmp_path / f"{n}.png", seed=i) for i, n in enumerate("abc"))
    open_ready(qtbot, window, a)
    window.adjust.set_value("chroma_gain", 1.6)
    window.edits.set_reference(str(_colour(tmp_path / "ref.png")))
    settle(qtbot, window)
    open_ready(qtbot, window, b)
    assert window.session.doc.state == Recipe()                     # nothing leaked from a
    assert "default settings" in window.adjust.start_label.text()
    window.session.activate(window.session.docs[0])
    settle(qtbot, window)
    window.save_default_look("Warm 1.6")
    assert "Warm 1.6" in window.adjust.start_label.text()
    open_ready(qtbot, window, c)
    assert window.session.doc.state.settings.value("chroma_gain") == pytest.approx(1.6)
    assert window.session.doc.state.reference is not None
    # a restart: the named look is still the starting point, said by name; per-photo edits are not settings
    win2 = MainWindow(colorizer_factory=factory, store=store, interactive=False, recipes_dir=tmp_path / "r2")
    qtbot.addWidget(win2)
    assert "Warm 1.6" in win2.adjust.start_label.text()
    win2.clear_default_look()
    assert "default settings" in win2.adjust.start_label.text() and store.default_look() is None
    assert store.value("render/chroma_gain") is None
    win2.runner.wait(TIMEOUT)


def test_screenshot_never_writes_settings(qtbot, tiny_weights, tmp_path, monkeypatch):
    from app import main as app_main

    cfg = tmp_path / "cfg"
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(cfg))
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(cfg))
    real = SettingsStore()
    real.set_value("view/mode", "original")
    real.add_recent(tmp_path / "old.png")
    real.sync()
    files = {p: p.read_bytes() for p in cfg.rglob("*") if p.is_file()}
    assert files
    img = _gray(tmp_path / "a.png")
    status = app_main.main([str(img), "--weights", str(tiny_weights), "--device", "cpu", "--mode", "split",
                            "--screenshot", str(tmp_path / "shot.png"), "--size", "700x500"])
    assert status == 0 and (tmp_path / "shot.png").exists()
    assert {p: p.read_bytes() for p in cfg.rglob("*") if p.is_file()} == files


# ----- 3. the match control --------------------------------------------------------------------
def test_match_amount_previews_while_dragging_and_commits_once(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    doc = window.session.doc
    window.edits.set_reference(str(_colour(tmp_path / "ref.png")))
    settle(qtbot, window)
    steps = doc.undo.count()
    frames: list = []
    window.renderShown.connect(lambda d: frames.append(window.view.main.layers["result"].images["preview"]))
    slider = window.energy.strength
    slider.setSliderDown(True)
    for value in (80, 50, 20, 0):
        slider.setValue(value)
        settle(qtbot, window)
    assert len(frames) >= 2 and doc.undo.count() == steps and doc.state.reference.amount == 1.0
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    settle(qtbot, window)
    assert doc.state.reference.amount == 0.0 and doc.undo.count() == steps + 1
    assert window.energy.strength_value.text() == "0 %"


# ----- 4. first run ----------------------------------------------------------------------------
def test_missing_x11_libraries_are_named_in_one_line():
    from app.platform_check import XCB_LIBRARIES, uses_xcb, xcb_problem

    env = {"DISPLAY": ":0"}
    missing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    line = xcb_problem(env, loads=lambda name: name not in missing)
    assert line is not None and "\n" not in line
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in line
    assert xcb_problem(env, loads=lambda name: True) is None
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, loads=lambda name: False) is None
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux")
    assert len(set(XCB_LIBRARIES.values())) == len(XCB_LIBRARIES)


def test_launch_window_comes_first_and_the_library_loads_in_the_background(qtbot, store):
    from app.launch import BackgroundImport, LaunchWindow, StartupTrace

    launch = LaunchWindow(store)
    qtbot.addWidget(launch)
    launch.show()
    assert "Loading the colouriser" in launch.statusBar().currentMessage()
    results: list = []
    loader = BackgroundImport("colorizer.export", launch)
    loader.done.connect(results.append)
    loader.start()
    qtbot.waitUntil(lambda: bool(results), timeout=TIMEOUT)
    assert results == [None]
    broken = BackgroundImport("colorizer.no_such_module", launch)
    broken.done.connect(results.append)
    broken.start()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=TIMEOUT)
    assert "ModuleNotFoundError" in results[1]
    assert StartupTrace(None).t0 is None


# ----- 5. the Models menu ----------------------------------------------------------------------
def test_a_bad_weights_file_keeps_the_current_model(qtbot, window, tmp_path, tiny_weights):
    open_ready(qtbot, window, _gray(tmp_path / "a.png"))
    working = window.session.colorizer
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not weights")
    window.session.set_weights(str(bad))
    qtbot.waitUntil(lambda: not window.session.model_loading, timeout=TIMEOUT)
    assert window.session.colorizer is working and window.session.doc.ready
    assert "broken.safetensors" in window.errors[-1] and "stays" in window.errors[-1]
    assert window.store.weights() is None
    window.session.set_weights(str(tiny_weights))                  # open a weights file: its provenance shown
    qtbot.waitUntil(lambda: not window.session.model_loading and window.session.doc.ready, timeout=TIMEOUT)
    assert window.session.colorizer is not working and window.store.weights() == str(tiny_weights)
    assert "tiny.safetensors" in window.model_label.text() and "provenance" in window.model_label.toolTip()
    assert not window.actions.bundled.isChecked()
    window.about_model()
    assert "tiny.safetensors" in window.message.text()


# ----- 6. export ---------------------------------------------------------------------------------
def test_export_every_open_photo_with_its_own_edits(qtbot, window, tmp_path):
    a, b = _gray(tmp_path / "a.png", w=120, h=90, seed=1), _gray(tmp_path / "b.png", seed=2)
    open_ready(qtbot, window, a, b)
    window.session.activate(window.session.docs[0])
    settle(qtbot, window)
    window.adjust.set_value("chroma_gain", 0.0)                    # a: gray; b: untouched
    settle(qtbot, window)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_colour.jpg").write_bytes(b"someone's file")
    dlg = window.export_dialog()
    answers: list[str] = []
    dlg.ask = lambda q: answers.append(q) or "keep"
    dlg.folder.setText(str(out))
    dlg.template.setText("{stem}_{x}")
    assert not dlg.start.isEnabled() and "unknown field" in dlg.example.text()
    dlg.template.setText("{stem}_colour")
    dlg.options_widget.format.setCurrentIndex(dlg.options_widget.format.findData("jpg"))
    dlg.options_widget.quality.setValue(80)
    dlg.options_widget.resize_box.setChecked(True)
    dlg.options_widget.long_edge.setValue(60)
    assert dlg.all_photos.isChecked()
    dlg.start_export()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT)
    assert answers and "a_colour.jpg" in answers[0]
    assert (out / "a_colour.jpg").read_bytes() == b"someone's file"  # kept: the new one is numbered
    assert sorted(p.name for p in dlg.written) == ["a_colour (2).jpg", "b_colour.jpg"]
    with Image.open(out / "a_colour (2).jpg") as im:
        assert max(im.size) == 60 and im.format == "JPEG"
        rgb = np.asarray(im.convert("RGB"), np.int16)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() <= 6              # a's own edit (gray) was applied
    assert window.store.value("export/format") == "jpg"


def test_save_has_options_and_asks_before_replacing(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png", w=200, h=100))
    target = tmp_path / "a_colour.jpg"
    target.write_bytes(b"keep me")
    dlg = window.save_dialog()
    dlg.path.setText(str(target))
    dlg.options_widget.format.setCurrentIndex(dlg.options_widget.format.findData("jpg"))
    dlg.options_widget.resize_box.setChecked(True)
    dlg.options_widget.long_edge.setValue(100)
    dlg.ask = lambda q: "cancel"
    dlg.accept()
    assert dlg.target is None and target.read_bytes() == b"keep me"
    dlg.ask = lambda q: "replace"
    dlg.accept()
    qtbot.waitUntil(lambda: target.read_bytes() != b"keep me", timeout=TIMEOUT)
    settle(qtbot, window)
    with Image.open(target) as im:
        assert im.size == (100, 50) and im.format == "JPEG"
    late = tmp_path / "late.jpg"                                   # chosen while free, taken before the write:
    dlg = window.save_dialog()
    dlg.path.setText(str(late))
    dlg.ask = lambda q: "replace"
    dlg.accepted.disconnect()
    dlg.accept()
    assert dlg.target == late and not dlg.replace
    late.write_bytes(b"appeared meanwhile")
    window._save_chosen(dlg)
    qtbot.waitUntil(lambda: (tmp_path / "late (2).jpg").is_file(), timeout=TIMEOUT)
    settle(qtbot, window)
    assert late.read_bytes() == b"appeared meanwhile"               # kept: checked again at the rename


def test_export_replaces_only_what_the_user_chose_to_replace(qtbot, window, tmp_path):
    a = _gray(tmp_path / "a.png", seed=3)
    open_ready(qtbot, window, a)
    items = window.session.export_items(every=False) * 2
    out = tmp_path / "out"
    out.mkdir()
    late, chosen = out / "late.png", out / "chosen.png"
    late.write_bytes(b"appeared after the plan")
    chosen.write_bytes(b"replace me")
    planned = [PlannedExport(a, late, exists=False), PlannedExport(a, chosen, exists=True, replace=True)]
    written, errors, cancelled = jobs.export_job(window.session.colorizer, items, planned, ExportOptions(),
                                                 lambda: False, lambda *args: None)
    assert not errors and not cancelled and written == [out / "late (2).png", chosen]
    assert late.read_bytes() == b"appeared after the plan" and chosen.read_bytes() != b"replace me"
    same = [PlannedExport(a, out / "x.png", exists=False), PlannedExport(a, out / "x (2).png", exists=False)]
    (out / "x.png").write_bytes(b"appeared after the plan")        # two photos of one stem, the first name taken
    written, errors, _ = jobs.export_job(window.session.colorizer, items, same, ExportOptions(),
                                         lambda: False, lambda *args: None)
    assert not errors and written == [out / "x (3).png", out / "x (2).png"]  # never the other picture's name


def test_export_keeps_a_file_that_appears_after_the_plan_and_says_so(qtbot, window, tmp_path):
    open_ready(qtbot, window, _gray(tmp_path / "a.png", seed=4))
    out = tmp_path / "out"
    out.mkdir()
    dlg = window.export_dialog()
    dlg.folder.setText(str(out))
    plan = dlg.plan

    def plan_then_race(items, options):                            # another program writes the planned name
        planned = plan(items, options)
        for p in planned:
            p.target.write_bytes(b"appeared meanwhile")
        return planned
    dlg.plan = plan_then_race
    dlg.start_export()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT)
    (taken,) = [p for p in out.iterdir() if p.read_bytes() == b"appeared meanwhile"]
    assert [p.name for p in dlg.written] == [f"{taken.stem} (2){taken.suffix}"]
    assert "numbered name" in dlg.status.text() and dlg.written[0].name in dlg.status.text()


# ----- 7. the small ones -----------------------------------------------------------------------
def test_zoom_label_sliders_and_filmstrip(qtbot, window, tmp_path):
    a, b = _gray(tmp_path / "a.png", w=400, h=300, seed=1), _gray(tmp_path / "b.png", w=80, h=60, seed=2)
    open_ready(qtbot, window, a, b)
    window.zoom(None)
    fit_a = window.view.active_view().scale()
    assert window.session.doc.path == a and window.zoom_label.text() == f"Fit ({fit_a * 100:.0f} %)"
    window.filmstrip.setCurrentRow(1)
    qtbot.waitUntil(lambda: window.session.doc.ready, timeout=TIMEOUT)
    settle(qtbot, window)
    fit_b = window.view.active_view().scale()
    assert fit_a != fit_b and window.zoom_label.text() == f"Fit ({fit_b * 100:.0f} %)"
    window.filmstrip.setCurrentRow(0)
    settle(qtbot, window)
    # sliders: a typed value, and double-click back to the default
    doc = window.session.doc
    box = window.adjust.values["chroma_gain"]
    box.setValue(1.37)
    settle(qtbot, window)
    assert doc.state.settings.value("chroma_gain") == pytest.approx(1.37)
    assert window.adjust.sliders["chroma_gain"].value() == 137
    window.adjust.values["hue_direction"].setValue(90)
    settle(qtbot, window)
    assert doc.state.settings.hue_direction == pytest.approx(0.25)
    slider = window.adjust.sliders["chroma_gain"]
    QTest.mouseDClick(slider, Qt.LeftButton, pos=slider.rect().center())
    settle(qtbot, window)
    default = RenderSettings().value("chroma_gain")
    assert doc.state.settings.value("chroma_gain") == default and box.value() == pytest.approx(default)
    # the selected filmstrip thumbnail keeps its own (gray) colours
    item = window.filmstrip.item(0)
    assert item.isSelected()
    from PySide6.QtGui import QIcon
    pm = item.icon().pixmap(64, 64, QIcon.Selected)
    img = pm.toImage()
    c = img.pixelColor(img.width() // 2, img.height() // 2)
    assert abs(c.red() - c.blue()) <= 8 and abs(c.green() - c.blue()) <= 8
