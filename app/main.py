"""``colorizer-app``: start the desktop colouriser (or render a screenshot and exit)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.imaging import qimage_to_rgb8
from app.settings_store import APPLICATION, ORGANIZATION
from colorizer.imageio import ImageWriteError, save_image


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="colorizer-app", description="Bring colour to black-and-white photos.")
    p.add_argument("files", nargs="*", help="photos (or folders) to open")
    p.add_argument("--weights", help="weights file (default: the bundled model)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where the network runs (default: last used)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="open FILES, wait for the colour result, save a picture of the window and exit")
    p.add_argument("--size", default="1400x880", help="window size WxH (for --screenshot)")
    p.add_argument("--mode", choices=("result", "original", "split", "uncertainty", "side"),
                   help="view mode to start in")
    p.add_argument("--tab", choices=("adjust", "samples", "energy"), help="side panel to show")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for --screenshot")
    return p.parse_args(argv)


def wait_until(predicate, timeout: float) -> bool:
    """Process events until ``predicate()`` holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.AllEvents, 50)
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def take_screenshot(window, out: str | Path, timeout: float, inputs: tuple[Path, ...] = ()) -> int:
    """Wait for the window to settle, then save ``window.grab()`` to ``out`` (atomically, never over
    one of ``inputs``); returns an exit status."""
    def settled() -> bool:
        if not window.is_idle():
            return False
        doc = window.doc
        return doc is None or doc.error is not None or doc.ready or window.colorizer is None
    ok = wait_until(settled, timeout)
    wait_until(lambda: False, 0.3)
    rgb = qimage_to_rgb8(window.grab().toImage())
    try:
        save_image(Path(out), rgb, protect=inputs)
    except ImageWriteError as exc:
        print(f"colorizer-app: {exc}", file=sys.stderr)
        return 1
    if window.model_error:
        print(f"colorizer-app: {window.model_error}", file=sys.stderr)
    for doc in window.docs:
        if doc.error:
            print(f"colorizer-app: {doc.error}", file=sys.stderr)
    if not ok:
        print("colorizer-app: timed out waiting for the colour result", file=sys.stderr)
        return 1
    if window.colorizer is None or (window.doc is not None and window.doc.error is not None):
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from app.main_window import MainWindow
    from app.theme import apply_dark_theme

    apply_dark_theme(app)
    window = MainWindow(weights=args.weights, device=args.device, interactive=args.screenshot is None)
    if args.screenshot:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            w, h = 1400, 880
        window.resize(w, h)
    if args.mode:
        window.set_view_mode(args.mode)
    if args.tab:
        window.tabs.setCurrentIndex({"adjust": 0, "samples": 1, "energy": 2}[args.tab])
    window.show()
    if args.files:
        QTimer.singleShot(0, lambda: window.open_files(args.files))
    if args.screenshot:
        wait_until(lambda: False, 0.1)
        status = take_screenshot(window, args.screenshot, args.timeout, tuple(Path(f) for f in args.files))
        window.close()
        return status
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
