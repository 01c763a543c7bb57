"""Shared pieces of the app tests: settings in a temporary file, a tiny model, small photos, waiting."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from colorizer.pipeline import Colorizer

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


def shown_window(qtbot, factory, store: SettingsStore, tmp_path: Path, **options) -> MainWindow:
    """A main window as the app tests drive it (small previews, 1000x700 on screen, recipes under
    ``tmp_path``; ``options`` go to ``MainWindow``), returned once its colouriser is ready."""
    win = MainWindow(colorizer_factory=factory, store=store, interactive=False, preview_max=800,
                     recipes_dir=tmp_path / "recipes", **options)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitUntil(lambda: win.session.colorizer is not None, timeout=TIMEOUT)
    return win


@pytest.fixture
def window(qtbot, store, factory, tmp_path):
    win = shown_window(qtbot, factory, store, tmp_path)
    yield win
    win.runner.wait(TIMEOUT)


def settle(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: win.is_idle(), timeout=TIMEOUT)


def open_ready(qtbot, win: MainWindow, *paths: Path):
    docs = win.open_files(list(paths))
    qtbot.waitUntil(lambda: win.session.doc is not None and win.session.doc.ready, timeout=TIMEOUT)
    settle(qtbot, win)
    return docs


