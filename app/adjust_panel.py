"""The adjust panel: sliders over ``RenderSettings`` with live previews and undoable commits.

While a slider is dragged the panel emits ``previewRequested(settings)`` for every step; when the
drag ends (or after a short pause for keyboard/wheel changes) it emits
``committed(old_settings, new_settings)`` once, which the window turns into one undo step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QPushButton, QSlider, QVBoxLayout,
                               QWidget)

from colorizer.render_settings import RenderSettings

METHODS = {"median": "Median (balanced)", "mean": "Mean (softer)", "mode": "Mode (bold)"}


@dataclass(frozen=True)
class SliderSpec:
    """How one RenderSettings field maps onto an integer slider."""

    field: str
    label: str
    lo: float
    hi: float
    scale: float           # slider units per settings unit
    suffix: str
    tip: str

    @property
    def shown(self) -> float:
        """Shown units per settings unit (degrees for the hue direction)."""
        return 360.0 if self.field == "hue_direction" else 1.0

    @property
    def decimals(self) -> int:
        return max(0, round(math.log10(self.scale / self.shown)))


class ResettableSlider(QSlider):
    """A slider that goes back to its default on double-click."""

    def __init__(self, reset, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Horizontal, parent)
        self._reset = reset

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._reset()
        event.accept()


SLIDERS: tuple[SliderSpec, ...] = (
    SliderSpec("chroma_gain", "Colour strength", 0.0, 3.0, 100, "×",
               "Multiplies the predicted chroma (0 = gray, 1 = as predicted)."),
    SliderSpec("temperature", "Vividness (temperature)", 0.1, 1.5, 100, "",
               "Annealed decoding: lower temperature picks bolder, more saturated colours."),
    SliderSpec("fading_eta", "Chromatic fading", 0.0, 0.06, 1000, "",
               "Fades colour where the hue is uncertain (removes rainbow speckles)."),
    SliderSpec("hue_direction", "Hue direction", 0.0, 1.0, 360, "°",
               "Which hue the resampling bias pushes uncertain pixels towards."),
    SliderSpec("hue_bias", "Hue strength", 0.0, 5.0, 100, "",
               "Strength of the hue resampling bias (0 = off)."),
    SliderSpec("chroma_push", "Chroma push", -3.0, 3.0, 100, "",
               "Biases every pixel towards more (+) or less (−) colourful bins."),
    SliderSpec("smoothing", "Smoothing", 0.0, 4.0, 10, "",
               "Spatial smoothing of the predicted colour histograms."),
    SliderSpec("region_pooling", "One object, one colour", 0.0, 1.0, 100, "",
               "How far unsure pixels follow the colour of the region they belong to (0 = each pixel alone)."),
    SliderSpec("cast_removal", "Neutral balance", 0.0, 1.0, 100, "",
               "Takes this share of the picture's overall tint away, so gray walls, backdrops and paper stay "
               "neutral (0 = the model's colours as they are)."),
)


class AdjustPanel(QWidget):
    """Sliders for every render setting; emits previews while dragging and one commit per change."""

    previewRequested = Signal(object)
    committed = Signal(object, object)
    resetRequested = Signal()

    def __init__(self, defaults: Callable[[], RenderSettings] = RenderSettings, parent: QWidget | None = None) -> None:
        """``defaults``: what a double-click resets a slider to (the model in use's own settings), asked
        at that moment."""
        super().__init__(parent)
        self._settings = RenderSettings()
        self._committed = self._settings
        self.defaults = defaults
        self._updating = False
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QDoubleSpinBox] = {}
        self.specs = {s.field: s for s in SLIDERS}
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        row = 0
        self.start_label = QLabel()
        self.start_label.setObjectName("hint")
        self.start_label.setWordWrap(True)
        for spec in SLIDERS:
            name = QLabel(spec.label)
            name.setToolTip(spec.tip)
            value = QDoubleSpinBox()
            value.setObjectName(f"value_{spec.field}")
            value.setRange(spec.lo * spec.shown, spec.hi * spec.shown)
            value.setDecimals(spec.decimals)
            value.setSuffix(spec.suffix)
            value.setSingleStep(spec.shown / spec.scale)
            value.setButtonSymbols(QDoubleSpinBox.NoButtons)
            value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            value.setKeyboardTracking(False)
            value.setMaximumWidth(72)
            value.setToolTip("Type a value (Enter)")
            value.valueChanged.connect(lambda v, f=spec.field: self._typed(f, v))
            slider = ResettableSlider(lambda f=spec.field: self.reset_field(f))
            slider.setObjectName(f"slider_{spec.field}")
            slider.setRange(round(spec.lo * spec.scale), round(spec.hi * spec.scale))
            slider.setToolTip(spec.tip + "  (double-click: default)")
            slider.valueChanged.connect(lambda v, f=spec.field: self._on_value(f, v))
            slider.sliderReleased.connect(self._commit)
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(slider, row + 1, 0, 1, 2)
            self.sliders[spec.field] = slider
            self.values[spec.field] = value
            row += 2
        stops = ", ".join(f"stop:{i / 6:.3f} hsv({(i * 60) % 360}, 170, 230)" for i in range(7))
        self.sliders["hue_direction"].setStyleSheet(
            "QSlider::groove:horizontal { height: 6px; border-radius: 3px; "
            f"background: qlineargradient(x1:0, y1:0, x2:1, y2:0, {stops}); }}"
            "QSlider::sub-page:horizontal { background: transparent; }")
        self.method = QComboBox()
        self.method.setObjectName("method")
        for key, label in METHODS.items():
            self.method.addItem(label, key)
        self.method.currentIndexChanged.connect(self._on_method)
        grid.addWidget(QLabel("Decoding"), row, 0)
        grid.addWidget(self.method, row + 1, 0, 1, 2)
        self.reset_button = QPushButton("Reset adjustments")
        self.reset_button.clicked.connect(self.resetRequested.emit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.start_label)
        layout.addLayout(grid)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.setInterval(350)
        self._pause.timeout.connect(self._commit)
        self.set_settings(self._settings)

    # ----- public -------------------------------------------------------------------------------
    def settings(self) -> RenderSettings:
        return self._settings

    def set_settings(self, settings: RenderSettings) -> None:
        """Show ``settings`` without emitting anything (used by undo/redo and document switches)."""
        self._updating = True
        try:
            self._pause.stop()
            self._settings = settings
            self._committed = settings
            for field, slider in self.sliders.items():
                spec = self.specs[field]
                slider.setValue(round(settings.value(field) * spec.scale))
                self._show_value(field)
            idx = self.method.findData(settings.value("method"))
            self.method.setCurrentIndex(max(0, idx))
        finally:
            self._updating = False

    def set_starting_point(self, look_name: str | None) -> None:
        """Say what new photos start from: the defaults, or the look the user saved under ``look_name``."""
        self.start_label.setText("New photos start from the default settings." if look_name is None else
                                 f"New photos start from your look “{look_name}”.")

    def reset_field(self, field: str) -> None:
        """One setting back to its default (double-click on its slider), as one undo step."""
        self.set_value(field, self.defaults().value(field))

    def change_label(self, old: RenderSettings, new: RenderSettings) -> str:
        """The label of the first setting that differs (names the undo step)."""
        changed = [f for f in (*self.specs, "method") if old.value(f) != new.value(f)]
        return self.specs[changed[0]].label if changed and changed[0] in self.specs else "Decoding"

    def set_value(self, field: str, value: float) -> None:
        """Move one slider programmatically as a user would (emits preview and commit)."""
        spec = self.specs[field]
        self.sliders[field].setValue(round(value * spec.scale))
        self._commit()

    # ----- internals ----------------------------------------------------------------------------
    def _show_value(self, field: str) -> None:
        spec = self.specs[field]
        box = self.values[field]
        box.blockSignals(True)
        box.setValue(self._settings.value(field) * spec.shown)
        box.blockSignals(False)

    def _typed(self, field: str, shown: float) -> None:
        """A value typed into a setting's box: the slider follows, one undo step."""
        if not self._updating:
            self.set_value(field, shown / self.specs[field].shown)

    def _on_value(self, field: str, raw: int) -> None:
        if self._updating:
            return
        spec = self.specs[field]
        self._settings = self._settings.replace(**{field: raw / spec.scale})
        self._show_value(field)
        self.previewRequested.emit(self._settings)
        if not self.sliders[field].isSliderDown():
            self._pause.start()

    def _on_method(self, _index: int) -> None:
        if self._updating:
            return
        self._settings = self._settings.replace(method=self.method.currentData())
        self.previewRequested.emit(self._settings)
        self._commit()

    def _commit(self) -> None:
        self._pause.stop()
        if self._settings != self._committed:
            old, self._committed = self._committed, self._settings
            self.committed.emit(old, self._settings)
