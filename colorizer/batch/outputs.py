"""Where one photo's outputs go, so that nothing is ever lost.

A photo's outputs are a set: ``<stem>.<fmt>``, ``<stem>_uncertainty.<fmt>`` (with ``uncertainty``) and
``<stem>_s1`` .. ``_sN`` (with ``samples``). A file that this run did not write is never replaced unless
``overwrite`` is set, and an input never is: when a name of the set is taken, the whole set moves to
``<stem>-1``, ``<stem>-2``... and the photo's result says so. With ``skip_existing`` a set whose files
all exist and are whole, readable images counts as done; a set with missing files is completed (the
whole ones are kept); a set with a damaged file (0 bytes, truncated) is left alone and the photo is
written under the next free name. Names are claimed per run (:class:`OutputClaims`), so two photos of
one run never share one, and files are published without replacing (:func:`colorizer.atomic.atomic_write`),
so a file that appears meanwhile is not replaced either.
"""

from __future__ import annotations

import os
import stat
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from PIL import Image

MAX_RENAMES = 1000


def variant_path(output: Path, suffix: str) -> Path:
    """``out/a.png`` with suffix ``_s1`` -> ``out/a_s1.png``."""
    return output.with_name(f"{output.stem}{suffix}{output.suffix}")


def output_suffixes(uncertainty: bool, samples: int) -> list[str]:
    """The suffixes of one photo's outputs: ``""`` (the picture), ``_uncertainty``, ``_s1`` .. ``_sN``."""
    return [""] + (["_uncertainty"] if uncertainty else []) + [f"_s{i + 1}" for i in range(samples)]


def is_whole_image(path: Path) -> bool:
    """A regular, non-empty file that decodes as a complete image (PNG: every chunk's checksum up to
    the end; JPEG: the end-of-image marker; other formats: fully decoded)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.format == "PNG":
                    img.verify()
                    return True
                if img.format == "JPEG":
                    with open(path, "rb") as fh:
                        fh.seek(-2, os.SEEK_END)
                        return fh.read(2) == b"\xff\xd9"
                img.load()
                return True
    except Exception:  # noqa: BLE001 - anything unreadable is simply not a finished output
        return False


@dataclass
class OutputPlan:
    """Where one photo's outputs go: ``write`` (suffix -> path) to make now, ``kept`` whole outputs of an
    earlier run (resume), ``replace``: existing files may be replaced (``overwrite``), a ``note``
    for the user when the names had to change or a set was completed, and ``past_existing``: the
    names changed because files not written by this run were in the way (an earlier run's, say)."""

    base: Path
    write: dict[str, Path]
    kept: list[Path] = field(default_factory=list)
    replace: bool = False
    note: str | None = None
    past_existing: bool = False

    @property
    def done(self) -> bool:
        return not self.write


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


class OutputClaims:
    """The output names of one run (thread-safe): every job's planned set is reserved up front (main
    outputs before variants), so a renamed set never takes a name that another photo of the run writes."""

    def __init__(self, jobs: Iterable, suffixes: list[str], inputs: Iterable[Path] = ()) -> None:
        self._lock = threading.Lock()
        self._suffixes = suffixes
        self._owner: dict[str, Path] = {}
        jobs = list(jobs)
        for suffix in suffixes:  # main outputs first: a photo keeps its own name before others' variants
            for job in jobs:
                self._owner.setdefault(_key(variant_path(job.output, suffix)), job.source)
        self._inputs = {_key(p) for p in inputs}

    def plan(self, source: Path, output: Path, overwrite: bool = False, skip_existing: bool = False) -> OutputPlan:
        """The outputs of the photo ``source`` whose planned main output is ``output``; raises
        FileExistsError when no free name is left."""
        with self._lock:
            reason, past_existing = "", False
            for n in range(MAX_RENAMES):
                base = output if n == 0 else output.with_name(f"{output.stem}-{n}{output.suffix}")
                paths = {s: variant_path(base, s) for s in self._suffixes}
                keys = [_key(p) for p in paths.values()]
                others = [p for p, k in zip(paths.values(), keys) if self._owner.get(k, source) != source]
                if others:
                    reason = reason or f"{others[0]} is another photo's output"
                    continue
                taken = [p for p, k in zip(paths.values(), keys) if k in self._inputs]
                if taken:
                    reason = reason or f"{taken[0]} is an input"
                    continue
                existing = {s: p for s, p in paths.items() if os.path.lexists(p)}
                if existing and not overwrite:
                    damaged = [p for p in existing.values() if not is_whole_image(p)] if skip_existing else []
                    if skip_existing and not damaged:
                        return self._claim(keys, source, OutputPlan(
                            base, {s: p for s, p in paths.items() if s not in existing}, list(existing.values()),
                            note=self._completed(existing, paths)))
                    reason = reason or (f"{damaged[0]} exists but is not a whole image" if damaged
                                        else f"{next(iter(existing.values()))} exists (not written by this run)")
                    past_existing = True
                    continue
                note = f"{reason}; wrote {base.name} instead (nothing was replaced)" if n else None
                return self._claim(keys, source, OutputPlan(base, paths, replace=overwrite, note=note,
                                                            past_existing=past_existing))
        raise FileExistsError(f"{output}: no free output name (tried {MAX_RENAMES} renames)")

    @staticmethod
    def _completed(existing: dict[str, Path], paths: dict[str, Path]) -> str | None:
        if len(existing) == len(paths):
            return None
        return f"completed an earlier run's outputs (kept {len(existing)} of {len(paths)} files)"

    def _claim(self, keys: list[str], source: Path, plan: OutputPlan) -> OutputPlan:
        for k in keys:
            self._owner[k] = source
        return plan
