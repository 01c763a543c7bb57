"""Which photos a batch reads and where their outputs go: inputs (files, folders) mapped to
``OUTDIR/[sub/]<stem>.<fmt>``; whatever cannot be read is named, never skipped silently."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from colorizer.atomic import reserve_temp_path
from colorizer.batch.report import FileResult
from colorizer.imageio import OUTPUT_FORMATS as WRITERS, ImageReadError, image_header, is_image_file, special_file_kind
from colorizer.recipe import Recipe

OUTPUT_FORMATS = tuple(WRITERS)  # what a batch can write (``--format``)
GROUP_PIXEL_BUDGET = 64_000_000


@dataclass
class Job:
    """One photo to colourise: its ``source``, main ``output`` and, optionally, its own ``recipe``
    (e.g. the photo's sidecar) instead of the batch's."""

    source: Path
    output: Path
    recipe: Recipe | None = None


class OutputFolderError(ValueError):
    """The output folder cannot be used (one line naming it and the reason)."""


def check_output_folder(out_dir: str | Path) -> Path:
    """Make sure ``out_dir`` can take the outputs before any photo is processed: it is a folder (created
    if its parent exists) in which files can be created. Raises OutputFolderError."""
    out_dir = Path(out_dir)
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir}: the output folder is a file (or a broken link), not a folder")
    if not out_dir.exists():
        parent = out_dir.absolute().parent
        if not parent.is_dir():
            raise OutputFolderError(f"{out_dir}: cannot create the output folder: {parent} does not exist")
        try:
            out_dir.mkdir()
        except OSError as exc:
            raise OutputFolderError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    try:
        reserve_temp_path(out_dir / "probe").unlink()
    except OSError as exc:
        raise OutputFolderError(f"{out_dir}: cannot write into the output folder ({exc.strerror or exc})") from None
    return out_dir


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _problem(path: Path, text: str) -> FileResult:
    return FileResult(path, error=f"{path}: {text}")


def _entry_problem(path: Path) -> FileResult | None:
    """Why ``path`` (not a folder) cannot be an input: a broken link or a special file; None if regular."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _problem(path, "broken symbolic link (its target is missing)" if os.path.islink(path)
                        else "file not found")
    except OSError as exc:
        return _problem(path, f"cannot read ({exc.strerror or exc})")
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return None
    return _problem(path, f"not a regular file ({special_file_kind(st.st_mode)})")


def find_photos(folder: Path, exclude: Path | None = None) -> tuple[list[Path], list[FileResult]]:
    """Photos under ``folder`` (recursive, following linked folders once; hidden entries skipped;
    ``exclude``, e.g. an output folder inside it, left out), and a failed result for everything that
    cannot be looked at: unreadable sub-folders, broken links, FIFOs and other special files (these are
    named, never opened, so a FIFO cannot block the run)."""
    photos: list[Path] = []
    problems: list[FileResult] = []
    visited: set[str] = set()
    skip = os.path.realpath(exclude) if exclude is not None else None

    def unreadable(exc: OSError) -> None:
        problems.append(_problem(Path(exc.filename or folder), f"cannot read this folder ({exc.strerror or exc})"))

    for root, dirs, names in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:  # a link back to a folder already searched
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != skip)
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(root) / name
            problem = _entry_problem(path)
            if problem is not None:
                problems.append(problem)
            elif is_image_file(path):
                photos.append(path)
    return sorted(photos), problems


def collect_jobs(inputs: Iterable[str | Path], out_dir: str | Path, output_format: str = "png") -> tuple[list[Job], list[FileResult]]:
    """Map inputs to outputs ``OUTDIR/[sub/]<stem>.<fmt>``; inputs that cannot be used become failed results.

    Folders are searched recursively (:func:`find_photos`); an output folder inside an input folder is
    not searched (so ``-o photos/out`` can be re-run); an input folder that *is* the output folder is
    refused (its photos and the results would mix); an input named twice is processed once. Outputs
    that would replace an input, or that exist already, are renamed when the job runs
    (:mod:`colorizer.batch.outputs`).
    """
    out_dir = Path(out_dir)
    jobs: list[Job] = []
    problems: list[FileResult] = []
    taken: set[Path] = set()
    seen: set[Path] = set()
    for item in inputs:
        src = Path(item)
        if src.is_dir():
            if os.path.realpath(src) == os.path.realpath(out_dir):
                problems.append(_problem(src, "is the output folder itself: the results would be mixed with the "
                                              "photos (and taken as photos next time); choose another output folder"))
                continue
            files, trouble = find_photos(src, out_dir if _inside(out_dir, src) else None)
            problems.extend(trouble)
            if not files and not trouble:
                problems.append(_problem(src, "folder contains no images"))
            pairs = [(p, p.relative_to(src).parent) for p in files]
        else:
            problem = _entry_problem(src)
            if problem is not None:
                problems.append(problem)
                continue
            pairs = [(src, Path())]
        for path, sub in pairs:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            out = out_dir / sub / f"{path.stem}.{output_format}"
            n = 1
            while out in taken:  # a.jpg and a.png in one folder
                tag = path.suffix.lstrip(".").lower() + ("" if n == 1 else str(n))
                out = out_dir / sub / f"{path.stem}_{tag}.{output_format}"
                n += 1
            taken.add(out)
            jobs.append(Job(path, out))
    named: set[str] = set()  # a problem found twice (a folder and a file in it both given) is named once
    problems = [p for p in problems if not (str(p.source) in named or named.add(str(p.source)))]
    return jobs, problems


def _peek_pixels(path: Path) -> int:
    try:
        return image_header(path).pixels
    except ImageReadError:  # a bad file is reported when it is loaded
        return 0


def job_groups(jobs: list[Job], size: int, pixel_budget: int = GROUP_PIXEL_BUDGET) -> list[list[Job]]:
    """Consecutive groups of at most ``size`` jobs and about ``pixel_budget`` full-resolution pixels."""
    groups: list[list[Job]] = []
    current: list[Job] = []
    pixels = 0
    for job in jobs:
        n = _peek_pixels(job.source)
        if current and (len(current) >= size or pixels + n > pixel_budget):
            groups.append(current)
            current, pixels = [], 0
        current.append(job)
        pixels += n
    if current:
        groups.append(current)
    return groups
