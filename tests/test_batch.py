"""Batch processing: sub-folders, skip-existing, per-file errors, cancel/Ctrl+C, grouped (CUDA-style) path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import batch as batch_mod
from colorizer.batch import photo as photo_mod
from colorizer.batch import (BatchReport, ColorizeOptions, FileResult, Job, ProgressTracker, batch_size_for,
                             collect_jobs, job_groups, process_file, run_batch)
from colorizer.cli import main
from colorizer.color import luma
from colorizer.imageio import ImageWriteError, load_image, save_image
from colorizer.pipeline import Colorizer


def gray(h: int, w: int, seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).integers(0, 30, (h, w))
    return ((x * 3 + y + noise) % 256).astype(np.uint8)


def build_tree(root: Path) -> dict[str, Path]:
    """A photo folder with odd and bad files in sub-folders."""
    (root / "1930s" / "wedding").mkdir(parents=True)
    (root / ".thumbs").mkdir()
    files = {}

    def put(rel: str, save) -> None:
        files[rel] = root / rel
        save(root / rel)

    put("a.jpg", lambda p: Image.fromarray(gray(30, 40), "L").save(p))
    put("1930s/Grand-mère ☃.PNG", lambda p: Image.fromarray(gray(20, 25, 1), "L").save(p))
    exif = Image.Exif()
    exif[0x0112] = 6
    put("1930s/wedding/rotated.jpg", lambda p: Image.fromarray(gray(30, 40, 2), "L").save(p, exif=exif.tobytes()))
    rgba = np.dstack([gray(16, 16, 3)] * 3 + [np.tile(np.array([0, 255], np.uint8), (16, 8))])
    put("1930s/alpha.png", lambda p: Image.fromarray(rgba, "RGBA").save(p))
    put("1930s/deep.tif", lambda p: cv2.imwrite(str(p), (gray(12, 18, 4).astype(np.uint16) * 257)[..., None].repeat(3, -1)))
    put("1930s/empty.jpg", lambda p: p.write_bytes(b""))
    put("1930s/wedding/truncated.png", lambda p: p.write_bytes(_png_bytes(gray(40, 40))[:-60]))
    put("notes.png", lambda p: p.write_bytes(b"not a picture at all"))
    (root / ".thumbs" / "hidden.png").write_bytes(_png_bytes(gray(4, 4)))
    (root / "readme.txt").write_text("ignored")
    return files


def _png_bytes(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def digests(root: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def three_photo_jobs(tmp_path: Path) -> list[Job]:
    """Jobs for three small gray photos p0..p2.png in ``tmp_path``, written to ``tmp_path/out``."""
    for i in range(3):
        Image.fromarray(gray(12, 12, i), "L").save(tmp_path / f"p{i}.png")
    jobs, _ = collect_jobs([tmp_path / f"p{i}.png" for i in range(3)], tmp_path / "out")
    return jobs


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp" in p.name or p.name.startswith(".colorizer")]


BAD = {"1930s/empty.jpg", "1930s/wedding/truncated.png", "notes.png"}


def test_folder_batch_keeps_structure_and_finishes_the_rest(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    files = build_tree(src)
    before = digests(src)
    out = tmp_path / "out"
    jobs, problems = collect_jobs([src], out)
    assert not problems
    assert {j.source.relative_to(src).as_posix() for j in jobs} == set(files)  # hidden + .txt skipped
    seen: list[int] = []
    report = run_batch(tiny_colorizer, jobs, ColorizeOptions(uncertainty=True),
                       progress=lambda done, total, r: seen.append(done))
    assert seen == list(range(1, len(jobs) + 1))
    failed = {r.source.relative_to(src).as_posix(): r.error for r in report.failures}
    assert set(failed) == BAD
    for rel, error in failed.items():
        assert str(src / rel) in error and "\n" not in error
    assert Image.open(out / "a.png").size == (40, 30)
    assert Image.open(out / "1930s" / "Grand-mère ☃.png").size == (25, 20)
    assert Image.open(out / "1930s" / "wedding" / "rotated.png").size == (30, 40)  # EXIF orientation applied
    assert (out / "1930s" / "wedding" / "rotated_uncertainty.png").exists()
    alpha = Image.open(out / "1930s" / "alpha.png")
    assert alpha.mode == "RGBA" and np.array_equal(np.asarray(alpha)[..., 3], rgba_alpha())
    deep = cv2.imread(str(out / "1930s" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape == (12, 18, 3)
    main_png = np.asarray(Image.open(out / "a.png").convert("RGB"), np.float32)
    source_l = load_image(src / "a.jpg").lightness * 255.0  # a lossy JPEG: compare with what was decoded
    assert np.abs(luma(main_png) - source_l).max() <= 0.51  # lightness kept
    assert not (out / "notes.png").exists() and not (out / "1930s" / "empty.png").exists()
    assert not (out / ".thumbs").exists()
    assert digests(src) == before
    assert temp_files(tmp_path) == []
    assert "3 failed" in report.summary() and len(report.done) == len(jobs) - 3


def rgba_alpha() -> np.ndarray:
    return np.tile(np.array([0, 255], np.uint8), (16, 8))


def test_skip_existing_resumes(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    build_tree(src)
    out = tmp_path / "out"
    jobs, _ = collect_jobs([src], out)
    first = run_batch(tiny_colorizer, jobs[:2], ColorizeOptions())
    assert len(first.done) == 2
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    second = run_batch(tiny_colorizer, jobs, ColorizeOptions(skip_existing=True))
    assert [r.skipped for r in second.results[:2]] == [True, True]
    assert all(not r.skipped for r in second.results[2:])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # untouched
    assert len(second.done) == len(jobs) - 2 - len(BAD)


def test_output_inside_input_folder_is_not_reprocessed(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(gray(10, 10), "L").save(src / "a.png")
    Image.fromarray(gray(10, 10), "L").save(src / "a.jpg")
    jobs, _ = collect_jobs([src, src / "a.png"], src / "out")
    assert [j.output.name for j in jobs] == ["a.png", "a_png.png"]  # a.jpg, a.png; duplicate input once
    run_batch(tiny_colorizer, jobs, ColorizeOptions())
    again, _ = collect_jobs([src], src / "out")
    assert len(again) == 2


def test_never_writes_over_an_input(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    Image.fromarray(gray(10, 10), "L").save(tmp_path / "a.png")
    before = digests(tmp_path)
    jobs, problems = collect_jobs([tmp_path / "a.png"], tmp_path)
    assert not problems and jobs[0].output == tmp_path / "a.png"  # planned; renamed when it runs
    for options in (ColorizeOptions(), ColorizeOptions(overwrite=True)):  # not even with overwrite
        report = run_batch(tiny_colorizer, jobs, options)
        assert report.results[0].ok and "a.png is an input" in report.results[0].warnings[0]
        assert report.results[0].outputs[0].name.startswith("a-")
        assert digests(tmp_path)[tmp_path / "a.png"] == before[tmp_path / "a.png"]
    # the writer refuses too
    with pytest.raises(ImageWriteError, match="refusing to overwrite"):
        save_image(tmp_path / "a.png", np.zeros((4, 4, 3)), protect=(tmp_path / "a.png",))


def test_cancel_stops_cleanly(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(5):
        Image.fromarray(gray(12, 12, i), "L").save(src / f"p{i}.png")
    jobs, _ = collect_jobs([src], tmp_path / "out")
    for size in (1, 2):
        out_count: list[int] = []
        report = run_batch(tiny_colorizer, jobs, ColorizeOptions(batch_size=size),
                           progress=lambda d, t, r: out_count.append(d), cancel=lambda: len(out_count) >= 2)
        assert report.cancelled and len(report.results) == 2
        written = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert written == ["p0.png", "p1.png"]
        assert temp_files(tmp_path) == []
        for p in (tmp_path / "out").iterdir():
            p.unlink()


def test_ctrl_c_rolls_back_the_photo_in_progress(tiny_colorizer: Colorizer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        Image.fromarray(gray(12, 12, i), "L").save(src / f"p{i}.png")
    jobs, _ = collect_jobs([src], tmp_path / "out")
    real_save = Image.Image.save
    calls = {"n": 0}

    def interrupt_third_write(self, fp, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # p1's uncertainty map, after p1's main output was written
            real_save(self, fp, *args, **kwargs)  # even a fully written temp file must go
            raise KeyboardInterrupt
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", interrupt_third_write)
    with pytest.raises(KeyboardInterrupt):
        run_batch(tiny_colorizer, jobs, ColorizeOptions(uncertainty=True))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p0_uncertainty.png"]
    assert temp_files(tmp_path) == []
    monkeypatch.setattr(Image.Image, "save", real_save)
    report = run_batch(tiny_colorizer, jobs, ColorizeOptions(uncertainty=True, skip_existing=True))
    assert [r.skipped for r in report.results] == [True, False, False]


def test_unexpected_error_in_one_file_is_collected(tiny_colorizer: Colorizer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = three_photo_jobs(tmp_path)
    real = photo_mod.render_outputs

    def flaky(prediction, recipe, options, wanted=None):
        if prediction.size == (12, 12) and flaky.n == 1:
            flaky.n += 1
            raise RuntimeError("something odd")
        flaky.n += 1
        return real(prediction, recipe, options, wanted)

    flaky.n = 0
    monkeypatch.setattr(photo_mod, "render_outputs", flaky)
    report = run_batch(tiny_colorizer, jobs, ColorizeOptions())
    assert [r.ok for r in report.results] == [True, False, True]
    assert "p1.png" in report.failures[0].error and "RuntimeError: something odd" in report.failures[0].error


def test_grouped_path_matches_one_by_one(tiny_colorizer: Colorizer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "photos"
    files = build_tree(src)
    jobs, _ = collect_jobs([src], tmp_path / "one")
    single = run_batch(tiny_colorizer, jobs, ColorizeOptions())
    sizes: list[int] = []
    real = tiny_colorizer.predict_batch

    def spy(lightnesses):
        sizes.append(len(lightnesses))
        return real(lightnesses)

    monkeypatch.setattr(tiny_colorizer, "predict_batch", spy)
    jobs2, _ = collect_jobs([src], tmp_path / "many")
    grouped = run_batch(tiny_colorizer, jobs2, ColorizeOptions(batch_size=4, workers=2))
    assert max(sizes) > 1
    assert [r.ok for r in grouped.results] == [r.ok for r in single.results]
    assert [r.source for r in grouped.results] == [j.source for j in jobs2]
    for rel in set(files) - BAD:
        stem = Path(rel).with_suffix(".png")
        a = np.asarray(Image.open(tmp_path / "one" / stem), np.int32)
        b = np.asarray(Image.open(tmp_path / "many" / stem), np.int32)
        assert np.abs(a - b).max() <= 1, rel


def test_group_failure_falls_back_to_single(tiny_colorizer: Colorizer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = three_photo_jobs(tmp_path)
    real = tiny_colorizer.predict_batch

    def no_groups(lightnesses):
        if len(lightnesses) > 1:
            raise RuntimeError("CUDA out of memory")
        return real(lightnesses)

    monkeypatch.setattr(tiny_colorizer, "predict_batch", no_groups)
    report = run_batch(tiny_colorizer, jobs, ColorizeOptions(batch_size=3))
    assert all(r.ok for r in report.results) and len(report.results) == 3


def test_batch_size_is_automatic_per_device(tiny_colorizer: Colorizer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert batch_size_for(tiny_colorizer, ColorizeOptions()) == 1
    monkeypatch.setattr(tiny_colorizer, "device", torch.device("cuda"))
    assert batch_size_for(tiny_colorizer, ColorizeOptions()) == batch_mod.CUDA_BATCH_SIZE
    assert batch_size_for(tiny_colorizer, ColorizeOptions(batch_size=3)) == 3


def test_job_groups_respect_pixel_budget(tmp_path: Path) -> None:
    jobs = []
    for i in range(5):
        Image.fromarray(gray(100, 100, i), "L").save(tmp_path / f"p{i}.png")
        jobs.append(Job(tmp_path / f"p{i}.png", tmp_path / "o" / f"p{i}.png"))
    assert [len(g) for g in job_groups(jobs, 4)] == [4, 1]
    assert [len(g) for g in job_groups(jobs, 4, pixel_budget=25_000)] == [2, 2, 1]


def test_progress_tracker_eta_ignores_skipped() -> None:
    tracker = ProgressTracker(total=10)
    assert tracker.eta_seconds() is None and tracker.eta_text() == "ETA --"
    tracker.update(FileResult(Path("a"), skipped=True))
    assert tracker.eta_seconds() is None
    tracker.update(FileResult(Path("b"), seconds=2.0))
    eta = tracker.eta_seconds()
    assert eta is not None and 8 * 1.9 <= eta <= 8 * 2.5
    assert tracker.eta_text().startswith("ETA 0:")


def test_process_file_and_report_summary(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    Image.fromarray(gray(9, 7), "L").save(tmp_path / "x.bmp")
    result = process_file(tiny_colorizer, Job(tmp_path / "x.bmp", tmp_path / "o" / "x.png"), ColorizeOptions())
    assert result.ok and result.size == (7, 9) and result.to_json()["width"] == 7
    report = BatchReport(results=[result], seconds=2.0)
    assert report.summary().startswith("1 colourised, 0 skipped, 0 failed")


def test_pixel_limit_reaches_the_batch(tiny_colorizer: Colorizer, tmp_path: Path) -> None:
    Image.fromarray(gray(50, 50), "L").save(tmp_path / "big.png")
    result = process_file(tiny_colorizer, Job(tmp_path / "big.png", tmp_path / "o.png"), ColorizeOptions(max_pixels=100))
    assert not result.ok and "decompression bomb" in result.error


def test_cli_folder_with_bad_files(tiny_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "photos"
    build_tree(src)
    code = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                 "--device", "cpu", "--working-size", "64", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    for rel in BAD:
        assert str(src / rel) in err
    assert (tmp_path / "out" / "1930s" / "wedding" / "rotated.png").exists()
    assert temp_files(tmp_path) == []
