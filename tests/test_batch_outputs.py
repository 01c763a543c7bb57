"""Issue 13, cases 1 and 2: never replace a file the run did not write; resume checks every output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.batch import ColorizeOptions, Job, collect_jobs, run_batch
from colorizer.cli import main
from colorizer.pipeline import Colorizer


def gray_png(path: Path, h: int = 20, w: int = 24, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(seed).random((h, w)) * 255).astype(np.uint8), "L").save(path)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(tiny_weights: Path, *args: str) -> int:
    return main(["colorize", *args, "--weights", str(tiny_weights), "--device", "cpu", "--working-size", "64", "-q"])


def test_the_issues_example_keeps_the_existing_photo(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    d = tmp_path / "d"
    gray_png(d / "cam.png", 30, 30, seed=1)  # someone's photo
    Image.fromarray(np.full((16, 20, 3), 128, np.uint8)).save(d / "cam.jpg")
    before = sha(d / "cam.png")
    assert run_cli(tiny_weights, str(d / "cam.jpg"), "-o", str(d)) == 0
    err = capsys.readouterr().err
    assert sha(d / "cam.png") == before  # not replaced
    assert Image.open(d / "cam-1.png").size == (20, 16)  # the result, under a free name
    assert f"{d / 'cam.png'} exists" in err and "cam-1.png" in err
    assert "1 of 1 photos went to numbered names" in err and "--skip-existing resumes" in err


def test_existing_outputs_are_replaced_only_with_overwrite(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    src = gray_png(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    gray_png(out / "a.png", 5, 5, seed=9)
    gray_png(out / "a_uncertainty.png", 5, 5, seed=8)
    assert run_cli(tiny_weights, str(src), "-o", str(out), "--uncertainty", "--json") == 0
    line = json.loads(capsys.readouterr().out)
    assert line["outputs"] == [str(out / "a-1.png"), str(out / "a-1_uncertainty.png")] and line["warnings"]
    assert Image.open(out / "a.png").size == (5, 5)
    assert run_cli(tiny_weights, str(src), "-o", str(out), "--uncertainty", "--overwrite", "--json") == 0
    line = json.loads(capsys.readouterr().out)
    assert line["outputs"] == [str(out / "a.png"), str(out / "a_uncertainty.png")] and not line["warnings"]
    assert Image.open(out / "a.png").size == (24, 20) and Image.open(out / "a_uncertainty.png").size == (24, 20)


def test_a_renamed_set_never_takes_another_photos_name(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    src = tmp_path / "in"
    gray_png(src / "a.png", seed=1)
    gray_png(src / "a-1.png", seed=2)  # its own output is a-1.png
    out = tmp_path / "out"
    gray_png(out / "a.png", 5, 5)
    jobs, _ = collect_jobs([src], out)
    for size in (1, 2):  # one at a time and grouped (worker threads)
        for p in out.glob("a-*.png"):
            p.unlink()
        report = run_batch(tiny_colorizer, jobs, ColorizeOptions(batch_size=size))
        outputs = {r.source.name: [p.name for p in r.outputs] for r in report.results}
        assert outputs == {"a-1.png": ["a-1.png"], "a.png": ["a-2.png"]}
        assert {r.source.name: r.renamed_past_existing for r in report.results} == {"a-1.png": False, "a.png": True}
        assert Image.open(out / "a.png").size == (5, 5)


def test_output_folder_that_is_the_input_folder_is_named_as_such(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    d = tmp_path / "d"
    gray_png(d / "a.png")
    assert run_cli(tiny_weights, str(d), "-o", str(d)) == 1
    err = capsys.readouterr().err
    assert "is the output folder itself" in err and "contains no images" not in err
    assert sorted(p.name for p in d.iterdir()) == ["a.png"]


def test_resume_makes_every_missing_output(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    src = gray_png(tmp_path / "in" / "p.png")
    out = tmp_path / "out"
    args = [str(src), "-o", str(out), "--uncertainty", "--samples", "3", "--skip-existing", "--json"]
    assert run_cli(tiny_weights, *args) == 0
    names = ["p.png", "p_uncertainty.png", "p_s1.png", "p_s2.png", "p_s3.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    reference = {n: sha(out / n) for n in names}
    (out / "p_s2.png").unlink()  # as after a kill -9 part-way through the photo
    (out / "p_s3.png").unlink()
    stamps = {n: (out / n).stat().st_mtime_ns for n in names[:3]}
    capsys.readouterr()
    assert run_cli(tiny_weights, *args) == 0
    line = json.loads(capsys.readouterr().out)
    assert not line["skipped"] and "completed" in line["warnings"][0]
    assert {n: sha(out / n) for n in names} == reference  # the same pictures as an uninterrupted run
    assert {n: (out / n).stat().st_mtime_ns for n in names[:3]} == stamps  # finished ones untouched
    assert run_cli(tiny_weights, *args) == 0
    assert json.loads(capsys.readouterr().out)["skipped"]


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_resume_does_not_trust_a_broken_output(tiny_weights: Path, tmp_path: Path, capsys, damage: str) -> None:
    src = gray_png(tmp_path / "in" / "p.png", 60, 80)
    out = tmp_path / "out"
    args = [str(src), "-o", str(out), "--skip-existing", "--json"]
    assert run_cli(tiny_weights, *args) == 0
    good = (out / "p.png").read_bytes()
    broken = b"" if damage == "empty" else good[: len(good) // 2]
    (out / "p.png").write_bytes(broken)
    capsys.readouterr()
    assert run_cli(tiny_weights, *args) == 0
    line = json.loads(capsys.readouterr().out)
    assert not line["skipped"] and line["outputs"] == [str(out / "p-1.png")]
    assert "not a whole image" in line["warnings"][0]
    assert (out / "p.png").read_bytes() == broken  # left as it was: not ours to delete
    assert (out / "p-1.png").read_bytes() == good
    assert run_cli(tiny_weights, *args) == 0  # the next resume finds the whole set under the new name
    line = json.loads(capsys.readouterr().out)
    assert line["skipped"] and line["outputs"] == [str(out / "p-1.png")]


def test_is_whole_image(tmp_path: Path) -> None:
    from colorizer.batch import is_whole_image

    rgb = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    for ext in ("png", "jpg", "tif", "webp"):
        path = tmp_path / f"x.{ext}"
        Image.fromarray(rgb).save(path)
        data = path.read_bytes()
        assert is_whole_image(path), ext
        path.write_bytes(data[: len(data) - 40])
        assert not is_whole_image(path), ext
        path.write_bytes(b"")
        assert not is_whole_image(path), ext
    assert not is_whole_image(tmp_path / "missing.png") and not is_whole_image(tmp_path)


def test_claims_plan_output_sets(tmp_path: Path) -> None:
    from colorizer.batch import OutputClaims

    jobs = [Job(tmp_path / "in" / "a.png", tmp_path / "a.png"),
            Job(tmp_path / "in" / "a_s1.jpg", tmp_path / "a_s1.png")]
    claims = OutputClaims(jobs, ["", "_s1"])
    plan = claims.plan(jobs[0].source, jobs[0].output)  # a_s1.png belongs to the other photo
    assert plan.base == tmp_path / "a-1.png" and set(plan.write) == {"", "_s1"}
    assert plan.write["_s1"] == tmp_path / "a-1_s1.png"
    assert claims.plan(jobs[1].source, jobs[1].output).base == tmp_path / "a_s1.png"
