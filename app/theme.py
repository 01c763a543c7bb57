"""A dark, neutral theme (photo tools keep the surroundings gray so colours are judged fairly)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app.resources import icon_path

STYLE_FILE = Path(__file__).with_name("style.qss")


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    base, window, text = QColor(38, 38, 41), QColor(48, 48, 52), QColor(222, 222, 226)
    pal.setColor(QPalette.Window, window)
    pal.setColor(QPalette.WindowText, text)
    pal.setColor(QPalette.Base, base)
    pal.setColor(QPalette.AlternateBase, QColor(44, 44, 48))
    pal.setColor(QPalette.ToolTipBase, QColor(60, 60, 64))
    pal.setColor(QPalette.ToolTipText, text)
    pal.setColor(QPalette.Text, text)
    pal.setColor(QPalette.Button, QColor(58, 58, 62))
    pal.setColor(QPalette.ButtonText, text)
    pal.setColor(QPalette.BrightText, QColor(255, 90, 90))
    pal.setColor(QPalette.Highlight, QColor(74, 132, 196))
    pal.setColor(QPalette.HighlightedText, QColor(255, 255, 255))
    pal.setColor(QPalette.Link, QColor(110, 160, 220))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, QColor(120, 120, 125))
    app.setPalette(pal)
    if STYLE_FILE.exists():
        app.setStyleSheet(STYLE_FILE.read_text(encoding="utf-8"))
    app.setWindowIcon(app_icon())


def app_icon() -> QIcon:
    """The program's icon (``resources/colorizer.png``); an empty icon if the file is missing."""
    path = icon_path()
    return QIcon(str(path)) if path is not None else QIcon()
