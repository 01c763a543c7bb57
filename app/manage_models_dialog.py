"""Manage my models: the user's models with their figures; rename or delete one."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from colorizer.messages import one_line

from app.user_models import ModelLibrary, UserModel


class ManageModelsDialog(QDialog):
    """A list of the library's models; ``changed(old_path, new_path)`` after a rename ("" for a delete).

    ``ask_name(model)`` and ``confirm(model)`` are the questions the buttons ask (tests replace them)."""

    changed = Signal(str, str)

    def __init__(self, library: ModelLibrary, in_use: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("My models")
        self.setMinimumSize(560, 320)
        self.library, self.in_use = library, in_use
        self.list = QListWidget()
        self.list.setObjectName("modelsList")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete…")
        self.rename_button.clicked.connect(lambda: self.rename())
        self.delete_button.clicked.connect(lambda: self.delete())
        side = QVBoxLayout()
        side.addWidget(self.rename_button)
        side.addWidget(self.delete_button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Models you taught, kept in {library.folder}"))
        layout.addLayout(row, 1)
        layout.addWidget(self.details)
        layout.addWidget(close)
        self.list.currentRowChanged.connect(self._show_details)
        self.ask_name: Callable[[UserModel], str | None] = self._ask_name
        self.confirm: Callable[[UserModel], bool] = self._confirm
        self.refresh()

    def models(self) -> list[UserModel]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def refresh(self, select: str | None = None) -> None:
        """Re-read the library (keeping the selection, or selecting the model called ``select``)."""
        current = self.current()
        wanted = select or (current.name if current is not None else None)
        self.list.clear()
        for m in self.library.models():
            item = QListWidgetItem(m.menu_text())
            item.setData(Qt.UserRole, m)
            item.setToolTip("\n".join(m.lines()))
            self.list.addItem(item)
            if m.name == wanted:
                self.list.setCurrentItem(item)
        if self.list.currentRow() < 0 and self.list.count():
            self.list.setCurrentRow(0)
        self._show_details(self.list.currentRow())

    def current(self) -> UserModel | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.UserRole)

    def _show_details(self, _row: int) -> None:
        m = self.current()
        self.rename_button.setEnabled(m is not None)
        self.delete_button.setEnabled(m is not None)
        if m is None:
            self.details.setText("No models yet: Model ▸ Teach from my colour photos… makes one.")
        else:
            self.details.setText("\n".join([m.name] + m.lines()))

    def rename(self, new_name: str | None = None) -> UserModel | None:
        """Rename the selected model (asks for the name unless given)."""
        m = self.current()
        if m is None:
            return None
        new_name = new_name if new_name is not None else self.ask_name(m)
        if not new_name or new_name.strip() == m.name:
            return None
        try:
            renamed = self.library.rename(m, new_name)
        except (ValueError, OSError) as exc:
            self.details.setText(f"Cannot rename “{m.name}”: {one_line(exc)}")
            return None
        self.refresh(select=renamed.name)
        self.changed.emit(str(m.path), str(renamed.path))
        return renamed

    def delete(self, confirmed: bool | None = None) -> bool:
        """Delete the selected model's file (asks first unless ``confirmed``)."""
        m = self.current()
        if m is None or not (confirmed if confirmed is not None else self.confirm(m)):
            return False
        try:
            self.library.delete(m)
        except (ValueError, OSError) as exc:
            self.details.setText(f"Cannot delete “{m.name}”: {one_line(exc)}")
            return False
        self.refresh()
        self.changed.emit(str(m.path), "")
        return True

    def _ask_name(self, m: UserModel) -> str | None:
        name, ok = QInputDialog.getText(self, "Rename model", "New name:", text=m.name)
        return name if ok else None

    def _confirm(self, m: UserModel) -> bool:
        extra = " It is the model in use; the bundled model takes its place." if self.in_use() == str(m.path) else ""
        answer = QMessageBox.question(self, "Delete model", f"Delete “{m.name}”? Its file is removed.{extra}")
        return answer == QMessageBox.Yes
