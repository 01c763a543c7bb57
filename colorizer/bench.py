"""``colorizer bench``: timings (median and spread) and peak memory of the colouriser.

Cases: end-to-end colourisation at 512x512, ~1 MP and 12 MP (network ``predict`` + ``render``, and
separately file decode/encode), re-render after a settings change, one energy solve, batch
throughput (CPU, and CUDA where present) and the peak resident memory of a 12 MP photo taken
through the whole file -> file path in a fresh subprocess. Synthetic photo-like images are used,
so the figures do not depend on any data set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from colorizer.pipeline import Colorizer, RenderSettings

DEFAULT_SIZES = {"512x512": (512, 512), "1MP": (864, 1152), "12MP": (3000, 4000)}
TARGETS_CPU = {"512x512_end_to_end_s": 0.3, "12MP_end_to_end_s": 3.0, "12MP_peak_rss_mb": 1500.0}
TARGETS_CUDA = {"512x512_end_to_end_s": 0.015, "batch_images_per_s": 200.0}


@dataclass
class BenchConfig:
    """What to measure (tests use tiny sizes and a random model)."""

    weights: str | None = None
    device: str = "auto"
    repeats: int = 5
    working_size: int = 512
    sizes: dict[str, tuple[int, int]] | None = None
    batch_images: int = 16
    memory_size: tuple[int, int] | None = (3000, 4000)


class Samples(list):
    """Wall-clock seconds, with the process CPU seconds of each run in ``cpu``."""

    cpu: list[float]


def stats(samples: list[float]) -> dict:
    """Median and spread (IQR, min, max) in seconds; ``cpu_median_s`` (all threads) when known.

    On a busy machine wall-clock times spread widely; CPU time is steadier (with T threads busy,
    wall ~ cpu / T on an idle machine).
    """
    xs = sorted(samples)
    q = np.percentile(xs, [25, 75]) if len(xs) > 1 else (xs[0], xs[0])
    out = {"median_s": round(statistics.median(xs), 5), "iqr_s": round(float(q[1] - q[0]), 5),
           "min_s": round(xs[0], 5), "max_s": round(xs[-1], 5), "n": len(xs)}
    cpu = getattr(samples, "cpu", None)
    if cpu:
        out["cpu_median_s"] = round(statistics.median(cpu), 5)
    return out


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Samples:
    for _ in range(warmup):
        fn()
    out = Samples()
    out.cpu = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append(time.perf_counter() - start)
        out.cpu.append(time.process_time() - cpu)
    return out


def synthetic_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 gray image: smooth shapes, edges and grain (compresses like a real scan)."""
    rng = np.random.default_rng(seed)
    small = cv2.resize(rng.random((max(2, h // 64), max(2, w // 64))).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    x = (np.arange(w) // max(1, w // 7))[None, :]
    y = (np.arange(h) // max(1, h // 5))[:, None]
    small *= 0.6
    small += ((x + y) % 2).astype(np.float32) * 0.15 + 0.2
    small += rng.standard_normal((h, w), dtype=np.float32) * 0.02
    np.clip(small, 0, 1, out=small)
    small *= 255
    return small.astype(np.uint8)


def load_colorizer(weights: str | None, device: str, working_size: int,
                   workdir: Path) -> tuple[Colorizer, str | None, str]:
    """(colouriser, weights path or None for the bundled one, description), loading the file once.

    A random model of the same architecture stands in when the bundled weights are missing
    (timings are representative, colours are not); a named file that fails to load is an error.
    """
    from colorizer.weights import WeightsError

    try:
        return Colorizer.load(weights, device=device, working_size=working_size), weights, str(weights or "bundled")
    except WeightsError:
        if weights is not None:
            raise
    from colorizer.bins import BinScheme
    from colorizer.model import ModelConfig, build_model
    from colorizer.weights import save_weights

    path = str(save_weights(workdir / "random.safetensors", build_model(ModelConfig(), pretrained=False), BinScheme()))
    return Colorizer.load(path, device=device, working_size=working_size), path, "random (bundled weights missing)"


def bench_size(colorizer: Colorizer, name: str, shape: tuple[int, int], repeats: int, workdir: Path) -> dict:
    """predict, render, re-render, decode, encode and the whole file -> file path for one size."""
    from colorizer.imageio import load_image, save_image

    h, w = shape
    gray = synthetic_photo(h, w)
    src = workdir / f"in_{name}.jpg"
    cv2.imwrite(str(src), gray, [cv2.IMWRITE_JPEG_QUALITY, 92])
    image = load_image(src)
    sync = _sync(colorizer)
    pred = colorizer.predict_batch([image.lightness])[0]
    render = colorizer.render(pred)
    changed = RenderSettings(temperature=0.6, chroma_gain=1.3, hue_bias=0.5, hue_direction=0.25)
    out = workdir / f"out_{name}.png"

    def predict() -> None:
        colorizer.predict_batch([image.lightness])
        sync()

    def end_to_end() -> None:
        colorizer.render(colorizer.predict_batch([image.lightness])[0])

    def file_to_file() -> None:
        img = load_image(src)
        result = colorizer.render(colorizer.predict_batch([img.lightness])[0])
        save_image(out, result.rgb, img.alpha, source=img)

    row = {"width": w, "height": h, "megapixels": round(h * w / 1e6, 2),
           "end_to_end": stats(timed(end_to_end, repeats)),
           "predict": stats(timed(predict, repeats)),
           "render": stats(timed(lambda: colorizer.render(pred), repeats)),
           "rerender_after_settings_change": stats(timed(lambda: colorizer.render(pred, changed), repeats)),
           "decode": stats(timed(lambda: load_image(src), repeats)),
           "encode_png": stats(timed(lambda: save_image(out, render.rgb, source=image), repeats))}
    row["file_to_file"] = stats(timed(file_to_file, max(1, repeats // 2 if h * w > 4e6 else repeats)))
    return row


def _sync(colorizer: Colorizer) -> Callable[[], None]:
    return torch.cuda.synchronize if colorizer.device.type == "cuda" else (lambda: None)


def bench_energy(colorizer: Colorizer, repeats: int) -> dict:
    """One energy solve and a re-render with its biases (``colorizer.energy.bench_energy``)."""
    from colorizer import energy

    return {"available": True, "source": "energy.bench_energy", **energy.bench_energy(colorizer, repeats)}


def bench_batch(colorizer: Colorizer, count: int, shape: tuple[int, int], workdir: Path) -> dict:
    """Throughput of ``run_batch`` over files, and of the network alone (``predict_batch``)."""
    from colorizer.batch import ColorizeOptions, batch_size_for, collect_jobs, run_batch

    folder = workdir / f"batch_{colorizer.device.type}"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"p{i:03d}.jpg"), synthetic_photo(*shape, seed=i), [cv2.IMWRITE_JPEG_QUALITY, 90])
    jobs, _ = collect_jobs([folder], workdir / f"batch_out_{colorizer.device.type}")
    options = ColorizeOptions()
    size = batch_size_for(colorizer, options)
    run_batch(colorizer, jobs[: min(2, count)], options)  # warm-up
    report = run_batch(colorizer, jobs, options)
    lightness = [synthetic_photo(*shape, seed=i).astype(np.float32) / 255.0 for i in range(min(count, 16))]
    sync = _sync(colorizer)

    def network() -> None:
        for i in range(0, len(lightness), size):
            colorizer.predict_batch(lightness[i:i + size])
        sync()

    times = timed(network, 3)
    return {"device": str(colorizer.device), "images": count, "size": f"{shape[1]}x{shape[0]}", "batch_size": size,
            "files_images_per_s": round(len(report.done) / report.seconds, 2) if report.seconds else None,
            "failed": len(report.failures),
            "network_images_per_s": round(len(lightness) / statistics.median(times), 2)}


def memory_child(weights: str | None, device: str, working_size: int, src: Path) -> dict:
    """In a fresh process: ``src`` -> colourised PNG (the ``colorize`` path); peak resident memory.

    ``peak_rss_mb`` is the process's peak (interpreter, torch, model and the photo);
    on Linux ``photo_peak_rss_mb`` is the peak while the photo was processed (VmHWM reset after
    the model was loaded), which is what a long batch run sees per photo.
    """
    from colorizer.batch import ColorizeOptions, Job, process_file

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        colorizer, _, model = load_colorizer(weights, device, working_size, workdir)
        after_load = _peak_mb()
        reset = _reset_peak()
        start = time.perf_counter()
        result = process_file(colorizer, Job(src, workdir / "out.png"), ColorizeOptions())
        seconds = time.perf_counter() - start
        out = {"ok": result.ok, "error": result.error, "width": result.size[0] if result.size else None,
               "height": result.size[1] if result.size else None, "cold_file_to_file_s": round(seconds, 3),
               "peak_rss_mb_after_model_load": round(after_load, 1), "peak_rss_mb": round(_peak_mb(), 1),
               "model": model}
        if reset:
            out["photo_peak_rss_mb"] = _vm_hwm_mb()
        return out


def _peak_mb() -> float:
    """Peak resident memory of this process: VmHWM on Linux (ru_maxrss there can report the
    parent's peak after fork + exec), else ru_maxrss."""
    hwm = _vm_hwm_mb()
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _vm_hwm_mb() is not None
    except OSError:
        return False


def _vm_hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def bench_memory(config: BenchConfig, device: str) -> dict:
    """Run :func:`memory_child` in a subprocess so the peak is this case's alone (photo made here)."""
    h, w = config.memory_size  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        cv2.imwrite(str(src), synthetic_photo(h, w), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cmd = [sys.executable, "-m", "colorizer.bench", "--memory-child", str(src), "--device", device,
               "--working-size", str(config.working_size)]
        if config.weights:
            cmd += ["--weights", str(config.weights)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"ok": False, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_benchmarks(config: BenchConfig) -> dict:
    """All measurements as one JSON-ready dict."""
    sizes = config.sizes or DEFAULT_SIZES
    out: dict = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                             "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
                             "cpu_count": os.cpu_count(), "load_average_1min": _load_average(),
                             "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        colorizer, path, model = load_colorizer(config.weights, config.device, config.working_size, workdir)
        out.update(model=model, device=str(colorizer.device), working_size=config.working_size, repeats=config.repeats)
        out["sizes"] = {name: bench_size(colorizer, name, shape, config.repeats, workdir) for name, shape in sizes.items()}
        out["energy"] = bench_energy(colorizer, config.repeats)
        first = next(iter(sizes.values()))
        throughput = {}
        for dev in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
            on_dev = colorizer if colorizer.device.type == dev else Colorizer.load(path, dev, config.working_size)
            count = config.batch_images if dev == "cpu" else max(config.batch_images, 64)
            throughput[dev] = bench_batch(on_dev, count, first, workdir)
        if not torch.cuda.is_available():
            throughput["cuda"] = {"available": False, "reason": "no CUDA device on this machine: not measured"}
        out["batch"] = throughput
    if config.memory_size:
        out["memory"] = bench_memory(config, out["device"])
    out["machine"]["load_average_1min_end"] = _load_average()
    out["targets"] = check_targets(out)
    return out


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def check_targets(result: dict) -> dict:
    """The issue's targets beside the measured medians (only for the cases that were measured)."""
    cuda = result["device"].startswith("cuda")
    targets = TARGETS_CUDA if cuda else TARGETS_CPU
    sizes = result.get("sizes", {})
    measured = {"512x512_end_to_end_s": sizes.get("512x512", {}).get("end_to_end", {}).get("median_s"),
                "12MP_end_to_end_s": sizes.get("12MP", {}).get("end_to_end", {}).get("median_s"),
                "12MP_peak_rss_mb": result.get("memory", {}).get("peak_rss_mb")
                if result.get("memory", {}).get("height", 0) * result.get("memory", {}).get("width", 0) >= 12e6 else None,
                "batch_images_per_s": result.get("batch", {}).get("cuda", {}).get("files_images_per_s")}
    out = {}
    for key, limit in targets.items():
        value = measured.get(key)
        ok = None if value is None else (value >= limit if key.endswith("per_s") else value <= limit)
        out[key] = {"target": limit, "measured": value, "met": ok}
    return out


def format_text(result: dict) -> str:
    lines = [f"model: {result['model']}  device: {result['device']}  working size: {result['working_size']}"]
    for name, row in result["sizes"].items():
        parts = [f"{k} {v['median_s'] * 1000:.0f} ms (IQR {v['iqr_s'] * 1000:.0f})" for k, v in row.items()
                 if isinstance(v, dict)]
        lines.append(f"{name:>8}: " + ", ".join(parts))
    energy = result["energy"]
    lines.append("energy: " + (f"solve {energy['solve']['median_s'] * 1000:.0f} ms" if energy.get("solve")
                               else json.dumps(energy)))
    for dev, row in result["batch"].items():
        lines.append(f"batch {dev}: " + json.dumps(row))
    if "memory" in result:
        lines.append("memory: " + json.dumps(result["memory"]))
    lines.append("targets: " + json.dumps(result["targets"]))
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return h, w


def add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="time the colouriser and measure peak memory",
                              description="Timings (median and spread) of predict/render/file I/O at 512x512, "
                                          "1 MP and 12 MP, re-render, energy solve, batch throughput, and the "
                                          "peak memory of a 12 MP photo.")
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    p.add_argument("--text", action="store_true", help="print a readable summary instead of JSON")
    p.add_argument("--weights", metavar="FILE", help="weights file (default: the bundled model)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="timed runs per case (default 5)")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--sizes", metavar="WxH,...", help="image sizes instead of 512x512,1152x864,4000x3000")
    p.add_argument("--batch-images", type=int, default=16, metavar="N", help="photos in the throughput run")
    p.add_argument("--memory-size", default="4000x3000", metavar="WxH", help="photo size for peak memory ('none' skips)")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from colorizer.weights import WeightsError

    sizes = None
    if args.sizes:
        sizes = {s.strip(): _size(s) for s in args.sizes.split(",") if s.strip()}
    config = BenchConfig(weights=args.weights, device=args.device, repeats=max(1, args.repeats),
                         working_size=args.working_size, sizes=sizes, batch_images=max(1, args.batch_images),
                         memory_size=None if args.memory_size.lower() == "none" else _size(args.memory_size))
    try:
        result = run_benchmarks(config)
    except WeightsError as exc:
        print(f"colorizer: {exc}", file=sys.stderr)
        return 2
    print(format_text(result) if args.text and not args.json else json.dumps(result))
    return 0


def _child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--memory-child", type=Path, required=True, metavar="PHOTO")
    p.add_argument("--device", default="cpu")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--weights")
    args = p.parse_args(argv)
    print(json.dumps(memory_child(args.weights, args.device, args.working_size, args.memory_child)))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
