"""Peak resident memory of one 12-megapixel photo taken file -> file (decode, predict, render, PNG).

Runs the case in a fresh subprocess (``python -m colorizer.bench --memory-child``) so the peak
belongs to this photo alone, and checks it against the 1.5 GB target.

    python benchmarks/bench_memory_12mp.py [--weights FILE] [--device cpu|cuda] [--size 4000x3000]
"""

from __future__ import annotations

import argparse
import json
import sys

from colorizer.bench import BenchConfig, bench_memory

TARGET_MB = 1500.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights")
    p.add_argument("--device", default="cpu")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--size", default="4000x3000", help="WxH")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    result = bench_memory(BenchConfig(weights=args.weights, working_size=args.working_size, memory_size=(h, w)),
                          args.device)
    result["target_mb"] = TARGET_MB
    result["met"] = bool(result.get("ok")) and result.get("peak_rss_mb", 1e9) < TARGET_MB
    print(json.dumps(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
