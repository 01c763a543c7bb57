"""Screenshot tour for visual checks: ``python tools/screenshot_tour.py OUTDIR PHOTO... [--reference R] [--weights W]``.

Drives the real window through the main steps (open, split view, sliders, samples, reference,
a brushed hint, uncertainty, side by side, batch dialog) and saves one PNG per step.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from app.main import wait_until
from app.settings_store import SettingsStore


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("photos", nargs="+")
    p.add_argument("--reference")
    p.add_argument("--weights")
    p.add_argument("--size", default="1400x880")
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    from app.main_window import MainWindow
    from app.theme import apply_dark_theme

    apply_dark_theme(app)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp())  # settings, and copies of the photos: the tour's edits stay out of yours
    store = SettingsStore(QSettings(str(scratch / "s.ini"), QSettings.IniFormat))
    photos = [shutil.copy(p, scratch) for p in args.photos]
    win = MainWindow(weights=args.weights, device="cpu", store=store, interactive=False, recipes_dir=scratch)
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    win.show()

    def idle() -> None:
        wait_until(lambda: win.is_idle() and (win.session.doc is None or win.session.doc.ready or win.session.doc.error), 180)
        wait_until(lambda: False, 0.3)

    def shot(name: str, widget=None) -> None:
        idle()
        (widget or win).grab().save(str(out / f"{name}.png"))
        print(out / f"{name}.png")

    idle()
    shot("00-empty")
    win.open_files(photos)
    shot("01-opened-split")
    win.adjust.set_value("chroma_gain", 1.4)
    win.adjust.set_value("temperature", 0.6)
    shot("02-adjusted")
    win.tabs.setCurrentWidget(win.samples)
    wait_until(lambda: len(win.samples.buttons) > 0, 60)
    shot("03-samples")
    win.edits.adopt_sample(1)
    win.set_view_mode("result")
    shot("04-sample-adopted")
    win.actions.undo.trigger()
    win.tabs.setCurrentWidget(win.energy)
    if args.reference:
        win.edits.set_reference(args.reference)
        shot("05-reference")
    win.edits.add_brushed_hint([(0.2, 0.3), (0.35, 0.35), (0.45, 0.3)], 0.04, (60, 120, 200))
    win.energy.set_brush_color(QColor(60, 120, 200))
    win.set_brush(True)
    shot("06-hint")
    win.set_brush(False)
    win.set_view_mode("uncertainty")
    shot("07-uncertainty")
    win.set_view_mode("side")
    win.zoom(1.0)
    shot("08-side-by-side-100")
    win.zoom(None)
    win.set_view_mode("split")
    win.tabs.setCurrentWidget(win.adjust)
    shot("09-final-split")
    dlg = win.batch_dialog()
    dlg.show()
    shot("10-batch-dialog", dlg)
    dlg.close()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
