"""The app's "Teach it your colours" flow (issue 12): pick a folder, see the usable photos, fine-tune in a
worker thread with progress, ETA, cancel and finish now; the new model in the Models menu with its
figures, renamed, deleted, and compared side by side with the bundled model (pytest-qt, offscreen,
tiny random networks, small generated photos)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
import torch

from colorizer.bins import BinScheme
from colorizer.model import ModelConfig, build_model
from colorizer.pipeline import Colorizer
from colorizer.train.finetune import FinetuneConfig
from colorizer.weights import save_weights

from app.finetune_dialog import FinetuneDialog, format_eta
from app.main_window import MainWindow
from app.user_models import ModelLibrary, UserModel, check_name
from app_fixtures import TIMEOUT, _gray, _gui_thread_gc, open_ready, settle, shown_window, store  # noqa: F401
from test_finetune import FAST, LAYERS, RECIPE, add_bad_photos, write_photos

__all__ = ["_gui_thread_gc", "store"]  # fixtures shared with the other app tests (pytest finds them here)
SLOW = {**FAST, "steps": 5000, "check_every": 50}  # long enough to be stopped


@pytest.fixture(scope="module")
def start_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random "bundled" model whose recipe makes fine-tuning fast (small crops, few positions)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=LAYERS, hidden=16), pretrained=False)
    return save_weights(tmp_path_factory.mktemp("bundled") / "bundled.safetensors", model, BinScheme(),
                        training={"recipe": RECIPE})


@pytest.fixture
def win(qtbot, store, start_weights, tmp_path):
    def factory(weights, device):
        return Colorizer.load(weights or start_weights, device="cpu", working_size=64)

    w = shown_window(qtbot, factory, store, tmp_path, models_dir=tmp_path / "models")
    w.models.bundled_path = start_weights
    w.models.finetune_config = FinetuneConfig(**FAST)
    yield w
    dlg = w.models._teach
    if dlg is not None and dlg.control is not None:
        dlg.control.cancel()
    w.runner.wait(TIMEOUT)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 10 warm colour photos and 5 files a fine-tune must skip."""
    folder = tmp_path_factory.mktemp("album") / "Grandma's garden"
    good = write_photos(folder, 10)
    add_bad_photos(folder, good[0])
    return folder


def checked(qtbot, dlg: FinetuneDialog) -> FinetuneDialog:
    qtbot.waitUntil(lambda: dlg.screening is not None, timeout=TIMEOUT)
    return dlg


def teach(qtbot, win: MainWindow, folder: Path, config: FinetuneConfig | None = None) -> FinetuneDialog:
    """Open the dialog on ``folder`` and wait for the photo check."""
    if config is not None:
        win.models.finetune_config = config
    return checked(qtbot, win.models.teach_dialog(str(folder)))


