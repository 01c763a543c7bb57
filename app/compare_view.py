"""The central viewer: one photo view, or two synchronised ones side by side (zoom and pan shared)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QHBoxLayout, QStackedLayout, QWidget

from app.views import MODES, PhotoView, ViewState


class CompareView(QWidget):
    """The central viewer: one PhotoView, or two synchronised ones for the side-by-side mode."""

    modeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewState(self)
        self.main = PhotoView(self.state, "result")
        self.left = PhotoView(self.state, "original")
        self.right = PhotoView(self.state, "result")
        pair = QWidget()
        row = QHBoxLayout(pair)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.left)
        row.addWidget(self.right)
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.main)
        self.stack.addWidget(pair)
        self.mode = "result"

    def views(self) -> list[PhotoView]:
        return [self.main, self.left, self.right]

    def active_view(self) -> PhotoView:
        return self.right if self.mode == "side" else self.main

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self.mode = mode
        if mode == "side":
            self.stack.setCurrentIndex(1)
        else:
            self.main.set_mode(mode)
            self.stack.setCurrentIndex(0)
        self.modeChanged.emit(mode)

    def set_image_size(self, size: QSize) -> None:
        for v in self.views():
            v.set_image_size(size)
        view = self.active_view()
        view.zoomChanged.emit(view.scale())  # at fit, another photo has another scale

    def set_layer(self, name: str, image: QImage | None, level: str = "preview") -> None:
        for v in self.views():
            v.set_layer(name, image, level)

    def clear(self) -> None:
        for v in self.views():
            v.clear()

    def zoom_to(self, zoom: float | None) -> None:
        self.active_view().zoom_to(zoom)

    def set_comparison(self, image: QImage | None, captions: tuple[str, str] | None = None) -> None:
        """Side by side: show ``image`` (another model's result) in the left pane instead of the gray
        original, with ``captions`` (left, right) naming the models; ``captions`` None ends the comparison."""
        self.left.set_layer("compare", image)
        self.left.set_mode("original" if captions is None else "compare")
        self.left.caption, self.right.caption = captions or ("", "")
        self.left.update()
        self.right.update()

    @property
    def comparing(self) -> bool:
        return self.left.mode == "compare"

    def set_badge(self, text: str) -> None:
        for v in self.views():
            v.badge = text
            v.update()

    def set_brush(self, enabled: bool, color: QColor | None = None, radius: float | None = None,
                  erasing: bool | None = None) -> None:
        for v in self.views():
            v.brush_enabled = enabled
            if erasing is not None:
                v.erasing = erasing
            if color is not None:
                v.brush_color = QColor(color)
            if radius is not None:
                v.brush_radius = radius
            v.update()
