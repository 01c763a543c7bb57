"""A model's own look in the app: a fine-tuned model's render defaults (chosen on the user's photos) are what
new photos, Reset and a slider's double-click give; photos left at the old model's defaults follow a model
switch, edited ones keep their edits; the side-by-side shows the bundled model with its own defaults
(pytest-qt, offscreen, tiny random networks)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer.bins import BinScheme
from colorizer.model import ModelConfig, build_model
from colorizer.pipeline import Colorizer
from colorizer.recipe import Recipe, RenderCache
from colorizer.render_settings import RenderSettings
from colorizer.sidecars import sidecar_path
from colorizer.weights import save_weights

from app import jobs
from app.main_window import MainWindow
from app.model_compare import compare_job
from app_fixtures import TIMEOUT, _gray, _gui_thread_gc, open_ready, settle, shown_window, store  # noqa: F401
from test_finetune import LAYERS, RECIPE

__all__ = ["_gui_thread_gc", "store"]
LOOK = RenderSettings().replace(cast_removal=0.0)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a tiny "bundled" model, a model of the same network whose weights carry the look ``LOOK``)."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=LAYERS, hidden=16), pretrained=False)
    bundled = save_weights(folder / "bundled.safetensors", model, BinScheme(), training={"recipe": RECIPE})
    mine = save_weights(folder / "mine.safetensors", model, BinScheme(), training={"recipe": RECIPE},
                        render_defaults={"cast_removal": 0.0})
    return bundled, mine


@pytest.fixture
def win(qtbot, store, models, tmp_path):
    bundled, _ = models

    def factory(weights, device):
        return Colorizer.load(weights or bundled, device="cpu", working_size=64)

    w = shown_window(qtbot, factory, store, tmp_path, models_dir=tmp_path / "models")
    yield w
    w.runner.wait(TIMEOUT)


def use(qtbot, win: MainWindow, weights: Path | None) -> None:
    win.session.set_weights(None if weights is None else str(weights))
    qtbot.waitUntil(lambda: win.session.weights == (None if weights is None else str(weights))
                    and not win.session.model_loading, timeout=TIMEOUT)
    settle(qtbot, win)


def test_photos_follow_the_model_in_uses_look_unless_edited(qtbot, win, models, tmp_path):
    _, mine = models
    untouched, edited = open_ready(qtbot, win, _gray(tmp_path / "a.png"), _gray(tmp_path / "b.png", seed=1))
    win.session.activate(edited)
    qtbot.waitUntil(lambda: edited.ready, timeout=TIMEOUT)
    settle(qtbot, win)
    win.adjust.set_value("chroma_gain", 0.7)
    settle(qtbot, win)
    use(qtbot, win, mine)
    assert untouched.state.settings == LOOK                            # followed the fine-tuned model's look
    assert edited.state.settings == RenderSettings().replace(chroma_gain=0.7)  # an edit stays
    assert not sidecar_path(untouched.path).exists() and sidecar_path(edited.path).is_file()  # no edit: no file
    assert win.session.doc is edited and win.adjust.settings().value("chroma_gain") == 0.7
    win.session.activate(untouched)
    settle(qtbot, win)
    assert win.adjust.settings() == LOOK                                # the panel shows the photo's look

    # new photos start from it; Reset and double-click give it back
    new = open_ready(qtbot, win, _gray(tmp_path / "c.png", seed=2))[0]
    assert new.state.settings == LOOK
    win.adjust.set_value("cast_removal", 0.8)
    settle(qtbot, win)
    assert new.state.settings.cast_removal == 0.8
    win.adjust.reset_field("cast_removal")
    settle(qtbot, win)
    assert new.state.settings == LOOK
    win.adjust.set_value("chroma_gain", 2.0)
    win.edits.reset()
    settle(qtbot, win)
    assert new.state.settings == LOOK

    # back to the bundled model: the photo without saved edits takes the bundled defaults again; one with
    # a sidecar keeps what its sidecar says (reopened later, it renders the same), even at the old look
    use(qtbot, win, None)
    assert untouched.state.settings == RenderSettings()
    assert new.state.settings == LOOK and sidecar_path(new.path).is_file()
    assert edited.state.settings.value("chroma_gain") == 0.7
    assert not sidecar_path(untouched.path).exists()


def test_a_model_switch_never_rewrites_a_sidecar_and_undo_keeps_the_new_look(qtbot, win, models, tmp_path):
    """A photo whose sidecar holds the bundled defaults keeps them (the file is not rewritten); an unsaved
    photo's undo history follows the switch, so undo/redo never bring the old model's defaults back."""
    _, mine = models
    saved, fresh = open_ready(qtbot, win, _gray(tmp_path / "a.png"), _gray(tmp_path / "b.png", seed=1))
    win.session.activate(saved)
    settle(qtbot, win)
    win.adjust.set_value("chroma_gain", 0.7)
    settle(qtbot, win)
    win.edits.reset()                     # back to the defaults, but the sidecar now says so explicitly
    settle(qtbot, win)
    assert saved.edits_saved and saved.state.settings == RenderSettings()
    before = sidecar_path(saved.path).read_bytes()
    from app.document import StateCommand
    old_recipe = fresh.state
    fresh.undo.push(StateCommand(fresh, old_recipe, old_recipe, "nothing", lambda d, r: setattr(d, "state", r)))
    use(qtbot, win, mine)
    assert saved.state.settings == RenderSettings() and sidecar_path(saved.path).read_bytes() == before
    assert fresh.state.settings == LOOK
    fresh.undo.undo()
    assert fresh.state.settings == LOOK
    fresh.undo.redo()
    assert fresh.state.settings == LOOK


def test_the_side_by_side_shows_the_bundled_model_with_its_own_look(models):
    """The comparison's left pane renders a photo at the fine-tuned look with the bundled defaults, and an
    edited photo with its edits."""
    bundled, mine = models
    base = Colorizer.load(bundled, device="cpu", working_size=64)
    loaded = type("Loaded", (), {"lightness": np.random.default_rng(0).random((48, 64)).astype(np.float32)})()
    prediction = base.predict(loaded.lightness)

    def left(state: Recipe) -> np.ndarray:
        return compare_job(None, "cpu", base, loaded, prediction, state, LOOK, RenderCache(), 64)[2]["rgb8"]

    def direct(state: Recipe) -> np.ndarray:
        return jobs.render_job(prediction, state, RenderCache(), 64)["rgb8"]

    assert np.array_equal(left(Recipe(settings=LOOK)), direct(Recipe()))
    edited = Recipe(settings=LOOK.replace(chroma_gain=0.5))
    assert np.array_equal(left(edited), direct(edited))
    assert Colorizer.load(mine, device="cpu").default_settings == LOOK


def test_the_teach_dialog_says_when_a_look_was_chosen():
    from app.finetune_dialog import describe_result
    from colorizer.train.finetune import FinetuneResult

    figures = {"psnr": 20.0, "ab_rmse": 10.0}
    result = FinetuneResult(written=None, refused=None, photos=8, held_out=2, skipped={}, start=figures, new=figures,
                            gray=figures, steps=30, best_step=10, seconds=60.0, interrupted=False, start_model="b")
    assert "neutral balance" not in describe_result(result)
    result.look = {"cast_removal": 0.0, "start_cast_removal": 0.5, "psnr": {}, "photos": 8}
    assert "shown with neutral balance 0 (the start model uses 0.5)" in describe_result(result)
