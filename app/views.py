"""Photo views: result, original, before/after split, uncertainty overlay and side by side.

All views show the photo in the same *image coordinates* (full-resolution pixels) and share one
``ViewState`` (zoom and centre), so zoom and pan stay synchronised between modes and between the
two panes of the side-by-side view. Each layer may hold a preview and a full-resolution image; the
view paints the cheapest one that is sharp at the current zoom.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MODES = ("result", "original", "split", "uncertainty", "side")
MODE_LABELS = {"result": "Result", "original": "Original", "split": "Before / after",
               "uncertainty": "Uncertainty", "side": "Side by side"}
MIN_ZOOM, MAX_ZOOM = 0.01, 32.0
STROKE_PREVIEW_S = 0.15


class ViewState(QObject):
    """Zoom (None = fit to window) and centre in image coordinates, shared by views."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.zoom: float | None = None
        self.center = QPointF(0, 0)

    def set(self, zoom: float | None, center: QPointF | None = None) -> None:
        if zoom is not None:
            zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        self.zoom = zoom
        if center is not None:
            self.center = QPointF(center)
        self.changed.emit()


class Layer:
    """One picture at one or more resolutions (all covering the same image rectangle)."""

    def __init__(self) -> None:
        self.images: dict[str, QImage] = {}

    def set(self, level: str, image: QImage | None) -> None:
        if image is None or image.isNull():
            self.images.pop(level, None)
        else:
            self.images[level] = image

    def best(self, needed_width: float) -> QImage | None:
        """The smallest image at least ``needed_width`` pixels wide (else the largest)."""
        imgs = sorted(self.images.values(), key=lambda im: im.width())
        if not imgs:
            return None
        for im in imgs:
            if im.width() >= needed_width * 0.95:
                return im
        return imgs[-1]


