"""Energy panel: the reference palette (how much of its match, quantile option) and region hints
(brush, eraser, colour, strength, soft edge, stop at edges, the regions shown or not, the list)."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSlider, QVBoxLayout, QWidget)

from colorizer.energy import Hint

from app.histogram_widget import HistogramWidget
from app.imaging import IMAGE_FILTER

HINT_STRENGTH = (1, 10, 5)        # slider range and default of a hint's strength (the energy's lambda)
HINT_SOFTNESS = (0, 30, 8)        # soft edge in tenths of a prediction-grid pixel (Hint.feather x 10)


def _slider(name: str, lo: int, hi: int, value: int, tip: str) -> QSlider:
    s = QSlider(Qt.Horizontal)
    s.setObjectName(name)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class EnergyPanel(QWidget):
    """Reference photo, histograms, match amount and region hints."""

    referenceChosen = Signal(str)
    referenceCleared = Signal()
    amountPreview = Signal(float)       # the match slider is being dragged: show this amount (0..1)
    amountCommitted = Signal(float)     # ... and released (one undo step)
    quantileToggled = Signal(bool)
    brushToggled = Signal(bool)
    eraserToggled = Signal(bool)
    brushColorChanged = Signal(QColor)
    brushSizeChanged = Signal(float)
    hintRemoved = Signal(int)
    hintEdited = Signal(int, float, float, bool)   # row, strength, feather, follow edges
    overlayToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self.brush_color = QColor(70, 140, 210)
        self.start_folder = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self._reference_group())
        layout.addWidget(self._hint_group())
        layout.addStretch(1)
        self._show_color()

    # ----- construction -------------------------------------------------------------------------
    def _reference_group(self) -> QGroupBox:
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
        self.strength = _slider("matchAmount", 0, 100, 100,
                                "How much of the reference's palette: 0 % leaves the colours as predicted, "
                                "100 % matches the palette fully (double-click: 100 %)")
        self.strength_value = QLabel("100 %")
        self.strength_value.setObjectName("sliderValue")
        self.strength.valueChanged.connect(self._on_amount)
        self.strength.sliderReleased.connect(self._commit_amount)
        self.strength.mouseDoubleClickEvent = lambda _e: self.strength.setValue(100)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Match"))
        srow.addStretch(1)
        srow.addWidget(self.strength_value)
        self.quantile = QCheckBox("Quantile matching")
        self.quantile.setObjectName("quantile")
        self.quantile.setToolTip("Simpler alternative: lightness-normalised quantile matching of a*, b* "
                                 "onto the reference")
        self.quantile.toggled.connect(lambda v: None if self._updating else self.quantileToggled.emit(v))
        box = QVBoxLayout(self.ref_group)
        box.addLayout(top)
        box.addWidget(self.histogram)
        box.addLayout(srow)
        box.addWidget(self.strength)
        box.addWidget(self.quantile)
        return self.ref_group

    def _hint_group(self) -> QGroupBox:
        self.hint_group = QGroupBox("Region hints")
        self.brush = QPushButton("Brush  (B)")
        self.brush.setObjectName("brush")
        self.brush.setCheckable(True)
        self.brush.setToolTip("Paint over an object: it takes the chosen colour, up to its edges")
        self.brush.toggled.connect(lambda v: None if self._updating else self.brushToggled.emit(v))
        self.eraser = QPushButton("Eraser  (E)")
        self.eraser.setObjectName("eraser")
        self.eraser.setCheckable(True)
        self.eraser.setToolTip("Paint where no hint should apply")
        self.eraser.toggled.connect(lambda v: None if self._updating else self.eraserToggled.emit(v))
        self.color_button = QPushButton()
        self.color_button.setObjectName("hintColor")
        self.color_button.setToolTip("Colour for the next hint")
        self.color_button.setFixedWidth(44)
        self.color_button.clicked.connect(self._pick_color)
        self.size = _slider("brushSize", 1, 15, 3, "Brush size")
        self.size.valueChanged.connect(lambda v: self.brushSizeChanged.emit(v / 100.0))
        self.hint_strength = _slider("hintStrength", *HINT_STRENGTH, "How firmly the region takes the colour")
        self.softness = _slider("hintSoftness", *HINT_SOFTNESS, "How soft the hint's border is")
        self.follow_edges = QCheckBox("Stop at edges")
        self.follow_edges.setObjectName("followEdges")
        self.follow_edges.setChecked(True)
        self.follow_edges.setToolTip("Colour the object under the stroke, up to its edges (off: exactly the "
                                     "painted area)")
        for w in (self.hint_strength, self.softness):
            w.valueChanged.connect(self._edited)
            w.sliderReleased.connect(self._edited)
        self.follow_edges.toggled.connect(self._edited)
        self.show_regions = QCheckBox("Show hint regions")
        self.show_regions.setObjectName("showRegions")
        self.show_regions.setChecked(True)
        self.show_regions.setToolTip("Outline the regions the hints colour (H)")
        self.show_regions.toggled.connect(lambda v: None if self._updating else self.overlayToggled.emit(v))
        tools = QHBoxLayout()
        tools.addWidget(self.brush, 1)
        tools.addWidget(self.eraser, 1)
        tools.addWidget(self.color_button)
        grid = QGridLayout()
        for row, (label, widget) in enumerate((("Brush size", self.size), ("Strength", self.hint_strength),
                                                ("Soft edge", self.softness))):
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(widget, row, 1)
        self.hints = QListWidget()
        self.hints.setObjectName("hintList")
        self.hints.setMaximumHeight(110)
        self.hints.currentRowChanged.connect(self._show_selected)
        self.remove = QPushButton("Remove hint")
        self.remove.setObjectName("removeHint")
        self.remove.clicked.connect(self._remove)
        self.remove.setToolTip("Remove the selected hint (Delete)")
        delete = QShortcut(QKeySequence.Delete, self.hints, self._remove)
        delete.setContext(Qt.WidgetShortcut)
        box = QVBoxLayout(self.hint_group)
        box.addLayout(tools)
        box.addLayout(grid)
        box.addWidget(self.follow_edges)
        box.addWidget(self.show_regions)
        box.addWidget(self.hints)
        box.addWidget(self.remove)
        self._hints: Sequence[Hint] = ()
        return self.hint_group

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

    def set_values(self, amount: float, quantile: bool) -> None:
        self._updating = True
        try:
            self.strength.setValue(round(amount * 100))
            self.strength_value.setText(f"{round(amount * 100)} %")
            self.quantile.setChecked(quantile)
        finally:
            self._updating = False

    def values(self) -> tuple[float, str]:
        """The amount and method chosen for the next reference."""
        return self.strength.value() / 100.0, "quantile" if self.quantile.isChecked() else "energy"

    def hint_params(self) -> tuple[float, float, bool]:
        """(strength, feather, follow edges) for the next hint."""
        return float(self.hint_strength.value()), self.softness.value() / 10.0, self.follow_edges.isChecked()

    def set_hints(self, hints: Sequence[Hint]) -> None:
        row = self.hints.currentRow()
        self._hints = tuple(hints)
        self._updating = True
        try:
            self.hints.clear()
            for i, h in enumerate(hints):
                pm = QPixmap(14, 14)
                pm.fill(QColor(*h.color))
                how = "to its edges" if h.follow_edges else "painted area"
                self.hints.addItem(QListWidgetItem(QIcon(pm), f"Hint {i + 1}  ·  {h.hex}  ·  {how}"))
        finally:
            self._updating = False
        if hints:
            self.hints.setCurrentRow(row if 0 <= row < len(hints) else len(hints) - 1)

    def set_tool(self, brush: bool, eraser: bool) -> None:
        self._updating = True
        self.brush.setChecked(brush)
        self.eraser.setChecked(eraser)
        self._updating = False

    def set_brush_checked(self, on: bool) -> None:
        self.set_tool(on, False)

    def set_brush_color(self, color: QColor) -> None:
        self.brush_color = QColor(color)
        self._show_color()
        self.brushColorChanged.emit(self.brush_color)

    # ----- internals ----------------------------------------------------------------------------
    def _show_color(self) -> None:
        self.color_button.setStyleSheet(f"background-color: {self.brush_color.name()}; border: 1px solid #888;")

    def _show_selected(self, row: int) -> None:
        """Show the selected hint's strength, soft edge and edge mode (the controls then edit it)."""
        if not 0 <= row < len(self._hints):
            return
        h = self._hints[row]
        self._updating = True
        try:
            self.hint_strength.setValue(round(h.strength))
            self.softness.setValue(round(h.feather * 10))
            self.follow_edges.setChecked(h.follow_edges)
        finally:
            self._updating = False

    def _edited(self, *_args) -> None:
        row = self.hints.currentRow()
        if not self._updating and 0 <= row < len(self._hints) and not self.hint_strength.isSliderDown() \
                and not self.softness.isSliderDown():
            self.hintEdited.emit(row, *self.hint_params())

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a reference colour photo", self.start_folder, IMAGE_FILTER)
        if path:
            self.referenceChosen.emit(path)

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.brush_color, self, "Hint colour")
        if color.isValid():
            self.set_brush_color(color)

    def _on_amount(self, raw: int) -> None:
        self.strength_value.setText(f"{raw} %")
        if self._updating:
            return
        if self.strength.isSliderDown():
            self.amountPreview.emit(raw / 100.0)
        else:
            self._commit_amount()

    def _commit_amount(self) -> None:
        self.amountCommitted.emit(self.strength.value() / 100.0)

    def _remove(self) -> None:
        row = self.hints.currentRow()
        if row >= 0:
            self.hintRemoved.emit(row)
