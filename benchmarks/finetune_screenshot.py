"""Screenshots of the app's "Teach it your colours" flow, for docs/ (run under a real X server or Xvfb).

The real window with the bundled model: the sample photos open, Model ▸ Teach from my colour photos…
on a folder of colour photos, a shot while it trains (progress bar, ETA, Cancel, Finish now), then,
once the new model is stored, used and shown beside the bundled model, a second shot. Models go to a
temporary data folder; the user's settings are never written (read-only store).

Usage: DISPLAY=:99 python benchmarks/finetune_screenshot.py PHOTO_FOLDER OUT_TRAINING.png OUT_COMPARE.png
       [--at-step N] [--size 1400x880] [--start FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication


def wait(app: QApplication, predicate, timeout: float) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.05)
    return False


def grab(window, out: Path) -> None:
    """The whole screen area of the window and its dialogs (what a user sees), as a PNG."""
    QApplication.processEvents()
    screen = QGuiApplication.primaryScreen()
    frame: QRect = window.frameGeometry()
    shot = screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
    shot.save(str(out))
    print(f"wrote {out}", file=sys.stderr)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", type=Path)
    p.add_argument("training_png", type=Path)
    p.add_argument("compare_png", type=Path)
    p.add_argument("--at-step", type=int, default=60, help="training step of the first shot")
    p.add_argument("--open", type=Path, nargs="*", default=[], help="black-and-white photos to open (default: the samples)")
    p.add_argument("--size", default="1400x880")
    p.add_argument("--start", type=Path, help="fine-tune from this model (made the model in use) instead of the "
                                              "bundled one, e.g. a cross-validation fold model that never saw the photos")
    p.add_argument("--timeout", type=float, default=1800.0)
    args = p.parse_args(argv)
    from app.main import APPLICATION, ORGANIZATION
    from app.main_window import MainWindow
    from app.resources import sample_photos
    from app.settings_store import SettingsStore

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([])
    from app.theme import apply_dark_theme

    apply_dark_theme(app)
    w_px, h_px = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="finetune-shot-") as tmp:
        win = MainWindow(store=SettingsStore(read_only=True), interactive=True, recipes_dir=Path(tmp) / "recipes",
                         models_dir=Path(tmp) / "models")
        win.resize(w_px, h_px)
        win.move(0, 0)
        win.show()
        wait(app, lambda: win.session.colorizer is not None, 120)
        if args.start is not None:
            win.models.use(str(args.start))
            wait(app, lambda: win.session.weights == str(args.start) and not win.session.model_loading, 120)
        win.open_files(args.open or sample_photos())
        wait(app, lambda: win.session.doc is not None and win.session.doc.ready and win.is_idle(), 300)
        dlg = win.models.teach_dialog(str(args.photos))
        dlg.move(win.x() + (w_px - dlg.width()) // 2, win.y() + 140)
        if args.start is not None:
            dlg.start_from.setCurrentIndex(dlg.start_from.count() - 1)
        wait(app, lambda: dlg.screening is not None, 300)
        seen: list = []
        dlg._signals.progress.connect(seen.append)
        dlg.run()
        wait(app, lambda: any(s.phase == "training" and s.done >= args.at_step and s.eta_seconds for s in seen),
             args.timeout)
        grab(win, args.training_png)
        wait(app, lambda: not dlg.running, args.timeout)
        ok = wait(app, lambda: win.models.comparison.active and bool(win.view.left.layers["compare"].images)
                  and win.is_idle(), 300)
        print(dlg.status.text(), file=sys.stderr)
        dlg.close()
        menu, bar = win.actions.model_menu, win.menuBar()
        menu.popup(bar.mapToGlobal(bar.actionGeometry(menu.menuAction()).bottomLeft()))
        menu.setActiveAction(win.models.user_actions[-1] if win.models.user_actions else None)
        wait(app, lambda: False, 1.0)
        grab(win, args.compare_png)
        menu.close()
        win.close()
        return 0 if ok and dlg.created is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
