"""Issue 13, case 3: SIGTERM rolls back like Ctrl+C; temporary files of killed runs are cleaned by the
next run (only this program's own, only stale ones); publishing never replaces when told not to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.atomic import atomic_write, reserve_temp_path
from colorizer.cli import main
from conftest import REPO

OUTPUTS = ("", "_uncertainty", "_s1", "_s2", "_s3", "_s4")


def photos(folder: Path, n: int = 2, h: int = 1500, w: int = 2000) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        y, x = np.mgrid[0:h, 0:w]
        noise = np.random.default_rng(i).integers(0, 60, (h, w))
        Image.fromarray(((x // 7 + y // 5 + noise) % 256).astype(np.uint8), "L").save(folder / f"p{i}.png",
                                                                                       compress_level=1)
    return folder


def temp_files(folder: Path, pattern: str = ".colorizer-*") -> list[Path]:
    return sorted(folder.rglob(pattern)) if folder.exists() else []


def start_and_catch_a_write(tiny_weights: Path, src: Path, out: Path) -> subprocess.Popen:
    """Start ``colorizer colorize`` and return as soon as it is writing an output (a temp file exists)."""
    cmd = [sys.executable, "-m", "colorizer.cli", "colorize", str(src), "-o", str(out), "--weights", str(tiny_weights),
           "--device", "cpu", "--working-size", "64", "--uncertainty", "--samples", "4", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 300
    while not temp_files(out, ".colorizer-*.tmp.png"):  # an image being written (not the folder's probe)
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no write was caught in progress ({proc.returncode}): {proc.stderr.read()[-500:]}")
        time.sleep(0.002)
    return proc


def assert_whole_sets_or_none(out: Path, names: list[str]) -> None:
    from colorizer.batch import is_whole_image

    for stem in names:
        present = [variant for variant in OUTPUTS if (out / f"{stem}{variant}.png").exists()]
        assert present in ([], list(OUTPUTS)), (stem, present)
        assert all(is_whole_image(out / f"{stem}{variant}.png") for variant in present)


def test_sigterm_rolls_back_the_photo_in_progress(tiny_weights: Path, tmp_path: Path) -> None:
    src = photos(tmp_path / "in")
    out = tmp_path / "out"
    proc = start_and_catch_a_write(tiny_weights, src, out)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert temp_files(out) == []
    assert_whole_sets_or_none(out, ["p0", "p1"])
    assert not (out / "p1.png").exists()  # the second photo never started


def test_temp_files_of_a_killed_run_are_cleaned_by_the_next(tiny_weights: Path, tmp_path: Path) -> None:
    src = photos(tmp_path / "in")
    out = tmp_path / "out"
    for _ in range(5):  # the write seen may just have finished before the kill lands: try again
        proc = start_and_catch_a_write(tiny_weights, src, out)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        left = temp_files(out)
        if left:
            break
    assert left  # kill -9 cannot be caught: its temporary file stays behind...
    old = time.time() - 120
    for path in left:
        os.utime(path, (old, old))
    code = main(["colorize", str(src), "-o", str(out), "--weights", str(tiny_weights), "--device", "cpu",
                 "--working-size", "64", "--uncertainty", "--samples", "4", "--skip-existing", "-q"])
    assert code == 0
    assert temp_files(out) == []  # ...until the next run in that folder removes it
    assert_whole_sets_or_none(out, ["p0", "p1"])
    assert (out / "p1_s4.png").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_cleaning_touches_only_stale_temp_files_of_our_naming(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    now = time.time()
    files = {f".colorizer-{dead}-0123456789ab.tmp.png": (now - 300, True),     # writer gone, old: stale
             ".colorizer-0123456789ab.tmp.png": (now - 300, True),             # older naming without a pid
             f".colorizer-{dead}-0123456789ab.tmp.pt": (now - 5, False),       # writer gone but just written
             f".colorizer-{alive}-0123456789ab.tmp.png": (now - 300, False),   # its writer still runs
             f".colorizer-{alive}-aaaaaaaaaaaa.tmp.png": (now - 3 * 86400, True),  # days old: pid was reused
             ".colorizer-notes.tmp.png": (now - 300, False),                   # not our naming
             "photo.tmp.png": (now - 300, False), "a.png": (now - 300, False)}
    for name, (stamp, _) in files.items():
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (stamp, stamp))
    from colorizer.atomic import clean_stale_temp_files

    removed = clean_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, (_, stale) in files.items() if stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, (_, stale) in files.items() if not stale)
    assert reserve_temp_path(tmp_path / "x.png").name.startswith(f".colorizer-{alive}-")


def test_publishing_without_replace_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("theirs")
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda tmp: tmp.write_text("ours"), replace=False)
    assert target.read_text() == "theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]

    def someone_else_writes_meanwhile(tmp: Path) -> None:
        tmp.write_text("ours")
        target.write_text("theirs, written while we were busy")

    target.unlink()
    with pytest.raises(FileExistsError):
        atomic_write(target, someone_else_writes_meanwhile, replace=False)
    assert target.read_text() == "theirs, written while we were busy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert atomic_write(tmp_path / "b.txt", lambda tmp: tmp.write_text("new"), replace=False).read_text() == "new"
