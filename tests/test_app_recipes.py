"""The app keeps each photo's edits beside it, copies looks between photos, and batch-exports with both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from colorizer.cli import main as cli_main
from colorizer.sidecars import sidecar_path

from app.imaging import qimage_to_rgb8
from app_fixtures import (TIMEOUT, _colour, _gray, _gui_thread_gc, factory, open_ready, settle, store,  # noqa: F401
                          window)


def edit_photo(qtbot, window, src: Path, ref: Path, gain: float = 2.0):
    """Open ``src`` and give it a slider change, a reference and a brushed hint (three undo steps)."""
    open_ready(qtbot, window, src)
    window.adjust.set_value("chroma_gain", gain)
    settle(qtbot, window)
    window.edits.set_reference(str(ref))
    settle(qtbot, window)
    window.edits.add_brushed_hint([(0.2, 0.3), (0.6, 0.5)], 0.08, (40, 90, 220))
    settle(qtbot, window)
    doc = window.session.doc
    assert doc.undo.count() == 3
    qtbot.waitUntil(lambda: doc.saved_state == doc.state, timeout=TIMEOUT)
    return doc


def test_edits_and_undo_start_come_back_after_close_and_reopen(qtbot, window, tmp_path):
    src = _gray(tmp_path / "a.png")
    before = src.read_bytes()
    doc = edit_photo(qtbot, window, src, _colour(tmp_path / "ref.png"))
    state, picture = doc.state, qimage_to_rgb8(doc.images["result"])
    assert sidecar_path(src).is_file() and not (tmp_path / "recipes").exists()
    window.close_document()
    settle(qtbot, window)
    assert window.session.doc is None
    open_ready(qtbot, window, src)
    again = window.session.doc
    assert again is not doc and again.state == state
    assert again.undo.count() == 0 and not window.actions.undo.isEnabled()  # history starts at the saved edits
    assert window.adjust.sliders["chroma_gain"].value() == 200 and window.energy.hints.count() == 1
    assert not window.energy.ref_thumb.pixmap().isNull()
    np.testing.assert_array_equal(qimage_to_rgb8(again.images["result"]), picture)
    window.edits.reset()
    settle(qtbot, window)
    assert again.state.hints == () and again.state.reference is None
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert again.state == state
    assert src.read_bytes() == before  # the photo itself is never touched


def test_closing_right_after_an_edit_keeps_it(qtbot, window, tmp_path):
    src = _gray(tmp_path / "a.png")
    open_ready(qtbot, window, src)
    for gain in (1.3, 1.9, 2.4):  # edits in quick succession; the last one wins on disk
        window.adjust.set_value("chroma_gain", gain)
    state = window.session.doc.state
    window.close_document()  # no waiting: the latest recipe is written before the photo closes
    settle(qtbot, window)
    open_ready(qtbot, window, src)
    assert window.session.doc.state == state and window.session.doc.state.settings.value("chroma_gain") == 2.4


def test_read_only_folder_and_renamed_photo(qtbot, window, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    src = _gray(folder / "a.png")
    sidecar_path(src).mkdir()  # nothing can be written there, as in a read-only folder
    doc = edit_photo(qtbot, window, src, _colour(tmp_path / "ref.png"))
    state = doc.state
    assert [p.suffix for p in (tmp_path / "recipes").iterdir()] == [".json"]
    window.close_document()
    settle(qtbot, window)
    open_ready(qtbot, window, src)
    assert window.session.doc.state == state
    window.close_document()
    settle(qtbot, window)
    other = _gray(tmp_path / "b.png", seed=9)  # a photo saved beside, then renamed
    doc = edit_photo(qtbot, window, other, _colour(tmp_path / "ref2.png"), gain=1.6)
    state = doc.state
    window.close_document()
    settle(qtbot, window)
    renamed = other.rename(tmp_path / "grandparents-1931.png")
    open_ready(qtbot, window, renamed)
    assert window.session.doc.state == state


def test_copy_look_to_another_photo(qtbot, window, tmp_path):
    a, b = _gray(tmp_path / "a.png", seed=1), _gray(tmp_path / "b.png", seed=2)
    doc_a = edit_photo(qtbot, window, a, _colour(tmp_path / "ref.png"))
    assert not window.actions.paste_look.isEnabled()
    window.actions.copy_look.trigger()
    open_ready(qtbot, window, b)
    doc_b = window.session.doc
    assert window.actions.paste_look.isEnabled()
    window.actions.paste_look.trigger()
    settle(qtbot, window)
    assert doc_b.state.settings == doc_a.state.settings and doc_b.state.reference == doc_a.state.reference
    assert doc_b.state.hints == ()  # hints stay with their photo
    assert window.adjust.sliders["chroma_gain"].value() == 200
    qtbot.waitUntil(lambda: doc_b.saved_state == doc_b.state, timeout=TIMEOUT)
    window.actions.undo.trigger()
    settle(qtbot, window)
    assert doc_b.state.reference is None


def test_batch_export_applies_sidecars_and_the_chosen_look(qtbot, window, tmp_path, tiny_weights):
    folder = tmp_path / "album"
    folder.mkdir()
    edited, plain = _gray(folder / "edited.png", seed=3), _gray(folder / "plain.png", seed=4)
    edit_photo(qtbot, window, edited, _colour(tmp_path / "ref.png"))
    window.adjust.set_value("chroma_gain", 0.0)  # the look to copy: no colour at all
    settle(qtbot, window)
    window.actions.copy_look.trigger()
    window.actions.undo.trigger()  # the edited photo keeps its colourful edits
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.session.doc.saved_state == window.session.doc.state, timeout=TIMEOUT)
    dlg = window.batch_dialog()
    dlg.look.setCurrentText("The copied look")
    dlg.input.setText(str(folder))
    dlg.output.setText(str(tmp_path / "out"))
    dlg.start_batch()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=TIMEOUT)
    assert dlg.report.failures == [] and len(dlg.report.done) == 2
    gray = np.asarray(Image.open(tmp_path / "out" / "plain.png"), int)
    assert np.abs(gray[..., 0] - gray[..., 2]).max() <= 1  # the copied look: colourless
    colour = np.asarray(Image.open(tmp_path / "out" / "edited.png"), int)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 3  # its own edits
    # the command line applies the same sidecar and writes the same picture
    assert cli_main(["colorize", str(edited), "--recipe", str(sidecar_path(edited)), "--weights", str(tiny_weights),
                     "--device", "cpu", "-q", "-o", str(tmp_path / "cli")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "cli" / "edited.png"), int), colour)
    assert plain.exists() and not sidecar_path(plain).exists()


def test_open_sample_photos(qtbot, window):
    docs = window.open_sample_photos()
    assert len(docs) >= 3 and all(d.path.parent.name == "samples" for d in docs)
    qtbot.waitUntil(lambda: window.session.doc.ready, timeout=TIMEOUT)
    assert "Open sample photos" in [a.text().replace("&", "") for a in window.menuBar().actions()[0].menu().actions()]
    settle(qtbot, window)
    window.close()  # photos merely looked at get no sidecar
    assert not any(sidecar_path(d.path).exists() for d in docs)
