"""The window's long-running dialogs (export of the open photos, batch export of a folder): each is
built from the window's state, one at a time (a running one is shown again)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from colorizer.recipe import Recipe

from app.batch_dialog import BatchDialog
from app.cancellable_dialog import reuse_running
from app.export_dialog import ExportDialog
from app.export_options import load_export_options, save_export_options

if TYPE_CHECKING:
    from app.main_window import MainWindow


def open_export_dialog(w: "MainWindow") -> ExportDialog:
    """Export the open photos, each with its own edits (one export at a time)."""
    old = reuse_running(w._export)
    if old is not None:
        return old
    dlg = ExportDialog(w.session.export_items, lambda: w.session.colorizer, w.runner, load_export_options(w.store),
                       w.store.folder("export"), len(w.session.docs), parent=w)
    dlg.finished_export.connect(lambda *_: (save_export_options(w.store, dlg.options()),
                                            w.store.set_folder("export", dlg.folder.text())))
    w._export = dlg
    if w.interactive:
        dlg.open()
    return dlg


def open_batch_dialog(w: "MainWindow") -> BatchDialog:
    """The batch export dialog (one batch at a time: a running one is shown again)."""
    old = reuse_running(w._batch)
    if old is not None:
        return old
    doc = w.session.doc
    looks = {f"This photo's look ({doc.name})": doc.state.look()} if doc is not None else {}
    if w.edits.copied_look is not None:
        looks["The copied look"] = w.edits.copied_look
    default = w.store.default_look()
    if default is not None:
        looks[f"The default look “{default[0]}”"] = default[1]
    looks["Default settings"] = Recipe(settings=w.session.default_settings())
    dlg = BatchDialog(lambda: w.session.colorizer, looks, w.session.sidecars, w.runner,
                      input_dir=str(w.store.value("folders/batch_in", "")) or (str(doc.path.parent) if doc else ""),
                      output_dir=str(w.store.value("folders/batch_out", "")), parent=w)
    dlg.finished_report.connect(lambda _r: (w.store.set_folder("batch_in", dlg.input.text()),
                                            w.store.set_folder("batch_out", dlg.output.text())))
    w._batch = dlg
    if w.interactive:
        dlg.open()
    return dlg
