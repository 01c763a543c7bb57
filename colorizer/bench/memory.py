"""Peak memory of one photo taken file -> file through ``colorizer colorize``, in a fresh process.

The photo is a synthetic 8-bit gray PNG (written strip by strip, so making an 81 MP one is cheap);
``colorizer colorize PHOTO -o OUT`` runs in a child process, and its peak resident memory is read
from the kernel when it ends (``wait4``): interpreter, torch, the model and the photo, exactly what
a user's run needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from colorizer.bench.timing import synthetic_photo
from colorizer.pipeline import WORKING_SIZE

BAND_ROWS = 1024


def write_synthetic_png(path: Path, h: int, w: int) -> Path:
    """A photo-like gray PNG of (h, w), made in bands (bounded memory even at 81 MP)."""
    from PIL import Image

    img = Image.new("L", (w, h))
    for r0 in range(0, h, BAND_ROWS):
        band = synthetic_photo(min(BAND_ROWS, h - r0), w, seed=r0)
        img.paste(Image.fromarray(band), (0, r0))
    img.save(path, compress_level=1)
    return path


def _child_peak_mb(cmd: list[str], timeout: float, log: Path) -> tuple[int, float, str, float]:
    """Run ``cmd`` (stderr to ``log``); (exit status, its peak RSS in MB, stderr's last line, seconds)."""
    start = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage (Popen has not reaped it)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = log.read_text(errors="replace").strip().splitlines()
    return proc.returncode, usage.ru_maxrss / 1024, lines[-1] if lines else "", time.perf_counter() - start


def measure_peak_memory(size: tuple[int, int], device: str, working_size: int = WORKING_SIZE,
                        weights: str | None = None, timeout: float = 900) -> dict:
    """``colorizer colorize`` on a synthetic (h, w) gray PNG in a child process; its peak RSS and time."""
    h, w = size
    with tempfile.TemporaryDirectory() as tmp:
        src = write_synthetic_png(Path(tmp) / "photo.png", h, w)
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "colorizer.cli", "colorize", str(src), "-o", str(out), "--device", device,
               "--working-size", str(working_size), "-q"]
        if weights:
            cmd += ["--weights", str(weights)]
        code, peak, last, seconds = _child_peak_mb(cmd, timeout, Path(tmp) / "stderr.txt")
        written = out / "photo.png"
        ok = code == 0 and written.is_file()
        if ok:
            from PIL import Image

            with Image.open(written) as img:
                ok = img.size == (w, h)
    result = {"ok": ok, "width": w, "height": h, "megapixels": round(h * w / 1e6, 1),
              "peak_rss_mb": round(peak, 1), "file_to_file_s": round(seconds, 2), "how": "colorizer colorize, "
              "8-bit gray PNG in, PNG out; peak RSS of that process (wait4 ru_maxrss)"}
    if not ok:
        result["error"] = last or f"exit status {code}"
    return result


def peak_bytes_per_pixel(results: list[dict]) -> float | None:
    """Growth of peak memory with photo size, from two or more measured sizes (bytes per extra pixel)."""
    done = sorted((r["width"] * r["height"], r["peak_rss_mb"]) for r in results if r.get("ok"))
    if len(done) < 2 or done[-1][0] == done[0][0]:
        return None
    return round(float(np.float64(done[-1][1] - done[0][1]) * 2 ** 20 / (done[-1][0] - done[0][0])), 2)
