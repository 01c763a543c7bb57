"""Energy panel: reference-palette transfer (match strength, quantile option) and region hints."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QFileDialog, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSlider, QVBoxLayout,
                               QWidget)

from app.histogram_widget import HistogramWidget

STRENGTH_SCALE = 10  # slider units per unit of match strength
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp)"


class EnergyPanel(QWidget):
    """Reference photo, histograms, match strength and region hints (brush, colour, list)."""

    referenceChosen = Signal(str)
    referenceCleared = Signal()
    strengthCommitted = Signal(float)
    quantileToggled = Signal(bool)
    brushToggled = Signal(bool)
    brushColorChanged = Signal(QColor)
    brushSizeChanged = Signal(float)
    hintRemoved = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self.brush_color = QColor(70, 140, 210)
        self.start_folder = ""

        # reference -----------------------------------------------------------------------------
        self.ref_group = QGroupBox("Reference palette")
        self.ref_thumb = QLabel("No reference")
        self.ref_thumb.setObjectName("refThumb")
        self.ref_thumb.setAlignment(Qt.AlignCenter)
        self.ref_thumb.setFixedSize(120, 84)
        self.choose = QPushButton("Choose…")
        self.choose.setObjectName("chooseReference")
        self.choose.clicked.connect(self._choose)
        self.clear_ref = QPushButton("Clear")
        self.clear_ref.setObjectName("clearReference")
        self.clear_ref.clicked.connect(self.referenceCleared.emit)
        buttons = QVBoxLayout()
        buttons.addWidget(self.choose)
        buttons.addWidget(self.clear_ref)
        buttons.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.ref_thumb)
        top.addLayout(buttons)
        self.histogram = HistogramWidget()
        self.strength = QSlider(Qt.Horizontal)
        self.strength.setObjectName("matchStrength")
        self.strength.setRange(0, 10 * STRENGTH_SCALE)
        self.strength.setValue(STRENGTH_SCALE)
        self.strength.setToolTip("How strongly the colours are pulled towards the reference palette (lambda)")
        self.strength_value = QLabel("1.0")
        self.strength_value.setObjectName("sliderValue")
        self.strength.valueChanged.connect(self._on_strength)
        self.strength.sliderReleased.connect(self._commit_strength)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Match strength"))
        srow.addStretch(1)
        srow.addWidget(self.strength_value)
        self.quantile = QCheckBox("Quantile matching")
        self.quantile.setObjectName("quantile")
        self.quantile.setToolTip("Simpler alternative: lightness-normalised quantile matching of a*, b* "
                                 "onto the reference (strength above 1 counts as 1)")
        self.quantile.toggled.connect(lambda v: None if self._updating else self.quantileToggled.emit(v))
        ref_layout = QVBoxLayout(self.ref_group)
        ref_layout.addLayout(top)
        ref_layout.addWidget(self.histogram)
        ref_layout.addLayout(srow)
        ref_layout.addWidget(self.strength)
        ref_layout.addWidget(self.quantile)

        # hints ---------------------------------------------------------------------------------
        self.hint_group = QGroupBox("Region hints")
        self.brush = QPushButton("Brush a region  (B)")
        self.brush.setObjectName("brush")
        self.brush.setCheckable(True)
        self.brush.setToolTip("Paint over an area in the view; it will take the chosen colour")
        self.brush.toggled.connect(lambda v: None if self._updating else self.brushToggled.emit(v))
        self.color_button = QPushButton()
        self.color_button.setObjectName("hintColor")
        self.color_button.setToolTip("Colour for the next hint")
        self.color_button.setFixedWidth(44)
        self.color_button.clicked.connect(self._pick_color)
        self.size = QSlider(Qt.Horizontal)
        self.size.setRange(1, 15)
        self.size.setValue(3)
        self.size.setToolTip("Brush size")
        self.size.valueChanged.connect(lambda v: self.brushSizeChanged.emit(v / 100.0))
        brow = QHBoxLayout()
        brow.addWidget(self.brush, 1)
        brow.addWidget(self.color_button)
        srow2 = QHBoxLayout()
        srow2.addWidget(QLabel("Brush size"))
        srow2.addWidget(self.size, 1)
        self.hints = QListWidget()
        self.hints.setObjectName("hintList")
        self.hints.setMaximumHeight(110)
        self.remove = QPushButton("Remove hint")
        self.remove.setObjectName("removeHint")
        self.remove.clicked.connect(self._remove)
        self.remove.setToolTip("Remove the selected hint (Delete)")
        delete = QShortcut(QKeySequence.Delete, self.hints, self._remove)
        delete.setContext(Qt.WidgetShortcut)
        hint_layout = QVBoxLayout(self.hint_group)
        hint_layout.addLayout(brow)
        hint_layout.addLayout(srow2)
        hint_layout.addWidget(self.hints)
        hint_layout.addWidget(self.remove)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.ref_group)
        layout.addWidget(self.hint_group)
        layout.addStretch(1)
        self._show_color()

    # ----- state --------------------------------------------------------------------------------
    def set_reference(self, thumb: QImage | None, name: str = "") -> None:
        if thumb is None:
            self.ref_thumb.setPixmap(QPixmap())
            self.ref_thumb.setText("No reference")
            self.ref_thumb.setToolTip("")
        else:
            self.ref_thumb.setPixmap(QPixmap.fromImage(thumb).scaled(self.ref_thumb.size(), Qt.KeepAspectRatio,
                                                                    Qt.SmoothTransformation))
            self.ref_thumb.setToolTip(name)

    def set_values(self, strength: float, quantile: bool) -> None:
        self._updating = True
        try:
            self.strength.setValue(round(strength * STRENGTH_SCALE))
            self.strength_value.setText(f"{strength:.1f}")
            self.quantile.setChecked(quantile)
        finally:
            self._updating = False

    def set_hints(self, hints) -> None:
        self.hints.clear()
        for i, h in enumerate(hints):
            pm = QPixmap(14, 14)
            pm.fill(QColor(*h.color))
            item = QListWidgetItem(QIcon(pm), f"{h.name} {i + 1}  ·  #{h.color[0]:02x}{h.color[1]:02x}{h.color[2]:02x}")
            self.hints.addItem(item)
        if hints:
            self.hints.setCurrentRow(len(hints) - 1)

    def set_brush_checked(self, on: bool) -> None:
        self._updating = True
        self.brush.setChecked(on)
        self._updating = False

    def set_brush_color(self, color: QColor) -> None:
        self.brush_color = QColor(color)
        self._show_color()
        self.brushColorChanged.emit(self.brush_color)

    # ----- internals ----------------------------------------------------------------------------
    def _show_color(self) -> None:
        self.color_button.setStyleSheet(f"background-color: {self.brush_color.name()}; border: 1px solid #888;")

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a reference colour photo", self.start_folder, IMAGE_FILTER)
        if path:
            self.referenceChosen.emit(path)

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.brush_color, self, "Hint colour")
        if color.isValid():
            self.set_brush_color(color)

    def _on_strength(self, raw: int) -> None:
        self.strength_value.setText(f"{raw / STRENGTH_SCALE:.1f}")
        if not self._updating and not self.strength.isSliderDown():
            self._commit_strength()

    def _commit_strength(self) -> None:
        self.strengthCommitted.emit(self.strength.value() / STRENGTH_SCALE)

    def _remove(self) -> None:
        row = self.hints.currentRow()
        if row >= 0:
            self.hintRemoved.emit(row)
