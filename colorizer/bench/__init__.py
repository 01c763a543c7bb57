"""``colorizer bench``: timings (median and spread) and peak memory of the colouriser.

Cases: end-to-end colourisation at 512x512, ~1 MP and 12 MP (network ``predict`` + ``render``, and
separately file decode/encode), re-render after a settings change, the energy panel's operations,
batch throughput (CPU, and CUDA where present) and the peak resident memory of photos (12 MP by
default; ``--memory-size 4000x3000,9000x9000`` adds 81 MP) taken file -> file through
``colorizer colorize`` in a fresh process. Synthetic photo-like images are used,
so the figures do not depend on any data set.

Modules: ``timing`` (repeats, statistics, synthetic photos), ``cases`` (what is measured), ``memory``
(the peak-memory subprocess), ``command`` (the run, targets, text summary, argparse).
"""

from colorizer.bench.cases import bench_batch, bench_energy, bench_size
from colorizer.bench.command import (BenchConfig, add_bench_command, bench_memory, check_targets, format_text,
                                     run_benchmarks)
from colorizer.bench.memory import measure_peak_memory, write_synthetic_png
from colorizer.bench.timing import load_colorizer, stats, synthetic_photo, timed

__all__ = ["BenchConfig", "add_bench_command", "bench_batch", "bench_energy", "bench_memory", "bench_size",
           "check_targets", "format_text", "load_colorizer", "measure_peak_memory", "run_benchmarks", "stats",
           "synthetic_photo", "timed", "write_synthetic_png"]
