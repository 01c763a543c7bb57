"""Issue 13, cases 4 and 5: nothing in an input folder is skipped silently; bad options and an unusable
output folder are refused before the first photo, with one line."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer import batch
from colorizer.batch import collect_jobs
from colorizer.cli import main
from colorizer.pipeline import Colorizer
from conftest import REPO


def gray_png(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(seed).random((12, 16)) * 255).astype(np.uint8), "L").save(path)
    return path


def odd_folder(root: Path) -> Path:
    """Good photos beside a FIFO, a broken link and an unreadable sub-folder (made unreadable by the tests)."""
    gray_png(root / "good.png")
    gray_png(root / "sub" / "also good.png", 1)
    gray_png(root / "locked" / "hidden away.png", 2)
    os.mkfifo(root / "pipe.png")
    os.symlink(root / "gone.jpg", root / "link.jpg")
    return root


def test_find_photos_names_everything_it_cannot_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = odd_folder(tmp_path / "in")
    real_scandir = os.scandir

    def locked(path):  # what a folder without read permission does (the tests may run as root)
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", locked)
    from colorizer.batch import find_photos

    photos, problems = find_photos(root)
    assert [p.relative_to(root).as_posix() for p in photos] == ["good.png", "sub/also good.png"]
    errors = sorted(p.error for p in problems)
    assert errors == sorted([f"{root / 'link.jpg'}: broken symbolic link (its target is missing)",
                             f"{root / 'locked'}: cannot read this folder (Permission denied)",
                             f"{root / 'pipe.png'}: not a regular file (a FIFO)"])
    jobs, problems = collect_jobs([root, root / "pipe.png", root / "link.jpg"], tmp_path / "out")
    assert len(jobs) == 2 and len(problems) == 3  # each named once


def test_fifo_and_broken_links_fail_the_run_and_never_block(tiny_weights: Path, tmp_path: Path) -> None:
    root = odd_folder(tmp_path / "in")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "colorizer.cli", "colorize", str(root), str(root / "pipe.png"), "-o", str(out),
           "--weights", str(tiny_weights), "--device", "cpu", "--working-size", "64", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO)  # a FIFO read would hang
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{root / 'pipe.png'}: not a regular file (a FIFO)" in proc.stderr
    assert f"{root / 'link.jpg'}: broken symbolic link" in proc.stderr
    assert "2 of 5 inputs failed" in proc.stderr  # 3 photos + the FIFO and the link, each named once
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == \
        ["good.png", "locked/hidden away.png", "sub/also good.png"]


def test_linked_folders_are_followed_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    gray_png(root / "a" / "x.png")
    os.symlink(root / "a", root / "b")  # the same photos again
    os.symlink(root, root / "a" / "loop")  # a cycle
    from colorizer.batch import find_photos

    photos, problems = find_photos(root)
    assert [p.relative_to(root).as_posix() for p in photos] == ["a/x.png"] and problems == []


def test_unusable_output_folder_is_refused_before_anything(tiny_weights: Path, tmp_path: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = gray_png(tmp_path / "a.png")
    monkeypatch.setattr(Colorizer, "load", classmethod(lambda *a, **k: pytest.fail("the model was loaded")))
    (tmp_path / "file").write_text("x")
    cases = {str(tmp_path / "file"): "is a file", str(tmp_path / "no" / "such" / "out"): "does not exist"}
    for out, message in cases.items():
        assert main(["colorize", str(src), "-o", out, "--weights", str(tiny_weights)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and out in err[0] and message in err[0]

    def read_only(path: Path) -> Path:  # what a read-only folder or file system does (root ignores modes)
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(batch.jobs, "reserve_temp_path", read_only)
    assert main(["colorize", str(src), "-o", str(tmp_path / "ro"), "--weights", str(tiny_weights)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"colorizer: {tmp_path / 'ro'}: cannot write into the output folder (Read-only file system)"]


@pytest.mark.parametrize("option,value", [("--chroma-gain", "nan"), ("--chroma-gain", "1e9"), ("--temperature", "0"),
                                          ("--temperature", "inf"), ("--fading", "-1"), ("--match-strength", "nan"),
                                          ("--samples", "-2"), ("--samples", "100000"), ("--working-size", "0"),
                                          ("--batch-size", "-1"), ("--max-pixels", "0"), ("--seed", "-5")])
def test_bad_numbers_are_refused_with_one_line(tiny_weights: Path, tmp_path: Path, capsys, option: str,
                                               value: str) -> None:
    src = gray_png(tmp_path / "a.png")
    code = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights), option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{option} must be" in err[0]
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_a_recipe_file_with_nan_is_refused(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    from colorizer.recipe import Recipe
    from colorizer.recipe_file import save_recipe

    look = save_recipe(tmp_path / "look.json", Recipe())
    data = json.loads(look.read_text())
    data["settings"]["chroma_gain"] = float("nan")
    look.write_text(json.dumps(data))
    assert "NaN" in look.read_text()
    code = main(["colorize", str(gray_png(tmp_path / "a.png")), "-o", str(tmp_path / "out"), "--recipe", str(look),
                 "--weights", str(tiny_weights)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "look.json" in err[0] and "chroma_gain" in err[0]
