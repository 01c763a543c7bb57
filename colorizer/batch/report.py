"""What a batch reports: one result per file, the whole report, and a time-left estimate."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FileResult:
    """The outcome of one input: outputs written (or kept, when skipped), or the one-line error naming
    the file; ``warnings``: what the user must be told although it worked (e.g. outputs renamed);
    ``renamed_past_existing``: its outputs took numbered names because earlier files were in the way."""

    source: Path
    outputs: list[Path] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None
    warnings: list[str] = field(default_factory=list)
    renamed_past_existing: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return {"input": str(self.source), "outputs": [str(p) for p in self.outputs], "ok": self.ok,
                "error": self.error, "skipped": self.skipped, "seconds": round(self.seconds, 4),
                "notes": self.notes, "warnings": self.warnings, "width": self.size[0] if self.size else None,
                "height": self.size[1] if self.size else None}


@dataclass
class BatchReport:
    """All results of a run, whether it was cancelled, and how long it took."""

    results: list[FileResult] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.skipped]

    @property
    def done(self) -> list[FileResult]:
        """Photos actually colourised in this run."""
        return [r for r in self.results if r.ok and not r.skipped]

    def summary(self) -> str:
        """One line: counts, time and throughput."""
        n = len(self.done)
        rate = f", {n / self.seconds:.2f} photos/s" if n and self.seconds > 0 else ""
        state = " (cancelled)" if self.cancelled else ""
        return (f"{n} colourised, {len(self.skipped)} skipped, {len(self.failures)} failed "
                f"in {self.seconds:.1f} s{rate}{state}")


@dataclass
class ProgressTracker:
    """Estimates the time left from the photos processed so far (skipped ones cost ~nothing)."""

    total: int
    done: int = 0
    processed: int = 0
    start: float = field(default_factory=time.perf_counter)
    first: float | None = None
    busy: float = 0.0

    def update(self, result: FileResult) -> None:
        now = time.perf_counter()
        self.done += 1
        if not result.skipped:
            if self.first is None:
                self.first = now - result.seconds
            self.processed += 1
            self.busy = now - self.first

    def eta_seconds(self) -> float | None:
        """Seconds left, or None until one photo has been processed."""
        if self.processed == 0:
            return None
        return max(0.0, (self.total - self.done) * self.busy / self.processed)

    def eta_text(self) -> str:
        eta = self.eta_seconds()
        if eta is None:
            return "ETA --"
        m, s = divmod(int(round(eta)), 60)
        h, m = divmod(m, 60)
        return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"