def test_teach_from_a_folder_then_compare_with_the_bundled_model(qtbot, win, photos, tmp_path):
    open_ready(qtbot, win, _gray(tmp_path / "old.png", w=120, h=90))
    menu_texts = [a.text() for a in win.actions.model_menu.actions()]
    assert "&Teach from my colour photos…" in menu_texts and "&Manage my models…" in menu_texts
    assert not win.models.compare.isEnabled()                       # nothing to compare with the bundled model yet

    dlg = teach(qtbot, win, photos)
    assert dlg.count.text().startswith("10 usable colour photos (1 unreadable, 1 duplicate, 1 tiny, 1 transparent, "
                                       "1 near-gray skipped)")
    assert "20 or more" in dlg.count.text() and dlg.start.isEnabled()
    assert dlg.name.text() == "Grandma's garden" and [s.label for s in dlg.starts] == ["The bundled model"]
    seen, shown = [], []
    dlg._signals.progress.connect(seen.append)
    dlg._signals.progress.connect(lambda _p: shown.append(dlg.phase.text()))  # after the dialog's own slot
    dlg.run()
    assert dlg.running and not dlg.start.isEnabled() and dlg.cancel_button.text() == "Cancel"
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT * 4)
    phases = [p.phase for p in seen]
    assert {"checking photos", "caching features", "training", "choosing look", "comparing"} <= set(phases)
    assert any(p.phase == "training" and p.eta_seconds is not None for p in seen)
    assert any(t.startswith("Step 4 of 6: training — ") and "left in this step" in t for t in shown)
    assert dlg.phase.text().startswith("Finished in ") and dlg.progress.value() == dlg.progress.maximum()

    stored = tmp_path / "models" / "Grandma's garden.safetensors"
    assert dlg.created == stored and stored.is_file(), dlg.status.text()
    assert "Stored as “Grandma's garden”" in dlg.status.text() and "PSNR" in dlg.status.text()
    assert dlg.name.text() == "Grandma's garden 2"                 # ready for another one
    # the new model is listed with its figures, used, and shown beside the bundled one
    (entry,) = win.models.user_actions
    assert entry.text().startswith("Grandma's garden  (+") and "dB on its held-out photos" in entry.text()
    assert "fine-tuned from bundled.safetensors" in entry.toolTip() and "on 8 photos" in entry.toolTip()
    qtbot.waitUntil(lambda: win.session.weights == str(stored) and not win.session.model_loading, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: entry.isChecked() and win.models.compare.isChecked(), timeout=TIMEOUT)
    assert win.view.mode == "side" and win.view.comparing
    qtbot.waitUntil(lambda: bool(win.view.left.layers["compare"].images) and win.session.doc.ready, timeout=TIMEOUT)
    assert (win.view.left.caption, win.view.right.caption) == ("Bundled model", "Grandma's garden")
    settle(qtbot, win)
    win.about_model()
    assert "Grandma's garden" in win.message.text()

    # an edit re-renders both panes (the bundled model's prediction is kept, no network run)
    shown = []
    win.models.comparison.shown.connect(shown.append)
    win.adjust.set_value("chroma_gain", 0.0)
    qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT)
    settle(qtbot, win)
    left = win.view.left.layers["compare"].best(0)
    assert left.pixelColor(10, 10).saturation() < 8                 # the bundled pane follows the edit too

    # comparison off: the left pane is the gray original again
    win.models.compare.setChecked(False)
    assert not win.view.comparing and win.view.left.caption == ""
    # back to the bundled model: no comparison possible
    win.actions.bundled.trigger()
    qtbot.waitUntil(lambda: win.session.weights is None and not win.session.model_loading, timeout=TIMEOUT)
    assert not win.models.compare.isEnabled() and not entry.isChecked()
    assert win.models.comparison.set_active(True) is False


def test_a_folder_with_too_few_photos_cannot_start(qtbot, win, tmp_path):
    folder = tmp_path / "few"
    write_photos(folder, 3)
    add_bad_photos(folder, folder / "photo0.png")
    dlg = teach(qtbot, win, folder)
    assert dlg.count.text() == ("3 usable colour photos (1 unreadable, 1 duplicate, 1 tiny, 1 transparent, "
                                "1 near-gray skipped). At least 4 are needed.")
    assert not dlg.start.isEnabled()
    dlg.folder.setText(str(tmp_path / "nowhere"))
    dlg.check_folder()
    assert "no such folder" in dlg.count.text()


def test_cancel_stores_nothing(qtbot, win, photos, tmp_path):
    dlg = teach(qtbot, win, photos, FinetuneConfig(**SLOW))
    seen = []
    dlg._signals.progress.connect(seen.append)
    dlg.run()
    qtbot.waitUntil(lambda: any(p.phase == "training" and p.done > 2 for p in seen), timeout=TIMEOUT)
    assert dlg.finish.isEnabled()
    dlg.cancel_or_close()                                           # Cancel while training
    assert dlg.status.text() == "Cancelling…" and not dlg.finish.isEnabled()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT)
    assert dlg.status.text() == "Cancelled; nothing was stored." and dlg.created is None
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())
    assert win.models.user_actions == [] and dlg.start.isEnabled() and dlg.cancel_button.text() == "Close"


