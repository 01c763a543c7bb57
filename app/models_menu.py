"""The Model menu's part about models: the user's own models (with their figures), "Teach from my
colour photos…", "Manage my models…", the side-by-side comparison with the bundled model, opening
a weights file and the current model's provenance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from colorizer.train.finetune import FinetuneConfig

from app.cancellable_dialog import reuse_running
from app.finetune_dialog import FinetuneDialog, StartModel
from app.manage_models_dialog import ManageModelsDialog
from app.model_compare import ModelComparison
from app.presenter import model_provenance, model_title
from app.user_models import ModelLibrary

if TYPE_CHECKING:
    from app.main_window import MainWindow


class ModelsMenu(QObject):
    """Fills the Model menu with the user's models and the actions around them (composed into the window).

    ``bundled_path`` (the start of a fine-tune) and ``finetune_config`` can be replaced (tests use a tiny model).
    """

    def __init__(self, window: "MainWindow", library: ModelLibrary) -> None:
        super().__init__(window)
        from colorizer.weights import default_weights_path

        self.w, self.library = window, library
        self.bundled_path: Path = default_weights_path()
        self.finetune_config: FinetuneConfig | None = None
        self.comparison = ModelComparison(window)
        self.user_actions: list[QAction] = []
        self._teach: FinetuneDialog | None = None
        self._manage: ManageModelsDialog | None = None
        self._compare_next: str | None = None  # a new model: compare once it has loaded
        a = window.actions
        self.teach = a._make("&Teach from my colour photos…", self.teach_dialog,
                             tip="Fine-tune the colouriser on your own colour photos of the same people and places")
        self.manage = a._make("&Manage my models…", self.manage_dialog, tip="Rename or delete the models you taught")
        self.compare = a._make("Compare with the bundled model &side by side", tip="The bundled model's colours "
                               "(left) beside the model in use (right), with the same edits")
        self.compare.setCheckable(True)
        self.compare.toggled.connect(self._on_compare_toggled)
        self.comparison.activeChanged.connect(self.compare.setChecked)
        menu, anchor = a.model_menu, a.weights
        self.anchor = menu.insertSeparator(anchor)  # the user's models go between the bundled one and this
        menu.insertActions(a.about_model, [self.teach, self.manage, self.compare])
        menu.insertSeparator(a.about_model)
        window.session.modelChanged.connect(self.show_model)
        self.refresh()

    # ----- the user's models in the menu --------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the library and rebuild its entries in the menu."""
        menu = self.w.actions.model_menu
        for act in self.user_actions:
            menu.removeAction(act)
            act.deleteLater()
        self.user_actions = []
        for m in self.library.models():
            act = self.w.actions._make(m.menu_text(), lambda p=str(m.path): self.use(p))
            act.setCheckable(True)
            act.setData(str(m.path))
            act.setToolTip("\n".join(m.lines()))
            act.setStatusTip(" ".join(m.lines()[:1]))
            act.setEnabled(m.summary.get("kind") != "broken")
            self.user_actions.append(act)
        menu.insertActions(self.anchor, self.user_actions)
        menu.setToolTipsVisible(True)
        self.manage.setEnabled(bool(self.user_actions))
        self.show_model()

    def use(self, path: str | None) -> None:
        """Use the model in ``path`` (None: the bundled one) from now on."""
        self.w.session.set_weights(path)
        self.show_model()

    def show_model(self) -> None:
        """Tick the model in use; the comparison needs one of the user's models (or any weights file)."""
        s = self.w.session
        for act in self.user_actions:
            act.setChecked(s.weights is not None and act.data() == s.weights)
        if self._compare_next is not None and not s.model_loading and s.colorizer is not None:
            if s.weights == self._compare_next and self.comparison.available():
                self.compare.setChecked(True)  # a new model: shown beside the bundled one at once
            self._compare_next = None
        self.compare.setEnabled(self.comparison.available() or self.comparison.active)

    def _on_compare_toggled(self, on: bool) -> None:
        if self.comparison.set_active(on) != on:
            self.compare.setChecked(False)

    # ----- dialogs --------------------------------------------------------------------------------------
    def starts(self) -> list[StartModel]:
        """What a fine-tune can start from: the bundled model, and the model in use when it is another."""
        out = [StartModel("The bundled model", self.bundled_path)]
        s = self.w.session
        if s.weights is not None and Path(s.weights).is_file():
            out.append(StartModel(f"The model in use ({model_title(s)})", Path(s.weights)))
        return out

    def teach_dialog(self, folder: str | None = None) -> FinetuneDialog:
        """Teach from my colour photos (one at a time: a running one is shown again)."""
        old = reuse_running(self._teach)
        if old is not None:
            return old
        start = folder if folder is not None else str(self.w.store.value("folders/finetune", ""))
        dlg = FinetuneDialog(self.w.runner, self.library, self.starts(), self.finetune_config, start, parent=self.w)
        dlg.modelCreated.connect(self._on_created)
        dlg.folder.editingFinished.connect(lambda: self.w.store.set_folder("finetune", dlg.folder.text()))
        self._teach = dlg
        if self.w.interactive:
            dlg.open()
        return dlg

    def cancel_running(self) -> None:
        """Stop a running fine-tune (the window is closing): nothing is stored."""
        if self._teach is not None and self._teach.running and self._teach.control is not None:
            self._teach.control.cancel()

    def _on_created(self, path: str) -> None:
        """A new model: list it, use it, and show it beside the bundled model."""
        self.refresh()
        self._compare_next = path
        self.use(path)
        self.w.session.message.emit(f"Using your model “{Path(path).stem}”; the bundled model is on the left")

    def manage_dialog(self) -> ManageModelsDialog:
        """Rename or delete the user's models."""
        if self._manage is not None:
            self._manage.deleteLater()
        dlg = ManageModelsDialog(self.library, lambda: self.w.session.weights, parent=self.w)
        dlg.changed.connect(self._on_library_changed)
        self._manage = dlg
        if self.w.interactive:
            dlg.open()
        return dlg

    def _on_library_changed(self, old: str, new: str) -> None:
        """A model was renamed (``new``) or deleted (``new`` empty): follow it if it is in use."""
        if self.w.session.weights == old:
            self.use(new or None)
        self.refresh()

    def open_weights_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a weights file", self.w.store.folder("weights"),
                                              "Weights (*.safetensors);;All files (*)")
        if path:
            self.w.store.set_folder("weights", str(Path(path).parent))
            self.use(path)

    def about_model(self) -> None:
        text = "\n".join(model_provenance(self.w.session))
        self.w.message.setText(text.splitlines()[0])
        if self.w.interactive:
            QMessageBox.information(self.w, "The current model", text)
