"""A compact hue/chroma histogram plot: reference palette above, the current image below."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class HistogramWidget(QWidget):
    """Two rows of hue-coloured bars: ``reference`` and ``current`` (each a K-bin histogram)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, np.ndarray | None] = {"Reference": None, "Current": None}
        self.setMinimumHeight(96)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_histogram(self, row: str, hist: np.ndarray | None) -> None:
        self.rows[row] = None if hist is None else np.asarray(hist, np.float64)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(36, 36, 40))
        label_w = 66
        n_rows = len(self.rows)
        row_h = self.height() / n_rows
        for r, (name, hist) in enumerate(self.rows.items()):
            top = r * row_h
            p.setPen(QColor(170, 170, 175))
            p.drawText(QRectF(4, top, label_w - 6, row_h), Qt.AlignVCenter | Qt.AlignLeft, name)
            area = QRectF(label_w, top + 4, self.width() - label_w - 4, row_h - 8)
            p.fillRect(area, QColor(26, 26, 28))
            if hist is None or hist.sum() <= 0:
                p.setPen(QColor(110, 110, 115))
                p.drawText(area, Qt.AlignCenter, "—")
                continue
            k = len(hist)
            peak = float(hist.max())
            bw = area.width() / k
            for i, v in enumerate(hist):
                h = area.height() * float(v) / peak
                color = QColor.fromHsvF((i + 0.5) / k, 0.75, 0.95)
                p.fillRect(QRectF(area.left() + i * bw + 0.5, area.bottom() - h, max(1.0, bw - 1), h), color)