def test_closing_the_window_stops_a_running_fine_tune(qtbot, win, photos, tmp_path):
    dlg = teach(qtbot, win, photos, FinetuneConfig(**SLOW))
    seen = []
    dlg._signals.progress.connect(seen.append)
    dlg.run()
    qtbot.waitUntil(lambda: any(p.phase == "training" for p in seen), timeout=TIMEOUT)
    win.close()                                                     # waits for the worker, which stops at once
    assert dlg.control.cancelled and win.runner.pool.activeThreadCount() == 0
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_finish_now_keeps_the_best_so_far(qtbot, win, photos, tmp_path):
    dlg = teach(qtbot, win, photos, FinetuneConfig(**{**SLOW, "min_gain_db": -100.0}))
    seen = []
    dlg._signals.progress.connect(seen.append)
    dlg.name.setText("early")
    dlg.name.setModified(True)
    dlg.run()
    qtbot.waitUntil(lambda: any(p.phase == "training" and p.done >= 10 for p in seen), timeout=TIMEOUT)
    dlg.finish_now()
    assert not dlg.finish.isEnabled() and "Finishing" in dlg.status.text()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT)
    assert dlg.result.interrupted and dlg.result.steps < 5000 and "(finished early)" in dlg.status.text()
    assert dlg.created == tmp_path / "models" / "early.safetensors" and dlg.created.is_file()


