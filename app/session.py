"""The session: the colouriser and the open photos, their loading, prediction, renders and sidecars.

Heavy work (loading weights, reading photos, the network, full-resolution renders, saving, samples,
sidecars) runs on the ``Runner``'s thread pool; results come back as signals in the GUI thread, which
the window turns into pictures. The session never touches a widget. Each photo keeps its prediction,
so every edit re-renders without the network; each edit is also saved beside the photo (sidecar).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from colorizer.imageio import ImageReadError, is_image_file
from colorizer.messages import one_line
from colorizer.pipeline import Colorizer
from colorizer.recipe import ModelRef, Recipe, ReferencePixels, RenderCache
from colorizer.render_settings import RenderSettings
from colorizer.sidecars import SidecarStore

from app import jobs
from app.document import Document, follow_undo_history
from app.session_files import SessionFiles
from app.settings_store import SettingsStore
from app.workers import Cancelled, CancelToken, Runner

ColorizerFactory = Callable[[str | None, str], Colorizer]
SAMPLES_DELAY_MS = 600
DRAG_PREVIEW_FACTOR = 0.6


def default_factory(weights: str | None, device: str) -> Colorizer:
    return Colorizer.load(weights, device=device)


class Session(QObject, SessionFiles):
    """Open photos and the colouriser; every request runs in the background and answers by signal."""

    modelChanged = Signal()                 # loaded, failed or loading: read colorizer / model_error
    docOpened = Signal(object)              # a new Document (filmstrip entry)
    docClosed = Signal(int)                 # index of the closed document
    activeChanged = Signal(object)          # the active Document, or None
    docLoaded = Signal(object)              # pixels read and its saved recipe restored
    originalFullReady = Signal(object)      # doc: images["original_full"] is new
    docReady = Signal(object)               # first colour result shown
    docFailed = Signal(object, str)         # a photo cannot be opened
    rendered = Signal(object, object, bool)  # doc, render result dict, final (not a slider drag)
    fullRendered = Signal(object)           # doc: images["result_full"] is new
    samplesReady = Signal(object)           # doc: samples are new
    thumbReady = Signal(object, object)     # doc, QImage for the filmstrip
    message = Signal(str)                   # a status line
    problem = Signal(str, str)              # title, text: something the user must read

    def __init__(self, runner: Runner, store: SettingsStore, sidecars: SidecarStore,
                 factory: ColorizerFactory | None = None, weights: str | None = None, device: str | None = None,
                 preview_max: int = 1600, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner, self.store, self.sidecars = runner, store, sidecars
        self.factory = factory or default_factory
        self.weights, self.device = weights, device or store.device()
        self.preview_max = preview_max
        self.preview_side: Callable[[], int] = lambda: preview_max
        self.colorizer: Colorizer | None = None
        self.model: ModelRef | None = None
        self.model_error: str | None = None
        self.model_loading = False
        self.docs: list[Document] = []
        self.doc: Document | None = None
        self.references = ReferencePixels()  # shared by every photo's renders
        self.sample_count = 6
        self.render_latencies: list[float] = []
        self.samples_timer = QTimer(self)
        self.samples_timer.setSingleShot(True)
        self.samples_timer.setInterval(SAMPLES_DELAY_MS)
        self.samples_timer.timeout.connect(lambda: self.request_samples())

    # ----- the colouriser -----------------------------------------------------------------------
    def load_model(self) -> None:
        """Load the colouriser chosen at start (``weights``, ``device``) in the background."""
        self._load(self.weights, self.device)

    def _load(self, weights: str | None, device: str, remember: bool = False) -> None:
        """Load ``weights`` (None: the bundled model) on ``device``; until it is ready, and for good if it
        fails, the current colouriser stays in use. ``remember``: keep the choice for the next start."""
        self.model_loading = True
        self.message.emit("Loading the colouriser…")
        self.modelChanged.emit()
        self.runner.submit(jobs.load_colorizer_job, self.factory, weights, device,
                           on_done=lambda loaded: self._on_model(loaded, weights, device, remember),
                           on_error=lambda exc: self._on_model_error(exc, weights), label="Loading model")

    def _on_model(self, loaded: tuple[Colorizer, ModelRef], weights: str | None, device: str, remember: bool) -> None:
        changed = self.colorizer is not None
        old_defaults = self.default_settings()
        self.model_loading, self.model_error = False, None
        self.colorizer, self.model = loaded
        self._follow_model_look(old_defaults, self.default_settings())
        self.weights, self.device = weights, device
        if remember:
            self.store.set_weights(weights)
        self.modelChanged.emit()
        if self.doc is None or self.doc.error is None:
            self.message.emit(f"Colouriser ready: {self.model.name}")
        if changed:  # every prediction was the old model's
            for doc in self.docs:
                if doc.token is not None:
                    doc.token.cancel()
                    doc.token = None
                doc.prediction, doc.samples = None, []
                doc.cache = RenderCache(self.references)
        if self.doc is not None and not self.doc.ready and self.doc.error is None:
            self.colourise(self.doc)
        elif not self.docs:
            self.runner.submit(jobs.warm_up_job, self.colorizer, label="", priority=-2)

    def _on_model_error(self, exc: BaseException, weights: str | None) -> None:
        self.model_loading = False
        self.model_error = one_line(exc)
        self.modelChanged.emit()  # the window says so; a working colouriser stays in use
        if self.colorizer is None and weights is not None and weights == self.store.weights():
            self.store.set_weights(None)  # the remembered file is gone or broken: back to the bundled model
            self._load(None, self.device)

    def set_device(self, device: str) -> None:
        if device == self.device and self.colorizer is not None:
            return
        self.store.set_device(device)
        self._load(self.weights, device)

    def set_weights(self, path: str | None) -> None:
        """Use the weights file ``path`` (None: the bundled model) once it has loaded, and next time too."""
        self._load(path, self.device, remember=True)

    def default_settings(self) -> RenderSettings:
        """The model in use's own settings (a fine-tuned model's look); ``RenderSettings()`` before one loads."""
        return self.colorizer.default_settings if self.colorizer is not None else RenderSettings()

    def starting_recipe(self) -> Recipe:
        """What a newly opened photo starts from: the default look the user saved, or the model's defaults."""
        look = self.store.default_look()
        return look[1] if look is not None else Recipe(settings=self.default_settings())

    def _follow_model_look(self, old: RenderSettings, new: RenderSettings) -> None:
        """Photos without saved edits whose settings are the previous model's defaults take the new model's
        (not an edit: no undo step; their undo history follows too). Photos with a sidecar keep exactly what
        it says, so a sidecar renders the same whichever model was in use when it was opened."""
        if old == new:
            return
        for doc in self.docs:
            if doc.edits_saved:
                continue
            follow_undo_history(doc, old, new)
            followed = doc.state.for_model(old, new)
            if followed is doc.state:
                continue
            unchanged_on_disk = doc.state == doc.saved_state
            doc.state = followed
            if unchanged_on_disk:
                doc.saved_state = followed  # still nothing to write
            else:
                self.save_sidecar(doc)  # an edit whose write was still under way: write it as followed

    # ----- documents ----------------------------------------------------------------------------
    def open_files(self, paths: list[str | Path]) -> list[Document]:
        """Open photos (folders expand to their images); the first one becomes active."""
        files: list[Path] = []
        for p in map(Path, paths):
            files.extend(sorted(q for q in p.iterdir() if q.is_file() and is_image_file(q)) if p.is_dir() else [p])
        docs: list[Document] = []
        for f in files:
            existing = next((d for d in self.docs if d.path.resolve() == f.resolve()), None)
            if existing is not None:
                docs.append(existing)
                continue
            doc = Document(path=f, state=self.starting_recipe(), cache=RenderCache(self.references))
            self.docs.append(doc)
            docs.append(doc)
            if f.exists():
                self.store.add_recent(f)
            self.docOpened.emit(doc)
        if docs:
            self.activate(docs[0])
        for doc in docs[1:]:
            if doc.thumb is None:
                self.runner.submit(jobs.thumb_job, doc.path, on_done=lambda img, d=doc: self._on_thumb(d, img),
                                   priority=-1)
        return docs

    def _on_thumb(self, doc: Document, img) -> None:
        if img is not None and doc.thumb is None:
            doc.thumb = img
            self.thumbReady.emit(doc, img)

    def activate(self, doc: Document) -> None:
        """Make ``doc`` the active photo; a pending colourisation of the previous one is cancelled."""
        previous = self.doc
        if previous is not None and previous is not doc:
            if previous.token is not None and not previous.ready:
                previous.token.cancel()
                previous.token = None
            for name in ("result_full", "original_full"):  # 12 MP is about 100 MB: free what is not shown
                previous.images.pop(name, None)
            previous.full_rgb8 = previous.full_state = None
        self.doc = doc
        if doc.loaded is not None and "original_full" not in doc.images:
            self.runner.submit(jobs.original_full_job, doc.loaded, self.preview_max,
                               on_done=lambda img, d=doc: self._on_original_full(d, img), label="")
        self.activeChanged.emit(doc)
        if doc.error is None and not doc.ready:
            self.colourise(doc)

    def _on_original_full(self, doc: Document, img) -> None:
        if img is not None:
            doc.images["original_full"] = img
            self.originalFullReady.emit(doc)

    def close(self, doc: Document) -> None:
        """Close ``doc`` (its latest recipe is written first); the next one becomes active."""
        if doc.token is not None:
            doc.token.cancel()
        self.save_sidecar(doc, wait=True)
        i = self.docs.index(doc)
        self.docs.pop(i)
        self.docClosed.emit(i)
        if doc is self.doc:
            self.doc = None
            if self.docs:
                self.activate(self.docs[min(i, len(self.docs) - 1)])
            else:
                self.activeChanged.emit(None)

    # ----- colourisation ------------------------------------------------------------------------
    def colourise(self, doc: Document) -> None:
        """Load (if needed) and predict ``doc`` in the background; a newer request supersedes it."""
        if doc.token is not None:
            doc.token.cancel()
        token = doc.token = CancelToken()
        doc.error = None
        doc.timings["t0"] = time.perf_counter()
        if doc.loaded is None:
            self.runner.submit(jobs.load_job, doc.path, self.preview_max, self.sidecars, token,
                               on_done=lambda r: self._on_loaded(doc, token, r),
                               on_error=lambda e: self._on_doc_error(doc, token, e), label=f"Opening {doc.name}")
        else:
            self._start_predict(doc, token)

    def recolourise(self, doc: Document) -> None:
        doc.prediction = None
        doc.cache = RenderCache(self.references)
        self.colourise(doc)

    def _on_loaded(self, doc: Document, token: CancelToken, result: dict) -> None:
        doc.loaded, doc.photo_sha256, doc.thumb = result["loaded"], result["sha256"], result["thumb"]
        doc.images["original"] = result["original"]
        doc.images["original_full"] = result["original_full"]
        saved = result["recipe"]
        if saved is not None and doc.undo.count() == 0:
            made_with = saved.model
            doc.state = saved.replace(model=None)  # the undo history starts from the saved edits
            doc.edits_saved = True
            if made_with is not None and self.model is not None and made_with.sha256 != self.model.sha256:
                self.message.emit(f"{doc.name}: its edits were made with the model {made_with.name}; "
                                  "colours may differ")
        doc.saved_state = doc.state  # nothing to write until the recipe changes
        self.docLoaded.emit(doc)
        self.thumbReady.emit(doc, doc.thumb)
        for note in result["notes"]:
            self.problem.emit("Saved edits", f"{doc.name}: {note}")
        if not token.cancelled and doc.token is token:
            self._start_predict(doc, token)

    def _start_predict(self, doc: Document, token: CancelToken) -> None:
        if self.colorizer is None:
            return  # _on_model resumes
        if doc is self.doc:
            self.message.emit(f"Colourising {doc.name}…")
        self.runner.submit(jobs.predict_job, self.colorizer, doc.loaded, doc.state, doc.cache, self.preview_side(),
                           token, on_done=lambda r: self._on_predicted(doc, token, r),
                           on_error=lambda e: self._on_doc_error(doc, token, e), label=f"Colourising {doc.name}")

    def _on_predicted(self, doc: Document, token: CancelToken, result: dict) -> None:
        if doc.token is not token:
            return
        doc.token = None
        doc.prediction = result["prediction"]
        doc.timings["predict"] = result["seconds"]
        doc.timings["first_colour"] = time.perf_counter() - doc.timings.get("t0", time.perf_counter())
        doc.render_gen += 1
        doc.shown_gen = doc.render_gen
        self._show(doc, result["render"], result["state"], True)
        self.thumbReady.emit(doc, result["thumb"])
        if doc is self.doc:
            self.samples_timer.start()
        if result["state"] is not doc.state:  # edited while the network ran
            self.request_render(doc)
        self.docReady.emit(doc)

    def _on_doc_error(self, doc: Document, token: CancelToken, exc: BaseException) -> None:
        if isinstance(exc, Cancelled) or doc.token is not token:
            return
        doc.token = None
        msg = one_line(exc)
        doc.error = msg if isinstance(exc, (ImageReadError, MemoryError)) else f"{doc.path}: {msg}"
        self.docFailed.emit(doc, doc.error)

    # ----- renders ------------------------------------------------------------------------------
    def request_render(self, doc: Document, state: Recipe | None = None, final: bool = True) -> None:
        """Re-render ``doc`` (preview resolution) from its cached prediction; the newest request wins."""
        if doc.prediction is None or self.colorizer is None:
            return
        state = state or doc.state
        doc.render_gen += 1
        gen = doc.render_gen
        side = self.preview_side() if final else max(480, int(self.preview_side() * DRAG_PREVIEW_FACTOR))
        self.runner.submit_latest("preview", jobs.render_job, doc.prediction, state, doc.cache, side, time.perf_counter(),
                                  on_done=lambda r: self._on_render(doc, gen, state, r, final),
                                  on_error=self._on_render_error, label="Rendering", fast=True)

    def _on_render(self, doc: Document, gen: int, state: Recipe, result: dict, final: bool) -> None:
        if gen < doc.shown_gen:
            return
        doc.shown_gen = gen
        doc.timings["last_render"] = result["seconds"]
        self.render_latencies.append(time.perf_counter() - result["submitted"])
        self._show(doc, result, state, final and gen == doc.render_gen)

    def _show(self, doc: Document, result: dict, state: Recipe, final: bool) -> None:
        doc.images["result"] = result["rgb"]
        doc.images["uncertainty"] = result["uncertainty"]
        if doc.full_state is not state:
            doc.images.pop("result_full", None)
        doc.histograms = (result.get("ref_hist"), result.get("cur_hist"))
        self.rendered.emit(doc, result, final)

    def _on_render_error(self, exc: BaseException) -> None:
        self.problem.emit("Rendering failed", f"Rendering failed: {one_line(exc)}")

    def request_full(self, doc: Document) -> None:
        """Full-resolution render of ``doc``'s recipe (for 100 % zoom and saving), unless it is there."""
        if doc.prediction is None or self.colorizer is None or doc.loaded is None:
            return
        state = doc.state
        if doc.full_state is state and "result_full" in doc.images:
            return
        if max(doc.loaded.size) <= self.preview_side():
            return  # the preview already is full resolution
        gen = doc.render_gen
        self.runner.submit_latest("full", jobs.full_job, doc.prediction, state, doc.cache,
                                  on_done=lambda r: self._on_full(doc, gen, state, r),
                                  on_error=self._on_render_error, label="Full-size render")

    def _on_full(self, doc: Document, gen: int, state: Recipe, result: dict) -> None:
        doc.full_rgb8, doc.full_state = result["rgb8"], state
        if gen == doc.render_gen and state is doc.state:
            doc.images["result_full"] = result["rgb"]
            self.fullRendered.emit(doc)

    def request_samples(self, doc: Document | None = None) -> None:
        """Render alternatives of the current recipe as thumbnails (in the background)."""
        doc = doc or self.doc
        if doc is None or doc.prediction is None:
            return
        seed = doc.sample_seed
        self.runner.submit_latest("samples", jobs.samples_job, doc.prediction, doc.state, self.sample_count, seed,
                                  doc.cache, on_done=lambda r: self._on_samples(doc, seed, r),
                                  on_error=self._on_render_error, label="Drawing samples")

    def _on_samples(self, doc: Document, seed: int, images: list) -> None:
        if seed == doc.sample_seed:
            doc.samples = images
            self.samplesReady.emit(doc)

    # ----- edits, saving ------------------------------------------------------------------------
    def state_changed(self, doc: Document, old: Recipe) -> None:
        """``doc.state`` changed (an edit, undo or redo): re-render, redraw samples, save the sidecar."""
        state = doc.state
        if (state.reference, state.hints) != (old.reference, old.hints):
            self.samples_timer.start()
        self.request_render(doc, state)
        self.save_sidecar(doc)

    def is_idle(self) -> bool:
        """Nothing loading, predicting, rendering or saving."""
        return not self.model_loading and not self.runner.busy and not self.samples_timer.isActive()
