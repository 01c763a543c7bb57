"""Issue 13, case 6: ``colorizer train`` checks everything before the first step, says every failure in
one line, never prints NaN, and never loses the final weights; ``colorizer eval`` skips a bad photo."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from colorizer.cli import main
from colorizer.train import storage
from colorizer.train.config import TrainConfig
from colorizer.weights import load_weights
from test_trainer import write_images

FAST = ["--layers", "gray,stage1", "--hidden", "8", "--steps", "2", "--min-size", "32", "--max-size", "32",
        "--positions", "16", "--augs-per-image", "1", "--quiet", "--threads", "1", "--device", "cpu"]


def train_cli(tmp_path: Path, *args: str) -> int:
    if "--data" not in args:
        args = ("--data", str(write_images(tmp_path / "data", n=2, size=40)), *args)
    return main(["train", *args])


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("field,value,option", [
    ("pixel_batch", 0, "--pixel-batch"), ("steps", -3, "--steps"), ("steps", 0, "--steps"), ("epochs", 0, "--epochs"),
    ("lr", float("nan"), "--lr"), ("lr", -1.0, "--lr"), ("dropout", 1.0, "--dropout"),
    ("batch_size", 0, "--batch-size"),
    ("window", 0, "--window"), ("bins", 1, "--bins"), ("positions", 0, "--positions"), ("seed", -1, "--seed"),
    ("warmup", float("inf"), "--warmup"), ("weight_decay", -0.1, "--weight-decay"), ("min_size", 4, "--min-size"),
    ("checkpoint_every", 0, "--checkpoint-every"), ("save_at", (0,), "--save-at"), ("gray_threshold", 2.0,
                                                                                  "--gray-threshold")])
def test_the_library_refuses_bad_numbers(field: str, value: object, option: str) -> None:
    with pytest.raises(ValueError, match=f"^{option}"):
        TrainConfig(**{field: value})


def test_bad_options_are_one_line_before_anything(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    for args, expect in ((["--pixel-batch", "0"], "--pixel-batch must be"), (["--steps", "-3"], "--steps must be"),
                         (["--lr", "nan"], "--lr must be"), (["--min-size", "64", "--max-size", "32"], "--max-size")):
        assert train_cli(tmp_path, "-o", str(tmp_path / "w.safetensors"), "--run-dir", str(run), *args) == 2
        assert expect in one_line(capsys)
    assert not run.exists() and not (tmp_path / "w.safetensors").exists()


def test_unusable_places_are_found_before_the_first_step(tmp_path: Path, capsys, monkeypatch) -> None:
    import colorizer.train.trainer as trainer

    monkeypatch.setattr(trainer, "prepare_data", lambda *a, **k: pytest.fail("photos were loaded"))
    (tmp_path / "a file").write_text("x")
    cases = {("-o", str(tmp_path / "a file" / "w.safetensors")): "is a file, not a folder",
             ("--run-dir", str(tmp_path / "a file")): "is a file",
             ("--cache-dir", str(tmp_path / "a file")): "is a file",
             ("-o", str(tmp_path)): "is a folder"}
    for (option, value), expect in cases.items():
        args = {"-o": str(tmp_path / "w.safetensors"), "--run-dir": str(tmp_path / "run"), option: value}
        assert train_cli(tmp_path, *[x for kv in args.items() for x in kv], *FAST) == 1
        line = one_line(capsys)
        assert expect in line and value in line


def test_a_checkpoint_with_a_pickle_payload_is_refused(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()

    class Payload:
        def __reduce__(self):
            return (print, ("this code must never run",))

    torch.save({"model": {}, "step": 1, "evil": Payload()}, run / "checkpoint.pt")
    assert train_cli(tmp_path, "-o", str(tmp_path / "w.safetensors"), "--run-dir", str(run), "--resume", *FAST) == 1
    out = capsys.readouterr()
    assert "this code must never run" not in out.out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.err
    assert "checkpoint.pt: not a usable checkpoint" in lines[0] and "--resume" in lines[0]
    (run / "checkpoint.pt").write_bytes(b"\x00garbage")
    assert train_cli(tmp_path, "-o", str(tmp_path / "w.safetensors"), "--run-dir", str(run), "--resume", *FAST) == 1
    assert "not a usable checkpoint" in one_line(capsys)


def test_weights_go_to_the_run_folder_when_the_output_cannot_be_written(tmp_path: Path, capsys,
                                                                        monkeypatch) -> None:
    import colorizer.train.trainer as trainer

    real = trainer.save_weights
    target = tmp_path / "w.safetensors"

    def disk_full_there(path, *args, **kwargs):
        if Path(path) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(trainer, "save_weights", disk_full_there)
    code = train_cli(tmp_path, "-o", str(target), "--run-dir", str(tmp_path / "run"), *FAST)
    out = capsys.readouterr()
    fallback = tmp_path / "run" / "w.safetensors"
    assert code == 1 and json.loads(out.out)["weights"] == str(fallback)
    assert load_weights(fallback).model.config.hidden == 8 and not target.exists()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(fallback) in lines[0]


def test_final_save_fallback_and_both_failing(tmp_path: Path) -> None:
    def failing(path: Path) -> Path:
        raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(OSError, match="--resume"):
        storage.save_final_weights(tmp_path / "w.safetensors", tmp_path / "run", failing)
    written, note = storage.save_final_weights(tmp_path / "run" / "w.safetensors", tmp_path / "run",
                                               lambda p: p if p.name != "w.safetensors" else failing(p))
    assert written.name == "w-saved.safetensors" and "Read-only" in note


def test_json_never_contains_nan() -> None:
    from colorizer.train.train_command import finite_or_none

    value = finite_or_none({"loss": float("nan"), "val": [1.0, float("inf")], "n": 3})
    assert json.dumps(value, allow_nan=False) == '{"loss": null, "val": [1.0, null], "n": 3}'


def test_eval_skips_a_bad_photo_and_says_so(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    data = write_images(tmp_path / "data", n=2, size=40)
    whole = (data / "img0.png").read_bytes()
    (data / "broken.png").write_bytes(whole[: len(whole) // 2])
    code = main(["eval", "--data", str(data), "--weights", str(tiny_weights), "--device", "cpu", "--json",
                 "--working-size", "64"])
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert code == 0 and result["images"] == 2
    assert [s["file"] for s in result["skipped"]] == [str(data / "broken.png")]
    assert "broken.png" in out.err and "Traceback" not in out.err
    (data / "img0.png").write_bytes(b"")
    (data / "img1.png").write_bytes(b"")
    assert main(["eval", "--data", str(data), "--weights", str(tiny_weights), "--device", "cpu", "--json"]) == 1
    assert "none of the 3 images could be read" in capsys.readouterr().err