def test_a_model_that_is_not_better_is_not_stored(qtbot, win, photos, tmp_path):
    dlg = teach(qtbot, win, photos, FinetuneConfig(**{**FAST, "lr": 0.0}))
    dlg.run()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT * 2)
    assert dlg.created is None and "Not stored" in dlg.status.text()
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def fine_tuned_file(path: Path, start_weights: Path, gain: float = 0.8) -> Path:
    """A weights file with a fine-tune's provenance (as ``colorizer finetune`` writes it)."""
    from colorizer.weights import load_weights

    loaded = load_weights(start_weights)
    record = {"recipe": RECIPE, "finetune": {
        "base_model": {"file": "bundled.safetensors", "sha256": "ab" * 32}, "photos": 27, "held_out_photos": 3,
        "photos_hash": "0123456789abcdef", "date": "2025-05-01T10:00:00+00:00", "seconds": 200.0,
        "held_out": {"start": {"psnr": 22.0, "ab_rmse": 18.0}, "new": {"psnr": 22.0 + gain, "ab_rmse": 16.5},
                     "gray": {"psnr": 21.0, "ab_rmse": 20.0}}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_weights(path, loaded.model, loaded.scheme, training=record)


def test_manage_my_models_rename_and_delete(qtbot, win, start_weights, tmp_path):
    models = tmp_path / "models"
    mine = fine_tuned_file(models / "Uniforms.safetensors", start_weights)
    fine_tuned_file(models / "Stone.safetensors", start_weights, gain=0.3)
    (models / "broken.safetensors").write_bytes(b"nope")
    win.models.refresh()
    texts = [a.text() for a in win.models.user_actions]
    assert texts == ["broken", "Stone  (+0.30 dB on its held-out photos)", "Uniforms  (+0.80 dB on its held-out photos)"]
    assert not win.models.user_actions[0].isEnabled()
    win.models.user_actions[2].trigger()                            # use "Uniforms"
    qtbot.waitUntil(lambda: win.session.weights == str(mine) and not win.session.model_loading, timeout=TIMEOUT)
    assert win.models.user_actions[2].isChecked() and win.models.compare.isEnabled()

    dlg = win.models.manage_dialog()
    assert [m.name for m in dlg.models()] == ["broken", "Stone", "Uniforms"]
    dlg.list.setCurrentRow(2)
    assert "fine-tuned from bundled.safetensors" in dlg.details.text() and "27 photos" in dlg.details.text()
    assert dlg.rename("Stone") is None and "already exists" in dlg.details.text()
    assert dlg.rename("a/b") is None and "cannot" in dlg.details.text()
    renamed = dlg.rename("Regiment 1914")
    assert renamed.path == models / "Regiment 1914.safetensors" and renamed.path.is_file() and not mine.exists()
    qtbot.waitUntil(lambda: win.session.weights == str(renamed.path) and not win.session.model_loading,
                    timeout=TIMEOUT)                                # the model in use follows its new name
    assert [a.text().split("  ")[0] for a in win.models.user_actions] == ["broken", "Regiment 1914", "Stone"]
    assert win.models.user_actions[1].isChecked()

    dlg.ask_name = lambda m: "Regiment"                             # the dialog's own question, answered
    assert dlg.rename().name == "Regiment"
    qtbot.waitUntil(lambda: not win.session.model_loading, timeout=TIMEOUT)
    dlg.list.setCurrentRow(1)
    dlg.confirm = lambda m: False
    assert dlg.delete() is False and (models / "Regiment.safetensors").exists()
    assert dlg.delete(confirmed=True)                               # the model in use: back to the bundled one
    assert not (models / "Regiment.safetensors").exists()
    qtbot.waitUntil(lambda: win.session.weights is None and not win.session.model_loading, timeout=TIMEOUT)
    assert [m.name for m in dlg.models()] == ["broken", "Stone"]
    assert win.actions.bundled.isChecked() and len(win.models.user_actions) == 2


def test_a_second_model_starts_from_the_one_in_use_if_asked(qtbot, win, start_weights, photos, tmp_path):
    mine = fine_tuned_file(tmp_path / "models" / "First.safetensors", start_weights)
    win.models.refresh()
    win.models.use(str(mine))
    qtbot.waitUntil(lambda: not win.session.model_loading and win.session.weights == str(mine), timeout=TIMEOUT)
    dlg = teach(qtbot, win, photos)
    assert [s.path for s in dlg.starts] == [start_weights, mine]
    dlg.start_from.setCurrentIndex(1)
    dlg.run()
    qtbot.waitUntil(lambda: not dlg.running, timeout=TIMEOUT * 4)
    from colorizer.weights import read_metadata
    if dlg.created is not None:
        assert read_metadata(dlg.created)["training"]["finetune"]["base_model"]["file"] == "First.safetensors"
    else:
        assert "First.safetensors" in dlg.result.start_model


def test_model_names_and_the_library(tmp_path):
    assert check_name("  Grandma's   house ") == "Grandma's house"
    for bad in ("", "   ", ".hidden", "a/b", "a\\b", "what?", "x" * 61):
        with pytest.raises(ValueError):
            check_name(bad)
    lib = ModelLibrary(tmp_path / "models")
    assert lib.models() == [] and lib.unique_name("a/b:c") == "a b c" and lib.unique_name("...") == "My colours"
    path = lib.new_path("Mine")
    assert path == tmp_path / "models" / "Mine.safetensors" and path.parent.is_dir()
    path.write_bytes(b"x")
    assert lib.unique_name("mine") == "mine 2" and lib.exists("MINE")
    with pytest.raises(ValueError, match="already exists"):
        lib.new_path("mine")
    (model,) = lib.models()
    assert model.summary["kind"] == "broken" and model.lines()[0].startswith("cannot be read")
    assert UserModel(path, {"kind": "unknown"}).psnr_gain is None and UserModel(path).menu_text() == "Mine"
    with pytest.raises(ValueError, match="not one of the app's models"):
        lib.delete(UserModel(tmp_path / "elsewhere.safetensors"))
    lib.delete(model)
    assert lib.models() == []


def test_eta_wording():
    assert format_eta(None) == "estimating the time left…"
    assert format_eta(12) == "about 10 s left in this step" and format_eta(1) == "about 5 s left in this step"
    assert format_eta(150) == "about 2 min left in this step"
