"""Samples gallery: thumbnails of alternative colourisations; click one to adopt it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

THUMB = 112


class SamplesPanel(QWidget):
    """A grid of N sample thumbnails with "More" (new draw) and a count."""

    adopted = Signal(int)
    moreRequested = Signal()
    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: list[QToolButton] = []
        self.info = QLabel("Alternative colourisations appear here once a photo is colourised.")
        self.info.setWordWrap(True)
        self.info.setObjectName("hint")
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self.more = QPushButton("More samples")
        self.more.setObjectName("more")
        self.more.setToolTip("Draw a new set of alternatives")
        self.more.clicked.connect(self.moreRequested.emit)
        self.count = QSpinBox()
        self.count.setRange(2, 12)
        self.count.setValue(6)
        self.count.setPrefix("N = ")
        self.count.valueChanged.connect(self.countChanged.emit)
        row = QHBoxLayout()
        row.addWidget(self.more, 1)
        row.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.info)
        layout.addLayout(self.grid)
        layout.addLayout(row)
        layout.addStretch(1)
        self.set_available(False)

    def set_available(self, available: bool, message: str = "") -> None:
        self.more.setEnabled(available)
        if message:
            self.info.setText(message)

    def clear(self) -> None:
        for b in self.buttons:
            b.deleteLater()
        self.buttons = []

    def set_thumbnails(self, images: list[QImage], selected: int | None = None) -> None:
        """Show one button per sample thumbnail (clicking adopts that sample)."""
        self.clear()
        for i, img in enumerate(images):
            b = QToolButton()
            b.setObjectName(f"sample_{i}")
            b.setCheckable(True)
            b.setChecked(i == selected)
            b.setIcon(QIcon(QPixmap.fromImage(img)))
            b.setIconSize(QSize(THUMB, THUMB))
            b.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
            b.setText(f"Sample {i + 1}")
            b.setToolTip("Click to adopt this colourisation (undoable)")
            b.clicked.connect(lambda _=False, k=i: self._adopt(k))
            self.grid.addWidget(b, i // 2, i % 2)
            self.buttons.append(b)
        self.info.setText("Click a sample to adopt it. Uncertain regions change between samples; confident ones stay.")

    def _adopt(self, index: int) -> None:
        for i, b in enumerate(self.buttons):
            b.setChecked(i == index)
        self.adopted.emit(index)
