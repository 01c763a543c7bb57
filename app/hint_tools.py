"""The hint tools: brush and eraser strokes, the result while brushing, the region under the brush, and
the hint regions drawn over the photo. Composed into the window; the edits themselves are the
``EditController``'s, the refinement is the library's (``colorizer.hint_regions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app import jobs
from app.document import Document

if TYPE_CHECKING:
    from app.main_window import MainWindow

HOVER_DELAY_MS = 120


class BrushTools(QObject):
    """Brush/eraser state and the live pictures of hints for the window ``w``."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window
        self.tool: str | None = None          # "brush", "eraser" or None
        self.overlay_on = True
        self._hover_point: tuple[float, float] | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(HOVER_DELAY_MS)
        self._hover_timer.timeout.connect(self._request_hover)
        for v in window.view.views():
            v.strokeFinished.connect(self.finish_stroke)
            v.strokeMoved.connect(self.preview_stroke)
            v.brushHover.connect(self.hover)
        p = window.energy
        p.brushToggled.connect(lambda on: self.set_tool("brush" if on else None))
        p.eraserToggled.connect(lambda on: self.set_tool("eraser" if on else None))
        p.overlayToggled.connect(self.set_overlay)
        p.hintEdited.connect(window.edits.edit_hint)

    # ----- the tool -----------------------------------------------------------------------------
    def set_tool(self, tool: str | None) -> None:
        """Brush, eraser, or neither (pan and zoom)."""
        w = self.w
        doc = w.session.doc
        if tool is not None and (doc is None or not doc.ready):
            tool = None
        self.tool = tool
        w.view.set_brush(tool is not None, color=w.energy.brush_color, erasing=tool == "eraser")
        w.energy.set_tool(tool == "brush", tool == "eraser")
        w.view.set_layer("hover", None)
        if tool == "brush":
            w.message.setText("Paint over an object: it takes the chosen colour up to its edges "
                              "(the outline shows what a stroke here would colour)")
        elif tool == "eraser":
            w.message.setText("Paint where no hint should apply")
        elif doc is not None:
            w.message.setText(w.presenter.summary(doc))
        self.show_overlay()

    def toggle(self, tool: str) -> None:
        if self.tool == tool:
            self.set_tool(None)
            return
        doc = self.w.session.doc
        if doc is not None and doc.ready and self.w.energy.hint_group.isEnabled():
            self.w.tabs.setCurrentWidget(self.w.energy)
            self.set_tool(tool)

    def set_overlay(self, on: bool) -> None:
        self.overlay_on = on
        self.w.energy.show_regions.setChecked(on)
        self.show_overlay()

    def show_overlay(self) -> None:
        """Hint regions are drawn while the hints panel is in front (or a tool is active) and the toggle is on."""
        visible = self.overlay_on and (self.tool is not None or self.w.tabs.currentWidget() is self.w.energy)
        for v in self.w.view.views():
            v.show_hints = visible
            v.update()

    # ----- strokes ------------------------------------------------------------------------------
    def _rgb(self) -> tuple[int, int, int]:
        c = self.w.energy.brush_color
        return c.red(), c.green(), c.blue()

    def finish_stroke(self, points: list, radius: float) -> None:
        self.hover(None)
        edits = self.w.edits
        if self.tool == "eraser":
            edits.erase(points, radius)
        else:
            edits.add_brushed_hint(points, radius, self._rgb(), self.w.energy.hint_params())

    def preview_stroke(self, points: list, radius: float) -> None:
        """The picture with the stroke so far (a light render), while the mouse is still down."""
        doc, edits = self.w.session.doc, self.w.edits
        if doc is None or not doc.ready:
            return
        if self.tool == "eraser":
            rubber = edits.stroke_mask(doc, points, radius)
            hints = tuple(h for h in (hint.erase(rubber) for hint in doc.state.hints) if h is not None)
            state = doc.state.replace(hints=hints)
        else:
            hint = edits.brushed_hint(points, radius, self._rgb(), self.w.energy.hint_params())
            state = doc.state.replace(hints=doc.state.hints + (hint,)) if hint is not None else doc.state
        self.w.session.request_render(doc, state, final=False)

    # ----- hover: what a stroke here would colour -------------------------------------------------
    def hover(self, point: tuple[float, float] | None) -> None:
        self._hover_point = point
        if point is None:
            self._hover_timer.stop()
            self.w.view.set_layer("hover", None)
        else:
            self._hover_timer.start()

    def _request_hover(self) -> None:
        doc, point = self.w.session.doc, self._hover_point
        if doc is None or not doc.ready or point is None or self.tool != "brush":
            return
        hint = self.w.edits.brushed_hint([point], self.w.view.main.brush_radius, self._rgb(),
                                         self.w.energy.hint_params())
        if hint is None:
            return
        self.w.session.runner.submit_latest("hover", jobs.hover_region_job, doc.prediction, hint, doc.loaded.size,
                                            on_done=lambda img, d=doc: self._show_hover(d, img), label="")

    def _show_hover(self, doc: Document, image) -> None:
        if doc is self.w.session.doc and self.tool == "brush" and self._hover_point is not None:
            self.w.view.set_layer("hover", image)

    # ----- the hints' regions -------------------------------------------------------------------
    def refresh_regions(self, doc: Document) -> None:
        """Draw ``doc``'s hint regions (refined in the background, as rendering uses them)."""
        if doc is not self.w.session.doc:
            return
        if not doc.state.hints or doc.prediction is None:
            self.w.view.set_layer("hints", None)
            return
        hints = doc.state.hints
        self.w.session.runner.submit_latest("hint regions", jobs.hint_regions_job, doc.prediction, hints, doc.cache,
                                            doc.loaded.size, on_done=lambda img: self._show_regions(doc, hints, img),
                                            label="")

    def _show_regions(self, doc: Document, hints: tuple, image) -> None:
        if doc is self.w.session.doc and doc.state.hints == hints:
            self.w.view.set_layer("hints", image)
