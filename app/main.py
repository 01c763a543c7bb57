"""``colorizer-app``: start the desktop colouriser (or render a screenshot and exit).

Start-up order, so a window is on screen at once: check Qt's X11 libraries (one clear line if some
are missing), create the application, show the launch window, import the library in the background,
then put the main window in its place; the colouriser loads in the background after that.
``--screenshot`` never writes settings (view mode, recent files, geometry stay as they were).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.launch import BackgroundImport, LaunchWindow, StartupTrace, when_exposed
from app.platform_check import xcb_problem
from app.settings_store import APPLICATION, ORGANIZATION, SettingsStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="colorizer-app", description="Bring colour to black-and-white photos.")
    p.add_argument("files", nargs="*", help="photos (or folders) to open")
    p.add_argument("--samples", action="store_true", help="open the sample photos that come with the program")
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
    session = window.session

    def settled() -> bool:
        if not window.is_idle():
            return False
        doc = session.doc
        return doc is None or doc.error is not None or doc.ready or session.colorizer is None
    from app.imaging import qimage_to_rgb8
    from colorizer.imageio import ImageWriteError, save_image

    ok = wait_until(settled, timeout)
    wait_until(lambda: False, 0.3)
    rgb = qimage_to_rgb8(window.grab().toImage())
    try:
        save_image(Path(out), rgb, protect=inputs)
    except ImageWriteError as exc:
        print(f"colorizer-app: {exc}", file=sys.stderr)
        return 1
    if session.model_error:
        print(f"colorizer-app: {session.model_error}", file=sys.stderr)
    for doc in session.docs:
        if doc.error:
            print(f"colorizer-app: {doc.error}", file=sys.stderr)
    if not ok:
        print("colorizer-app: timed out waiting for the colour result", file=sys.stderr)
        return 1
    if session.colorizer is None or (session.doc is not None and session.doc.error is not None):
        return 1
    return 0


def build_window(args: argparse.Namespace, store: SettingsStore):
    """The main window as the command line asks (imports the library: seconds on first use)."""
    from app.main_window import MainWindow

    window = MainWindow(weights=args.weights, device=args.device, store=store, interactive=args.screenshot is None)
    if args.mode:
        window.set_view_mode(args.mode)
    if args.tab:
        window.tabs.setCurrentIndex({"adjust": 0, "samples": 1, "energy": 2}[args.tab])
    return window


def open_requested(window, args: argparse.Namespace) -> None:
    if args.files:
        QTimer.singleShot(0, lambda: window.open_files(args.files))
    elif args.samples:
        QTimer.singleShot(0, window.open_sample_photos)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    problem = xcb_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    trace = StartupTrace.from_env()
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from app.theme import apply_dark_theme

    apply_dark_theme(app)
    store = SettingsStore(read_only=args.screenshot is not None)
    if args.screenshot:
        return screenshot(args, store)
    launch = LaunchWindow(store)
    launch.show()
    when_exposed(launch, lambda: trace.mark("window"))
    held: dict = {}

    def imported(error: str | None) -> None:
        if error is not None:
            launch.statusBar().showMessage(f"The colouriser cannot start: {error}")
            print(f"colorizer-app: {error}", file=sys.stderr)
            return
        window = held["window"] = build_window(args, store)
        window.documentReady.connect(lambda _doc: trace.mark("first_colour"))
        window.setGeometry(launch.geometry())
        window.show()
        launch.hide()
        launch.deleteLater()
        when_exposed(window, lambda: trace.mark("main_window"))
        open_requested(window, args)

    loader = BackgroundImport("app.main_window", launch)
    loader.done.connect(imported)
    loader.start()
    return app.exec()


def screenshot(args: argparse.Namespace, store: SettingsStore) -> int:
    """Open FILES, wait for the colour, save a picture of the window, exit (settings untouched)."""
    window = build_window(args, store)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        w, h = 1400, 880
    window.resize(w, h)
    window.show()
    open_requested(window, args)
    wait_until(lambda: False, 0.1)
    status = take_screenshot(window, args.screenshot, args.timeout, tuple(Path(f) for f in args.files))
    window.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
