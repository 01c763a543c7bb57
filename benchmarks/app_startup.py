"""Launch-to-window and launch-to-first-colour of ``colorizer-app``: ``python benchmarks/app_startup.py
[PHOTO] [--runs N]``.

Starts the real program N times as a new process (fresh settings, a copy of the photo in a scratch
folder, so your settings and sidecars are untouched) on the current display (run it under Xvfb, e.g.
``xvfb-run -a python benchmarks/app_startup.py``; without a display it uses Qt's offscreen platform)
and reads the moments it reports with ``COLORIZER_STARTUP_T0`` (``app.launch.StartupTrace``):
``window`` (the first window on screen), ``main_window`` (the full window in its place) and
``first_colour`` (the photo's first colour result shown), in seconds since the process was started.
Prints one JSON object: every run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVENTS = ("window", "main_window", "first_colour")


def one_run(photo: Path, timeout: float) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="colorizer-startup-"))
    try:
        copy = shutil.copy(photo, scratch)
        env = dict(os.environ, XDG_CONFIG_HOME=str(scratch / "config"), XDG_DATA_HOME=str(scratch / "data"),
                   PYTHONPATH=str(REPO))
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        env["COLORIZER_STARTUP_T0"] = repr(time.time())
        proc = subprocess.Popen([sys.executable, "-m", "app.main", str(copy)], cwd=REPO, env=env,
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        seen: dict[str, float] = {}
        end = time.monotonic() + timeout
        try:
            while "first_colour" not in seen and time.monotonic() < end:
                line = proc.stderr.readline()
                if not line:
                    break
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and event.get("event") in EVENTS:
                    seen[event["event"]] = float(event["seconds"])
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        return seen
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photo", nargs="?", default=str(REPO / "resources" / "samples" / "cameraman.jpg"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args(argv)
    runs = [one_run(Path(args.photo), args.timeout) for _ in range(args.runs)]
    medians = {e: round(statistics.median(r[e] for r in runs), 2) for e in EVENTS if all(e in r for r in runs)}
    print(json.dumps({"photo": Path(args.photo).name, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                      "display": os.environ.get("DISPLAY", "offscreen"), "runs": runs, "median_seconds": medians},
                     indent=1))
    return 0 if len(medians) == len(EVENTS) else 1


if __name__ == "__main__":
    sys.exit(main())