class PhotoView(QWidget):
    """Paints one photo in a given mode; wheel zoom, drag to pan, split divider, brush strokes."""

    zoomChanged = Signal(float)
    strokeFinished = Signal(list, float)   # normalised points, radius (fraction of longest side)
    strokeMoved = Signal(list, float)      # the stroke so far (at most every STROKE_PREVIEW_S): live preview
    brushHover = Signal(object)            # normalised (x, y) under the brush, or None when it left
    hoverInfo = Signal(str)

    def __init__(self, state: ViewState, mode: str = "result", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.mode = mode
        self.layers = {name: Layer() for name in ("result", "original", "uncertainty", "hints", "hover", "compare")}
        self.image_size = QSize(0, 0)
        self.split = 0.5
        self.overlay_opacity = 0.75
        self.brush_enabled = False
        self.erasing = False
        self.show_hints = False
        self._last_emit = 0.0
        self._legend: QImage | None = None
        self.badge = ""
        self.caption = ""  # which model made this pane's picture (side by side comparison)
        self.brush_radius = 0.03
        self.brush_color = QColor(220, 120, 60)
        self.placeholder = "Open a photo (File ▸ Open, drag and drop, or Ctrl+O)"
        self._drag: str | None = None
        self._last = QPointF()
        self._stroke: list[QPointF] = []
        self._hover = QPointF(-1, -1)
        self.setMouseTracking(True)
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setFocusPolicy(Qt.StrongFocus)
        state.changed.connect(self.update)

    # ----- content ------------------------------------------------------------------------------
    def set_image_size(self, size: QSize) -> None:
        self.image_size = QSize(size)
        self.update()

    def set_layer(self, name: str, image: QImage | None, level: str = "preview") -> None:
        self.layers[name].set(level, image)
        self.update()

    def clear(self) -> None:
        for layer in self.layers.values():
            layer.images.clear()
        self.image_size = QSize(0, 0)
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.update()

    def has_image(self) -> bool:
        return self.image_size.width() > 0 and bool(self.layers["original"].images or self.layers["result"].images)

    # ----- geometry -----------------------------------------------------------------------------
    def fit_scale(self) -> float:
        if self.image_size.width() <= 0:
            return 1.0
        return min(self.width() / self.image_size.width(), self.height() / self.image_size.height())

    def scale(self) -> float:
        return self.fit_scale() if self.state.zoom is None else self.state.zoom

    def center(self) -> QPointF:
        if self.state.zoom is None:
            return QPointF(self.image_size.width() / 2, self.image_size.height() / 2)
        return self.state.center

    def to_widget(self, p: QPointF) -> QPointF:
        s, c = self.scale(), self.center()
        return QPointF((p.x() - c.x()) * s + self.width() / 2, (p.y() - c.y()) * s + self.height() / 2)

    def to_image(self, p: QPointF) -> QPointF:
        s, c = self.scale(), self.center()
        return QPointF((p.x() - self.width() / 2) / s + c.x(), (p.y() - self.height() / 2) / s + c.y())

    def image_rect(self) -> QRectF:
        tl = self.to_widget(QPointF(0, 0))
        br = self.to_widget(QPointF(self.image_size.width(), self.image_size.height()))
        return QRectF(tl, br)

    def zoom_to(self, zoom: float | None, anchor: QPointF | None = None) -> None:
        """Set zoom (None = fit), keeping the image point under ``anchor`` (widget coords) fixed."""
        if zoom is None:
            self.state.set(None)
        else:
            zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
            anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
            img_pt = self.to_image(anchor)
            center = QPointF(img_pt.x() - (anchor.x() - self.width() / 2) / zoom,
                             img_pt.y() - (anchor.y() - self.height() / 2) / zoom)
            self.state.set(zoom, center)
        self.zoomChanged.emit(self.scale())

    # ----- painting -----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 32))
        if not self.has_image():
            p.setPen(QColor(150, 150, 155))
            font = p.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            p.setFont(font)
            p.drawText(self.rect().adjusted(24, 0, -24, 0), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
            p.setFont(self.font())
            if self.badge:
                self._paint_badge(p)
            return
        p.setRenderHint(QPainter.SmoothPixmapTransform, self.scale() < 2.0)
        target = self.image_rect()
        needed = target.width()
        mode = self.mode
        if mode == "compare":  # another model's result (side by side), the gray original until it is there
            self._draw(p, "compare" if self.layers["compare"].images else "original", target, needed)
        elif mode == "original" or (mode != "original" and not self.layers["result"].images):
            self._draw(p, "original", target, needed)
        elif mode == "split":
            x = self.width() * self.split
            p.save()
            p.setClipRect(QRectF(0, 0, x, self.height()))
            self._draw(p, "original", target, needed)
            p.restore()
            p.save()
            p.setClipRect(QRectF(x, 0, self.width() - x, self.height()))
            self._draw(p, "result", target, needed)
            p.restore()
        else:
            # the uncertainty map is laid over the gray original, so its colours are not mixed with the result's
            self._draw(p, "original" if mode == "uncertainty" else "result", target, needed)
            if mode == "uncertainty":
                p.setOpacity(self.overlay_opacity)
                self._draw(p, "uncertainty", target, needed)
                p.setOpacity(1.0)
                self._paint_legend(p)
        if self.show_hints:  # outlines and a light tint: the result stays visible
            self._draw(p, "hints", target, needed)
        if self.brush_enabled and self._hover.x() >= 0 and not self._stroke:
            self._draw(p, "hover", target, needed)
        if mode == "split" and self.layers["result"].images:
            self._paint_divider(p)
        if self.brush_enabled:
            self._paint_brush(p)
        if self.badge:
            self._paint_badge(p)
        if self.caption:  # the model that made this pane's picture (side by side comparison)
            shown = self.image_rect().intersected(QRectF(self.rect()))
            self._paint_tag(p, self.caption, max(shown.left(), 0) + 8, max(shown.top(), 0) + 8)

    def _draw(self, p: QPainter, layer: str, target: QRectF, needed: float) -> None:
        img = self.layers[layer].best(needed)
        if img is None:
            return
        # Only the visible part of the source is scaled (matters for 12 MP images at 100%).
        visible = target.intersected(QRectF(self.rect()))
        if visible.isEmpty():
            return
        sx = img.width() / target.width()
        sy = img.height() / target.height()
        src = QRectF((visible.left() - target.left()) * sx, (visible.top() - target.top()) * sy,
                     visible.width() * sx, visible.height() * sy)
        p.drawImage(visible, img, src)

    def _paint_badge(self, p: QPainter) -> None:
        """A busy note centred at the top of the view (e.g. "Colourising…")."""
        fm = p.fontMetrics()
        w = fm.horizontalAdvance(self.badge) + 28
        box = QRectF((self.width() - w) / 2, 12, w, fm.height() + 12)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(20, 20, 22, 210))
        p.drawRoundedRect(box, 8, 8)
        p.setPen(QColor(235, 235, 238))
        p.drawText(box, Qt.AlignCenter, self.badge)

    def _paint_tag(self, p: QPainter, text: str, x: float, y: float) -> None:
        """A small dark rounded label with ``text`` at (x, y)."""
        fm = p.fontMetrics()
        box = QRectF(x, y, fm.horizontalAdvance(text) + 16, fm.height() + 6)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(20, 20, 22, 170))
        p.drawRoundedRect(box, 5, 5)
        p.setPen(QColor(235, 235, 238))
        p.drawText(box, Qt.AlignCenter, text)

    def _paint_legend(self, p: QPainter) -> None:
        """The uncertainty colour scale: sure (dark) to a guess (pale yellow)."""
        if self._legend is None:
            from colorizer.visual import legend_ramp

            ramp = np.ascontiguousarray(legend_ramp(160, 10))
            self._legend = QImage(ramp.data, ramp.shape[1], ramp.shape[0], 3 * ramp.shape[1],
                                  QImage.Format_RGB888).copy()
        box = QRectF(12, self.height() - 46, 184, 36)
        p.fillRect(box, QColor(20, 20, 22, 200))
        p.drawImage(QRectF(box.left() + 12, box.top() + 6, 160, 10), self._legend)
        p.setPen(QColor(220, 220, 224))
        p.drawText(QRectF(box.left() + 12, box.top() + 17, 160, 16), Qt.AlignLeft | Qt.AlignVCenter, "sure")
        p.drawText(QRectF(box.left() + 12, box.top() + 17, 160, 16), Qt.AlignRight | Qt.AlignVCenter, "a guess")

    def _paint_divider(self, p: QPainter) -> None:
        x = self.width() * self.split
        p.setPen(QPen(QColor(0, 0, 0, 120), 3))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.setPen(QPen(QColor(240, 240, 240), 1))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        cy = self.height() / 2
        p.setBrush(QColor(240, 240, 240))
        p.drawEllipse(QPointF(x, cy), 9, 9)
        p.setPen(QPen(QColor(40, 40, 40), 2))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1, cy - 3))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1, cy + 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1, cy - 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1, cy + 3))
        img = self.image_rect().intersected(QRectF(self.rect()))
        fm = p.fontMetrics()
        for text, left in (("Before", True), ("After", False)):
            w = fm.horizontalAdvance(text) + 16
            bx = img.left() + 8 if left else img.right() - 8 - w
            if (left and bx + w > x - 4) or (not left and bx < x + 4):
                continue  # no room on this side of the divider
            self._paint_tag(p, text, bx, img.top() + 8)

    def _paint_brush(self, p: QPainter) -> None:
        r = self.brush_radius * max(self.image_size.width(), self.image_size.height()) * self.scale()
        color = QColor(40, 40, 44) if self.erasing else QColor(self.brush_color)
        if len(self._stroke) > 0:  # a thin trace: the live result shows under it
            path = QPainterPath(self._stroke[0])
            for pt in self._stroke[1:]:
                path.lineTo(pt)
            color.setAlpha(90)
            p.setPen(QPen(color, 2 * r, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
            p.setBrush(Qt.NoBrush)
            p.drawPath(path)
        if self._hover.x() >= 0:
            p.setOpacity(1.0)
            p.setBrush(Qt.NoBrush)
            p.setPen(QPen(QColor(255, 255, 255, 200), 1.5, Qt.DashLine if self.erasing else Qt.SolidLine))
            p.drawEllipse(self._hover, r, r)

    # ----- interaction --------------------------------------------------------------------------
    def _near_divider(self, pos: QPointF) -> bool:
        return self.mode == "split" and abs(pos.x() - self.width() * self.split) < 10

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._last = pos
        if event.button() == Qt.LeftButton and self._near_divider(pos):
            self._drag = "divider"
        elif event.button() == Qt.LeftButton and self.brush_enabled and self.has_image():
            self._drag = "brush"
            self._stroke = [pos]
        elif event.button() in (Qt.LeftButton, Qt.MiddleButton):
            self._drag = "pan"
            self.setCursor(Qt.ClosedHandCursor)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._hover = pos
        if self._drag == "divider":
            self.split = min(1.0, max(0.0, pos.x() / max(1, self.width())))
        elif self._drag == "brush":
            self._stroke.append(pos)
            now = time.monotonic()
            if now - self._last_emit >= STROKE_PREVIEW_S:
                self._last_emit = now
                self.strokeMoved.emit(self._normalised(self._stroke), self.brush_radius)
        elif self._drag == "pan":
            delta = pos - self._last
            s = self.scale()
            c = self.center()
            self.state.set(s, QPointF(c.x() - delta.x() / s, c.y() - delta.y() / s))
        else:
            self.setCursor(Qt.SplitHCursor if self._near_divider(pos) else
                           (Qt.CrossCursor if self.brush_enabled else Qt.ArrowCursor))
            if self.has_image():
                ip = self.to_image(pos)
                inside = 0 <= ip.x() < self.image_size.width() and 0 <= ip.y() < self.image_size.height()
                if inside:
                    self.hoverInfo.emit(f"x {int(ip.x())}, y {int(ip.y())}")
                if self.brush_enabled and not self.erasing:
                    self.brushHover.emit(self._normalised([pos])[0] if inside else None)
        self._last = pos
        self.update()

    def _normalised(self, points: list[QPointF]) -> list[tuple[float, float]]:
        """Widget points as image fractions (x, y) in [0, 1]."""
        w, h = max(1, self.image_size.width()), max(1, self.image_size.height())
        out = []
        for pt in points:
            ip = self.to_image(pt)
            out.append((min(1.0, max(0.0, ip.x() / w)), min(1.0, max(0.0, ip.y() / h))))
        return out

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag == "brush" and self._stroke:
            pts = self._normalised(self._stroke)
            self._stroke = []
            self.strokeFinished.emit(pts, self.brush_radius)
        self._drag = None
        self.unsetCursor()
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = QPointF(-1, -1)
        if self.brush_enabled:
            self.brushHover.emit(None)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.state.zoom is None:
            self.zoomChanged.emit(self.scale())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if not self.has_image():
            return
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        self.zoom_to(self.scale() * (1.25 ** steps), event.position())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        """Double click toggles between fit and 100 %."""
        if self.brush_enabled:
            return
        self.zoom_to(1.0 if self.state.zoom is None else None, event.position())
