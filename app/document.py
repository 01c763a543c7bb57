"""One open photo: its loaded pixels, cached prediction, edit state, undo stack and display images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QImage, QUndoCommand, QUndoStack

from colorizer.imageio import LoadedImage
from colorizer.pipeline import Prediction

from app.editing import BiasCache, EditState
from app.workers import CancelToken


@dataclass(eq=False)
class Document:
    """Everything the window keeps per open photo (created in the GUI thread)."""

    path: Path
    state: EditState
    undo: QUndoStack = field(default_factory=QUndoStack)
    loaded: LoadedImage | None = None
    prediction: Prediction | None = None
    cache: BiasCache = field(default_factory=BiasCache)
    images: dict[str, QImage] = field(default_factory=dict)
    error: str | None = None
    token: CancelToken | None = None
    render_gen: int = 0
    shown_gen: int = 0
    full_gen: int = 0
    full_rgb8: np.ndarray | None = None
    full_state: EditState | None = None
    thumb: QImage | None = None
    samples: list[QImage] = field(default_factory=list)
    sample_specs: list[Any] = field(default_factory=list)
    sample_seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    histograms: tuple = (None, None)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def ready(self) -> bool:
        return self.prediction is not None

    def size(self) -> tuple[int, int] | None:
        """(width, height) in pixels once loaded."""
        return self.loaded.size if self.loaded is not None else None


class StateCommand(QUndoCommand):
    """An undoable change of a document's EditState (applied through ``apply``)."""

    def __init__(self, doc: Document, old: EditState, new: EditState, text: str, apply) -> None:
        super().__init__(text)
        self.doc, self.old, self.new, self.apply = doc, old, new, apply

    def redo(self) -> None:
        self.apply(self.doc, self.new)

    def undo(self) -> None:
        self.apply(self.doc, self.old)
