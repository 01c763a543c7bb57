"""One open photo: its loaded pixels, cached prediction, recipe (edit state), undo stack and display images."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtGui import QImage, QUndoCommand, QUndoStack

from colorizer.imageio import LoadedImage
from colorizer.pipeline import Prediction
from colorizer.recipe import Recipe, RenderCache
from colorizer.render_settings import RenderSettings

from app.workers import CancelToken


@dataclass(eq=False)
class Document:
    """Everything the window keeps per open photo (created in the GUI thread).

    ``state`` is the photo's recipe (what the user made of it); ``saved_state`` is the recipe known to be
    on disk (its sidecar's, or the starting recipe when it has none: nothing to write until an edit);
    ``edits_saved`` tells whether a sidecar holds its edits; ``photo_sha256`` identifies the photo's content.
    """

    path: Path
    state: Recipe
    undo: QUndoStack = field(default_factory=QUndoStack)
    loaded: LoadedImage | None = None
    photo_sha256: str | None = None
    saved_state: Recipe | None = None
    edits_saved: bool = False
    prediction: Prediction | None = None
    cache: RenderCache = field(default_factory=RenderCache)
    images: dict[str, QImage] = field(default_factory=dict)
    error: str | None = None
    token: CancelToken | None = None
    render_gen: int = 0
    shown_gen: int = 0
    full_rgb8: np.ndarray | None = None
    full_state: Recipe | None = None
    thumb: QImage | None = None
    samples: list[QImage] = field(default_factory=list)
    sample_seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    histograms: tuple = (None, None)
    sidecar_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def ready(self) -> bool:
        return self.prediction is not None

    @property
    def editable(self) -> bool:
        """Loaded (its sidecar, if any, is in ``state``) and not failed."""
        return self.loaded is not None and self.error is None


class StateCommand(QUndoCommand):
    """An undoable change of a document's recipe (applied through ``apply``)."""

    def __init__(self, doc: Document, old: Recipe, new: Recipe, text: str,
                 apply: Callable[[Document, Recipe], None]) -> None:
        super().__init__(text)
        self.doc, self.old, self.new, self.apply = doc, old, new, apply

    def redo(self) -> None:
        self.apply(self.doc, self.new)

    def undo(self) -> None:
        self.apply(self.doc, self.old)


def follow_undo_history(doc: Document, old: RenderSettings, new: RenderSettings) -> None:
    """Let the recipes in ``doc``'s undo history follow a model switch (``Recipe.for_model``), so undo and
    redo never bring back the previous model's defaults."""
    for i in range(doc.undo.count()):
        command = doc.undo.command(i)
        if isinstance(command, StateCommand):
            command.old, command.new = command.old.for_model(old, new), command.new.for_model(old, new)
