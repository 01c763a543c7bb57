"""Side by side with the bundled model: the active photo coloured by the bundled model (left pane)
beside the model in use (right pane), with the same edits.

The bundled model's prediction of each photo is made once in the background and kept; every final
render of the photo re-renders it with the photo's recipe (no network run), so both panes always
show the same settings, reference and hints; a photo left at the model in use's own settings (a
fine-tuned model's look) is shown with the bundled model's own on the left, each model as it comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from colorizer.imageio import LoadedImage
from colorizer.messages import one_line
from colorizer.pipeline import Colorizer, Prediction
from colorizer.recipe import Recipe, RenderCache
from colorizer.render_settings import RenderSettings

from app import jobs
from app.document import Document

if TYPE_CHECKING:
    from app.main_window import MainWindow

BUNDLED_CAPTION = "Bundled model"


def compare_job(factory: Any, device: str, colorizer: Colorizer | None, loaded: LoadedImage,
                prediction: Prediction | None, state: Recipe, in_use_defaults: RenderSettings, cache: RenderCache,
                side: int) -> tuple[Colorizer | None, Prediction, dict]:
    """(bundled colouriser, its prediction, a preview render with ``state``, which takes the bundled
    model's own settings where it holds ``in_use_defaults``); the colouriser is loaded and the network
    run only when not given."""
    colorizer = colorizer or factory(None, device)
    if prediction is None:
        prediction = colorizer.predict(loaded.lightness)
    state = state.for_model(in_use_defaults, colorizer.default_settings)
    return colorizer, prediction, jobs.render_job(prediction, state, cache, side)


class ModelComparison(QObject):
    """Shows the bundled model's result beside the model in use while ``active``."""

    activeChanged = Signal(bool)
    shown = Signal(object)  # the Document whose comparison reached the screen

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window
        self.session = s = window.session
        self.active = False
        self._colorizer: Colorizer | None = None
        self._device: str | None = None
        self._kept: dict[int, tuple[Document, Prediction, RenderCache]] = {}
        self._gen = 0
        self._shown: Document | None = None  # the photo the left pane was last filled for
        s.activeChanged.connect(lambda _doc: self.update())
        s.rendered.connect(lambda doc, _r, final: final and doc is s.doc and self.update())
        s.modelChanged.connect(self._on_model)
        s.docClosed.connect(lambda _i: self._prune())

    def available(self) -> bool:
        """A comparison needs a model in use other than the bundled one."""
        return self.session.colorizer is not None and self.session.weights is not None

    def set_active(self, on: bool) -> bool:
        """Start (switching to the side-by-side view) or end the comparison; False when it cannot start."""
        if on and not self.available():
            self.session.message.emit("Choose one of your models first: it is compared with the bundled model")
            on = False
        if on == self.active:
            return on
        self.active = on
        if on:
            self.w.set_view_mode("side")
            self.update()
        else:
            self._gen += 1
            self._shown = None
            self.w.view.set_comparison(None)
        self.activeChanged.emit(on)
        return on

    def captions(self) -> tuple[str, str]:
        model = self.session.model
        name = model.name.removesuffix(".safetensors") if model is not None else "Model in use"
        return BUNDLED_CAPTION, name

    def update(self) -> None:
        """Show the active photo's comparison (computing what is missing in the background)."""
        if not self.active:
            return
        s, view = self.session, self.w.view
        doc = s.doc
        self._gen += 1
        gen = self._gen
        if doc is not self._shown:  # another photo: no stale picture meanwhile
            view.set_comparison(None, self.captions())
            self._shown = doc
        if doc is None or doc.loaded is None or doc.error is not None:
            return
        if self._device != s.device:  # predictions of another device may differ slightly: start afresh
            self._colorizer, self._device, self._kept = None, s.device, {}
        kept = self._kept.get(id(doc))
        prediction, cache = (kept[1], kept[2]) if kept is not None and kept[0] is doc else (None, RenderCache(s.references))
        s.runner.submit(compare_job, s.factory, s.device, self._colorizer, doc.loaded, prediction, doc.state,
                        s.default_settings(), cache, s.preview_side(),
                        on_done=lambda r: self._on_done(doc, gen, cache, r),
                        on_error=self._on_error, label="Colouring with the bundled model")

    def _on_done(self, doc: Document, gen: int, cache: RenderCache, result: tuple) -> None:
        colorizer, prediction, render = result
        if colorizer is not None:
            self._colorizer = colorizer
        if doc in self.session.docs:
            self._kept[id(doc)] = (doc, prediction, cache)
        if gen == self._gen and self.active and doc is self.session.doc:
            self.w.view.set_comparison(render["rgb"], self.captions())
            self.shown.emit(doc)

    def _on_error(self, exc: BaseException) -> None:
        self.session.problem.emit("Comparison failed", f"The bundled model could not colour this photo:\n\n"
                                                       f"{one_line(exc)}")

    def _on_model(self) -> None:
        if self.active and self.session.colorizer is not None and not self.session.model_loading:
            if not self.available():
                self.set_active(False)
            else:
                self.w.view.set_comparison(self.w.view.left.layers["compare"].best(0), self.captions())

    def _prune(self) -> None:
        open_ids = {id(d) for d in self.session.docs}
        self._kept = {k: v for k, v in self._kept.items() if k in open_ids}
