"""Measure the app's responsiveness: ``python benchmarks/app_responsiveness.py PHOTO [--weights W]``.

Prints JSON: seconds from opening the photo to its colour result on screen, and preview-render
latency while a slider is dragged (simulated at 30 steps per second, event loop running), plus
the largest gap the GUI thread left between two timer ticks (a freeze would show here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.main import wait_until
from app.settings_store import SettingsStore


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("photo")
    p.add_argument("--weights")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    from app.main_window import MainWindow

    scratch = tempfile.mkdtemp()  # settings, and a copy of the photo: the measured edits stay out of yours
    store = SettingsStore(QSettings(os.path.join(scratch, "s.ini"), QSettings.IniFormat))
    photo = shutil.copy(args.photo, scratch)
    win = MainWindow(weights=args.weights, device=args.device, store=store, interactive=False, recipes_dir=Path(scratch))
    win.resize(1400, 880)
    win.show()
    wait_until(lambda: not win.session.model_loading, 120)
    if win.session.colorizer is None:
        print(json.dumps({"error": win.errors}))
        return 1
    shown: list[float] = []
    win.documentReady.connect(lambda _d: shown.append(time.perf_counter()))
    gui_ticks: list[float] = []
    ticker = QTimer()
    ticker.setInterval(20)
    ticker.timeout.connect(lambda: gui_ticks.append(time.perf_counter()))
    ticker.start()
    c0 = time.process_time()
    t0 = time.perf_counter()
    win.open_files([photo])
    wait_until(lambda: bool(shown), 120)
    first = shown[0] - t0
    cpu_first = time.process_time() - c0
    ticker.stop()
    open_gap = max((b - a for a, b in zip(gui_ticks, gui_ticks[1:])), default=0.0)
    doc = win.session.doc
    wait_until(win.is_idle, 60)

    # a slider drag: 30 value changes per second while the event loop runs
    slider = win.adjust.sliders["chroma_gain"]
    win.session.render_latencies.clear()
    ticks: list[float] = []
    values = [100 + round(150 * abs((i % 40) - 20) / 20) for i in range(args.steps)]
    slider.setSliderDown(True)
    timer = QTimer()
    timer.setInterval(33)

    def step() -> None:
        ticks.append(time.perf_counter())
        if values:
            slider.setValue(values.pop(0))
        else:
            timer.stop()
    timer.timeout.connect(step)
    t_drag = time.perf_counter()
    timer.start()
    wait_until(lambda: not timer.isActive(), 60)
    slider.setSliderDown(False)
    win.adjust._commit()
    drag_seconds = time.perf_counter() - t_drag
    t_release = time.perf_counter()
    frames = len(win.session.render_latencies)
    wait_until(win.is_idle, 60)
    settle = time.perf_counter() - t_release
    lat = win.session.render_latencies
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    out = {
        "photo": args.photo, "size": doc.loaded.size, "device": str(win.session.colorizer.device),
        "open_to_colour_s": round(first, 3), "open_to_colour_cpu_s": round(cpu_first, 3),
        "predict_s": round(doc.timings.get("predict", 0), 3), "gui_max_gap_while_opening_s": round(open_gap, 3),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "drag_frames_per_s": round(frames / drag_seconds, 1),
        "drag_latency_median_s": round(statistics.median(lat), 3) if lat else None,
        "drag_latency_max_s": round(max(lat), 3) if lat else None,
        "release_to_final_s": round(settle, 3),
        "gui_max_gap_while_dragging_s": round(max(gaps), 3) if gaps else None,
    }
    print(json.dumps(out))
    win.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
