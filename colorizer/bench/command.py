"""``colorizer bench``: the command, the whole run, the targets, and a readable summary."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from colorizer.bench.cases import bench_batch, bench_energy, bench_size
from colorizer.bench.memory import measure_peak_memory, peak_bytes_per_pixel
from colorizer.bench.timing import load_colorizer
from colorizer.pipeline import WORKING_SIZE, Colorizer

DEFAULT_SIZES = {"512x512": (512, 512), "1MP": (864, 1152), "12MP": (3000, 4000)}
TARGETS_CPU = {"512x512_end_to_end_s": 0.3, "12MP_end_to_end_s": 3.0, "12MP_peak_rss_mb": 600.0,
               "81MP_peak_rss_mb": 1500.0}
MEMORY_TARGET_PIXELS = {"12MP_peak_rss_mb": (12e6, 20e6), "81MP_peak_rss_mb": (80e6, 1e12)}
TARGETS_CUDA = {"512x512_end_to_end_s": 0.015, "batch_images_per_s": 200.0}


@dataclass
class BenchConfig:
    """What to measure (tests use tiny sizes and a random model)."""

    weights: str | None = None
    device: str = "auto"
    repeats: int = 5
    working_size: int = WORKING_SIZE
    sizes: dict[str, tuple[int, int]] | None = None
    batch_images: int = 16
    memory_sizes: tuple[tuple[int, int], ...] = ((3000, 4000),)


def bench_memory(config: BenchConfig, device: str) -> dict:
    """Peak memory of each ``config.memory_sizes`` photo (h, w) file -> file through ``colorizer colorize``,
    each in a fresh process: ``{"WxH": {...}}`` and the growth in bytes per pixel."""
    out: dict = {}
    for h, w in config.memory_sizes:
        out[f"{w}x{h}"] = measure_peak_memory((h, w), device, config.working_size, config.weights)
    growth = peak_bytes_per_pixel(list(out.values()))
    if growth is not None:
        out["growth_bytes_per_pixel"] = growth
    return out


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
    if config.memory_sizes:
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
                "batch_images_per_s": result.get("batch", {}).get("cuda", {}).get("files_images_per_s")}
    for key, (low, high) in MEMORY_TARGET_PIXELS.items():
        for row in memory_rows(result):
            if low <= row["width"] * row["height"] < high and row.get("ok"):
                measured[key] = row["peak_rss_mb"]
    out = {}
    for key, limit in targets.items():
        value = measured.get(key)
        ok = None if value is None else (value >= limit if key.endswith("per_s") else value <= limit)
        out[key] = {"target": limit, "measured": value, "met": ok}
    return out


def memory_rows(result: dict) -> list[dict]:
    """The per-size memory measurements of a result."""
    return [row for row in result.get("memory", {}).values() if isinstance(row, dict)]


def format_text(result: dict) -> str:
    """A readable summary of :func:`run_benchmarks`'s result (``colorizer bench --text``)."""
    lines = [f"model: {result['model']}  device: {result['device']}  working size: {result['working_size']}"]
    for name, row in result["sizes"].items():
        parts = [f"{k} {v['median_s'] * 1000:.0f} ms (IQR {v['iqr_s'] * 1000:.0f})" for k, v in row.items()
                 if isinstance(v, dict)]
        lines.append(f"{name:>8}: " + ", ".join(parts))
    e = result["energy"]
    lines.append(f"  energy: solve {e['energy_solve_ms']:.0f} ms ({'/'.join(map(str, e['solve_iterations']))} "
                 f"iterations), hints {e['hint_solve_ms']:.0f} ms, re-render {e['render_full_ms']:.0f} ms full / "
                 f"{e['render_preview_ms']:.0f} ms preview, a sample {e['sample_render_preview_ms']:.0f} ms "
                 f"(grid {e['grid'][0]}x{e['grid'][1]})")
    for dev, row in result["batch"].items():
        if row.get("available", True):
            lines.append(f"   batch: {dev}: {row['files_images_per_s']} photos/s file to file, "
                         f"{row['network_images_per_s']} photos/s network alone ({row['images']} x {row['size']})")
        else:
            lines.append(f"   batch: {dev}: {row['reason']}")
    for memory in memory_rows(result):
        lines.append(f"  memory: peak {memory['peak_rss_mb']:.0f} MB for {memory['width']}x{memory['height']} "
                     "file to file (colorizer colorize)" if memory.get("ok") else
                     f"  memory: {memory['width']}x{memory['height']} not measured ({memory.get('error')})")
    for key, target in result["targets"].items():
        state = {True: "met", False: "NOT met", None: "not measured"}[target["met"]]
        lines.append(f"  target: {key} <= {target['target']}: {state} (measured {target['measured']})"
                     if not key.endswith("per_s") else
                     f"  target: {key} >= {target['target']}: {state} (measured {target['measured']})")
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> (height, width); ValueError with a one-line message otherwise."""
    try:
        w, h = (int(v) for v in text.strip().lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text.strip()!r} is not WIDTHxHEIGHT (e.g. 4000x3000)") from None
    if w < 1 or h < 1:
        raise ValueError(f"size {text.strip()!r} must be at least 1x1")
    return h, w


def add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="time the colouriser and measure peak memory",
                              description="Timings (median and spread) of predict/render/file I/O at 512x512, "
                                          "1 MP and 12 MP, re-render, energy solve, batch throughput, and the "
                                          "peak memory of photos taken through colorizer colorize.")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    output.add_argument("--text", action="store_true", help="print a readable summary instead of JSON")
    p.add_argument("--weights", metavar="FILE", help="weights file (default: the bundled model)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="timed runs per case (default 5)")
    p.add_argument("--working-size", type=int, default=WORKING_SIZE)
    p.add_argument("--sizes", metavar="WxH,...", help="image sizes instead of 512x512,1152x864,4000x3000")
    p.add_argument("--batch-images", type=int, default=16, metavar="N", help="photos in the throughput run")
    p.add_argument("--memory-size", default="4000x3000", metavar="WxH,...",
                   help="photo sizes for peak memory, e.g. 4000x3000,9000x9000 ('none' skips)")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from colorizer.weights import WeightsError

    sizes = None
    try:
        if args.sizes:
            sizes = {s.strip(): _size(s) for s in args.sizes.split(",") if s.strip()}
        memory_sizes = () if args.memory_size.lower() == "none" else \
            tuple(_size(s) for s in args.memory_size.split(",") if s.strip())
    except ValueError as exc:
        print(f"colorizer bench: {exc}", file=sys.stderr)
        return 2
    config = BenchConfig(weights=args.weights, device=args.device, repeats=max(1, args.repeats),
                         working_size=args.working_size, sizes=sizes, batch_images=max(1, args.batch_images),
                         memory_sizes=memory_sizes)
    try:
        result = run_benchmarks(config)
    except WeightsError as exc:
        print(f"colorizer: {exc}", file=sys.stderr)
        return 2
    print(format_text(result) if args.text else json.dumps(result))
    return 0
