"""Screenshots of the real window for docs/: a green hint brushed over the lawn of cameraman.jpg,
across the tripod's legs, before and after (the colour fills the lawn and stops at the coat and the
legs). Run under a display: ``xvfb-run -a python benchmarks/hint_edge_screenshots.py [OUTDIR]``.
Settings and sidecars go to a scratch folder."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else REPO / "docs"
    app = QApplication.instance() or QApplication([])
    from app.main import wait_until
    from app.main_window import MainWindow
    from app.settings_store import SettingsStore
    from app.theme import apply_dark_theme

    apply_dark_theme(app)
    scratch = Path(tempfile.mkdtemp())
    photo = Path(shutil.copy(REPO / "resources" / "samples" / "cameraman.jpg", scratch))
    store = SettingsStore(QSettings(str(scratch / "s.ini"), QSettings.IniFormat))
    win = MainWindow(store=store, device="cpu", interactive=False, recipes_dir=scratch)
    win.resize(1400, 880)
    win.show()
    win.set_view_mode("result")
    win.open_files([photo])
    wait_until(lambda: win.session.doc is not None and win.session.doc.ready and win.is_idle(), 120)
    win.energy.set_brush_color(QColor(70, 175, 45))
    win.toggle_brush()
    v = win.view.main
    rect = v.image_rect()

    def at(x: float, y: float) -> QPoint:  # a point of the 512 x 512 photo in widget coordinates
        return QPoint(int(rect.left() + x / 512 * rect.width()), int(rect.top() + y / 512 * rect.height()))

    QTest.mouseMove(v, at(420, 330))
    wait_until(lambda: bool(v.layers["hover"].images) and win.is_idle(), 60)
    wait_until(lambda: False, 0.5)
    win.grab().save(str(out / "hint_edge_before.png"))
    stroke = [at(x, 430 - (x - 170) * 0.1) for x in range(170, 480, 20)]
    QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, stroke[0])
    for p in stroke[1:]:
        QTest.mouseMove(v, p)
        QTest.qWait(40)
    QTest.mouseRelease(v, Qt.LeftButton, Qt.NoModifier, stroke[-1])
    QTest.mouseMove(v, QPoint(5, 5))
    wait_until(lambda: len(win.session.doc.state.hints) == 1 and win.is_idle(), 120)
    wait_until(lambda: False, 1.0)
    win.grab().save(str(out / "hint_edge_after.png"))
    win.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
