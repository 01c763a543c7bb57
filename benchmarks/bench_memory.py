"""Peak resident memory of big photos taken file -> file through ``colorizer colorize`` (issue 13).

Each size runs ``colorizer colorize PHOTO.png -o OUT`` in a fresh process on a synthetic 8-bit gray
PNG and reads that process's peak RSS from the kernel (``wait4``); the targets are 12 MP under
600 MB and 81 MP under 1.5 GB. Needs a few GB of free memory for the 81 MP case.

    python benchmarks/bench_memory.py [--weights FILE] [--device cpu|cuda] [--sizes 4000x3000,9000x9000]
"""

from __future__ import annotations

import argparse
import json
import sys

from colorizer.bench import BenchConfig, bench_memory, check_targets

DEFAULT_SIZES = "4000x3000,9000x9000"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights")
    p.add_argument("--device", default="cpu")
    p.add_argument("--working-size", type=int, default=512)
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="WxH,...")
    args = p.parse_args(argv)
    sizes = tuple((int(h), int(w)) for w, h in (s.lower().split("x") for s in args.sizes.split(",")))
    memory = bench_memory(BenchConfig(weights=args.weights, working_size=args.working_size, memory_sizes=sizes),
                          args.device)
    targets = {k: v for k, v in check_targets({"device": args.device, "memory": memory}).items() if "rss" in k}
    print(json.dumps({"memory": memory, "targets": targets}))
    return 0 if all(t["met"] is not False for t in targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
