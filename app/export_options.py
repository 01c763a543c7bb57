"""The export options as widgets (format, JPEG quality, long-edge size), shared by Save and Export, and
remembered between runs (tool settings, not photo edits)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from colorizer.export import DEFAULT_TEMPLATE, FORMATS, LOSSY, ExportError, ExportOptions

from app.settings_store import SettingsStore


def load_export_options(store: SettingsStore) -> ExportOptions:
    """The options used last time (the defaults for anything missing or no longer valid)."""
    try:
        edge = int(store.value("export/long_edge", 0) or 0)
        return ExportOptions(format=str(store.value("export/format", "png")),
                             quality=int(store.value("export/quality", 92)),
                             long_edge=edge or None,
                             template=str(store.value("export/template", DEFAULT_TEMPLATE)))
    except (ExportError, TypeError, ValueError):
        return ExportOptions()


def save_export_options(store: SettingsStore, options: ExportOptions) -> None:
    store.set_value("export/format", options.format)
    store.set_value("export/quality", options.quality)
    store.set_value("export/long_edge", options.long_edge or 0)
    store.set_value("export/template", options.template)


class ExportOptionsWidget(QWidget):
    """Format, quality (JPEG/WebP only) and an optional long-edge size, as form rows."""

    changed = Signal()

    def __init__(self, options: ExportOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.format = QComboBox()
        self.format.setObjectName("exportFormat")
        for key, label in FORMATS.items():
            self.format.addItem(label, key)
        self.quality = QSpinBox()
        self.quality.setObjectName("exportQuality")
        self.quality.setRange(1, 100)
        self.quality.setSuffix(" %")
        self.quality.setToolTip("JPEG/WebP quality: higher is sharper and larger")
        self.resize_box = QCheckBox("Reduce to")
        self.resize_box.setObjectName("exportResize")
        self.long_edge = QSpinBox()
        self.long_edge.setObjectName("exportLongEdge")
        self.long_edge.setRange(16, 20000)
        self.long_edge.setSingleStep(100)
        self.long_edge.setSuffix(" px on the long edge")
        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        size_row.addWidget(self.resize_box)
        size_row.addWidget(self.long_edge, 1)
        size = QWidget()
        size.setLayout(size_row)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Format", self.format)
        form.addRow("Quality", self.quality)
        form.addRow("Size", size)
        self.set_options(options)
        self.format.currentIndexChanged.connect(self._sync)
        self.resize_box.toggled.connect(self._sync)
        for w in (self.quality, self.long_edge):
            w.valueChanged.connect(lambda _v: self.changed.emit())

    def set_options(self, options: ExportOptions) -> None:
        self.format.setCurrentIndex(max(0, self.format.findData(options.format)))
        self.quality.setValue(options.quality)
        self.resize_box.setChecked(options.long_edge is not None)
        self.long_edge.setValue(options.long_edge or 2048)
        self._sync()

    def options(self, template: str = DEFAULT_TEMPLATE) -> ExportOptions:
        """The chosen options (raises ExportError for a bad ``template``)."""
        return ExportOptions(format=self.format.currentData(), quality=self.quality.value(),
                             long_edge=self.long_edge.value() if self.resize_box.isChecked() else None,
                             template=template)

    def _sync(self) -> None:
        self.quality.setEnabled(self.format.currentData() in LOSSY)
        self.long_edge.setEnabled(self.resize_box.isChecked())
        self.changed.emit()
