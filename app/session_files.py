"""The session's writes: each photo's recipe beside it (sidecar), saving the active photo's picture, and
what an export of the open photos needs. A mixin of :class:`app.session.Session` (it uses the
session's runner, sidecars, model, documents and its ``message``/``problem`` signals)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from colorizer.export import ExportOptions
from colorizer.messages import one_line
from colorizer.recipe import Recipe

from app import jobs
from app.document import Document

if TYPE_CHECKING:
    from colorizer.recipe import ModelRef
    from colorizer.sidecars import SidecarStore

    from app.workers import Runner


class SessionFiles:
    """Sidecar writes, saving and export items of the session's photos."""

    runner: "Runner"
    sidecars: "SidecarStore"
    model: "ModelRef | None"
    docs: list[Document]
    doc: Document | None

    def save_sidecar(self, doc: Document, wait: bool = False) -> None:
        """Write ``doc``'s recipe beside the photo (in the background, or now with ``wait``) unless it is
        already there. Writes of one photo never overtake each other (see :meth:`_write_sidecar`)."""
        if doc.photo_sha256 is None or doc.state == doc.saved_state:
            return
        state = doc.state

        def saved(path: Path | None) -> None:
            if path is not None:
                doc.saved_state, doc.edits_saved = state, True

        def failed(exc: BaseException) -> None:
            self.problem.emit("Cannot save edits", f"The edits of {doc.name} could not be saved:\n\n{one_line(exc)}")

        if wait:
            try:
                saved(self._write_sidecar(doc, state))
            except OSError as exc:
                failed(exc)
            return
        self.runner.submit_latest(f"sidecar {id(doc)}", self._write_sidecar, doc, state, on_done=saved,
                                  on_error=failed, label="")

    def _write_sidecar(self, doc: Document, state: Recipe) -> Path | None:
        """Write ``state`` if it still is ``doc``'s recipe (else a newer write follows): under the
        document's lock, so an older recipe can never land after a newer one. Any thread."""
        with doc.sidecar_lock:
            if doc.state is not state:
                return None
            recipe = state.replace(model=self.model) if self.model is not None else state
            return self.sidecars.save(doc.path, recipe, doc.photo_sha256)

    def save(self, path: str | Path, options: ExportOptions | None = None,
             on_done: Callable[[Path], None] | None = None, replace: bool = False) -> None:
        """Save the active photo's picture (full resolution unless ``options`` reduce it; background;
        metadata kept). ``options.format`` follows the file's extension here; with ``replace=False`` an
        existing file is kept and the picture takes the next free number."""
        doc = self.doc
        if doc is None or doc.prediction is None or self.colorizer is None:
            return
        state = doc.state
        rgb8 = doc.full_rgb8 if doc.full_state is state else None
        self.message.emit(f"Saving {Path(path).name}…")

        def done(p: Path) -> None:
            self.message.emit(f"Saved {p}")
            if on_done is not None:
                on_done(p)

        def failed(exc: BaseException) -> None:
            self.problem.emit("Cannot save", f"The photo could not be saved:\n\n{one_line(exc)}")

        options = options or ExportOptions()
        self.runner.submit(jobs.save_job, doc.prediction, doc.loaded, state, doc.cache, rgb8, Path(path), options,
                           replace, on_done=done, on_error=failed, label="Saving")

    def export_items(self, every: bool) -> list[jobs.ExportItem]:
        """What an export of the open photos (``every``) or of the active one needs, as seen now."""
        docs = [d for d in (self.docs if every else [self.doc]) if d is not None and d.error is None]
        return [jobs.ExportItem(d.path, d.state, d.loaded, d.prediction, d.cache, d.loaded is not None, self.sidecars)
                for d in docs]
