"""``colorizer finetune``: screening, hold-out, training from a start model, the refusal, provenance,
progress/cancel and the command line (tiny random networks, small generated photos)."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer.bins import BinScheme
from colorizer.cli import main
from colorizer.model import ModelConfig, build_model
from colorizer.provenance import describe_provenance, format_provenance
from colorizer.train.finetune import (PHASES, FinetuneCancelled, FinetuneConfig, FinetuneControl, FinetuneError,
                                      check_photos, finetune)
from colorizer.train.data import file_key
from colorizer.train.finetune_data import holdout_count, photos_digest, split_holdout
from colorizer.weights import load_weights, read_metadata, save_weights

LAYERS = ("gray", "stage1", "stage2")
# Small crops and few positions (recorded in the start model's recipe, which a fine-tune follows).
RECIPE = {"min_size": 48, "max_size": 64, "positions": 32, "dropout": 0.0}
FAST = dict(steps=30, lr=3e-2, augs_per_image=2, pixel_batch=128, check_every=5, working_size=64, device="cpu",
            threads=1)


WARM, COLD = (0.85, 0.35, 0.15), (0.15, 0.35, 0.85)


def write_photos(folder: Path, n: int, size: int = 128, start: int = 0, palette: tuple = WARM,
                 prefix: str = "photo") -> list[Path]:
    """Gradients in one palette (so a fine-tune can learn it), each one different."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:size, 0:size] / size
        shade = 0.5 + 0.5 * np.sin(3 * xx + i + 2 * yy)[..., None]
        img = np.array(palette) * shade + 0.1 * rng.random((size, size, 1))
        paths.append(folder / f"{prefix}{i}.png")
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(paths[-1])
    return paths


def write_contradicting_photos(folder: Path) -> None:
    """8 warm photos and 2 cold ones that the fine-tune will hold out (found by trying seeds, using
    the same content-keyed split as ``finetune``): the held-out colours contradict the training photos."""
    warm = write_photos(folder, 8)
    warm_keys = [file_key(p) for p in warm]
    for seed in range(100, 2000, 2):
        cold = write_photos(folder, 2, start=seed, palette=COLD, prefix="cold")
        keys = warm_keys + [file_key(p) for p in cold]
        if split_holdout(warm + cold, keys, holdout_count(10), seed=0)[1] == [8, 9]:
            return
        for p in cold:
            p.unlink()
    raise AssertionError("no seed gives a cold held-out pair")


def add_bad_photos(folder: Path, good: Path) -> None:
    """One of each kind a user's folder may hold besides good photos."""
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    Image.fromarray(np.full((128, 128, 3), 120, np.uint8)).save(folder / "gray.png")
    Image.fromarray(np.tile(np.array([200, 40, 40], np.uint8), (64, 160, 1))).save(folder / "tiny.png")
    shutil.copy(good, folder / "z-copy.png")  # sorted after the original
    rgba = np.zeros((128, 128, 4), np.uint8)
    rgba[:20, :20] = (200, 40, 40, 255)
    Image.fromarray(rgba).save(folder / "cutout.png")


def digest_folder(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def start_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=LAYERS, hidden=16), pretrained=False)
    return save_weights(tmp_path_factory.mktemp("start") / "start.safetensors", model, BinScheme(),
                        training={"recipe": RECIPE})


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, start_weights: Path) -> tuple[Path, Path, object]:
    """(photo folder, written weights, result) of one fine-tune on 10 good photos and 5 bad files."""
    folder = tmp_path_factory.mktemp("mine")
    good = write_photos(folder, 10)
    add_bad_photos(folder, good[0])
    out = folder.parent / "out" / "mine.safetensors"
    before = digest_folder(folder)
    result = finetune([folder], out, init=start_weights, config=FinetuneConfig(**FAST))
    assert digest_folder(folder) == before  # the photos are never modified
    return folder, out, result


def test_screening_counts_every_kind_of_bad_photo(tmp_path: Path, start_weights: Path) -> None:
    good = write_photos(tmp_path, 3)
    add_bad_photos(tmp_path, good[1])
    screening = check_photos([tmp_path], start_weights)
    assert screening.usable == good
    assert screening.skipped_counts == {"unreadable": 1, "near-gray": 1, "tiny": 1, "duplicate": 1, "transparent": 1}
    assert screening.found == 8
    assert "broken.jpg" in screening.skipped["unreadable"][0][1]
    assert screening.skipped["duplicate"][0][0].endswith("z-copy.png") and "photo1.png" in screening.skipped["duplicate"][0][1]


def test_holdout_is_a_seeded_tenth_chosen_by_content() -> None:
    assert [holdout_count(n) for n in (4, 20, 30, 45, 200)] == [2, 2, 3, 4, 20]
    paths = [Path(f"p{i}.png") for i in range(30)]
    keys = [f"{i * 7919 % 1000:04d}" for i in range(30)]
    train, held = split_holdout(paths, keys, 3, seed=0)
    assert len(held) == 3 and sorted(train + held) == list(range(30))
    assert split_holdout(paths, keys, 3, seed=0) == (train, held)
    assert split_holdout(paths, keys, 3, seed=1)[1] != held
    renamed = list(reversed(paths)), list(reversed(keys))  # other names and order, same photos
    held_keys = {keys[i] for i in held}
    assert {renamed[1][i] for i in split_holdout(*renamed, 3, seed=0)[1]} == held_keys


def test_finetune_learns_the_colours_and_records_its_provenance(tuned, start_weights: Path) -> None:
    folder, out, result = tuned
    assert result.written == out and result.refused is None
    assert (result.photos, result.held_out) == (8, 2)
    assert result.skipped == {"unreadable": 1, "near-gray": 1, "tiny": 1, "duplicate": 1, "transparent": 1}
    assert result.new["psnr"] > result.start["psnr"] and result.psnr_gain > 0
    loaded = load_weights(out)
    record = loaded.training["finetune"]
    assert record["base_model"] == {"file": "start.safetensors", "sha256": read_metadata(start_weights)["sha256"]}
    assert record["photos"] == 8 and record["held_out_photos"] == 2 and record["skipped"] == result.skipped
    assert record["photos_hash"] == photos_digest(check_photos([folder], start_weights).keys)
    assert record["held_out"] == {"start": result.start, "new": result.new, "gray": result.gray}
    assert datetime.fromisoformat(record["date"]).tzinfo is not None and record["seconds"] > 0
    recipe = loaded.training["recipe"]  # the start model's augmentations, head only, L2-SP without weight decay
    assert (recipe["min_size"], recipe["max_size"], recipe["positions"]) == (48, 64, 32)
    assert recipe["freeze"] == "all" and recipe["weight_decay"] == 0.0 and recipe["l2sp"] == FinetuneConfig().l2sp
    header = json.dumps(read_metadata(out))
    assert str(folder) not in header and "colorizer-finetune-" not in header  # no private or temporary paths
    assert loaded.model.config.layers == LAYERS


def test_a_model_no_better_than_its_start_is_not_written(tmp_path: Path, start_weights: Path) -> None:
    write_photos(tmp_path / "mine", 6)
    out = tmp_path / "mine.safetensors"
    result = finetune([tmp_path / "mine"], out, init=start_weights, config=FinetuneConfig(**{**FAST, "lr": 0.0}))
    assert result.written is None and not out.exists()
    assert result.new == result.start and "not better than start.safetensors" in result.refused


def test_a_fine_tune_that_is_worse_on_the_held_out_photos_is_refused(tmp_path: Path, start_weights: Path) -> None:
    """Training on warm photos while the held-out ones are cold makes the held-out colours worse: refused."""
    write_contradicting_photos(tmp_path / "mine")
    out = tmp_path / "worse.safetensors"
    result = finetune([tmp_path / "mine"], out, init=start_weights, config=FinetuneConfig(**FAST))
    assert result.held_out == 2 and result.new["psnr"] < result.start["psnr"]
    assert result.written is None and not out.exists() and result.refused.startswith("not written")
    assert result.model is not None  # still there, e.g. to show it beside the start model


def test_too_few_usable_photos_is_a_clear_error(tmp_path: Path, start_weights: Path) -> None:
    write_photos(tmp_path, 3)
    Image.fromarray(np.full((128, 128, 3), 90, np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(FinetuneError, match=r"3 usable colour photos among 4 found \(skipped: 1 near-gray\).*at least 4"):
        finetune([tmp_path], tmp_path / "x.safetensors", init=start_weights, config=FinetuneConfig(**FAST))
    with pytest.raises(FinetuneError, match="is the starting model"):
        finetune([tmp_path], start_weights, init=start_weights)
    with pytest.raises(FinetuneError, match="is a folder"):
        finetune([tmp_path], tmp_path, init=start_weights)


def test_progress_goes_through_every_phase_with_an_eta(tmp_path: Path, start_weights: Path) -> None:
    write_photos(tmp_path / "mine", 5)
    seen = []
    finetune([tmp_path / "mine"], tmp_path / "m.safetensors", init=start_weights,
             config=FinetuneConfig(**{**FAST, "steps": 8}), progress=seen.append)
    order = [p.phase for i, p in enumerate(seen) if i == 0 or seen[i - 1].phase != p.phase]
    assert order == list(PHASES)
    assert all(p.index == PHASES.index(p.phase) + 1 and 0 <= p.done <= p.total for p in seen)
    training = [p for p in seen if p.phase == "training"]
    assert training[-1].done == training[-1].total == 8 and training[-1].eta_seconds == 0
    assert all(p.eta_seconds is not None and p.eta_seconds >= 0 for p in training[1:])
    assert [p.elapsed_seconds for p in seen] == sorted(p.elapsed_seconds for p in seen)


def test_cancel_writes_nothing_and_finish_now_keeps_the_best_so_far(tmp_path: Path, start_weights: Path) -> None:
    write_photos(tmp_path / "mine", 5)
    control = FinetuneControl()

    def cancel_while_caching(p) -> None:
        if p.phase == "caching features":
            control.cancel()

    with pytest.raises(FinetuneCancelled):
        finetune([tmp_path / "mine"], tmp_path / "a.safetensors", init=start_weights, config=FinetuneConfig(**FAST),
                 progress=cancel_while_caching, control=control)
    assert not (tmp_path / "a.safetensors").exists()

    control = FinetuneControl()
    result = finetune([tmp_path / "mine"], tmp_path / "b.safetensors", init=start_weights,
                      config=FinetuneConfig(**{**FAST, "min_gain_db": -100.0}), control=control,
                      progress=lambda p: control.finish_now() if p.phase == "training" and p.done == 4 else None)
    assert result.interrupted and result.steps == 4 and result.new["psnr"] is not None
    assert load_weights(result.written).training["finetune"]["interrupted"] is True


def test_ctrl_c_in_training_still_compares_on_the_held_out_photos(tmp_path: Path, start_weights: Path) -> None:
    write_photos(tmp_path / "mine", 5)

    def ctrl_c_at_step_5(p) -> None:  # the signal arrives while the training loop runs
        if p.phase == "training" and p.done == 5:
            raise KeyboardInterrupt

    result = finetune([tmp_path / "mine"], tmp_path / "c.safetensors", init=start_weights,
                      config=FinetuneConfig(**{**FAST, "min_gain_db": -100.0}), progress=ctrl_c_at_step_5)
    assert result.interrupted and result.steps == 5 and result.written is not None
    assert set(result.start) == set(result.new) == {"psnr", "ab_rmse"}


def test_an_ensemble_with_global_features_can_be_fine_tuned(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=LAYERS, hidden=8, members=2, global_features=True), pretrained=True)
    start = save_weights(tmp_path / "ens.safetensors", model, BinScheme(), training={"recipe": RECIPE})
    write_photos(tmp_path / "mine", 5)
    result = finetune([tmp_path / "mine"], tmp_path / "e.safetensors", init=start,
                      config=FinetuneConfig(**{**FAST, "steps": 6, "min_gain_db": -100.0}))
    loaded = load_weights(result.written)
    assert loaded.model.config.members == 2 and loaded.model.config.global_features
    assert loaded.training["recipe"]["members"] == 2


def test_command_line_exit_codes_and_outputs(tmp_path: Path, start_weights: Path, capsys) -> None:
    write_photos(tmp_path / "mine", 6)
    common = ["--init", str(start_weights), "--device", "cpu", "--threads", "1", "--steps", "20", "--lr", "0.03"]
    out = tmp_path / "mine.safetensors"
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(out)] + common) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip())
    assert summary["written"] == str(out) and summary["photos"] == 4 and summary["held_out"] == 2
    assert "fine-tuned" in captured.err and "start.safetensors" in captured.err and "PSNR" in captured.err

    refused = tmp_path / "refused.safetensors"
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(refused), "-q"] + common[:-1] + ["0"]) == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out)["written"] is None and not refused.exists()
    assert captured.err.strip().startswith("colorizer finetune: not written") and len(captured.err.splitlines()) == 1

    gray = tmp_path / "gray"
    gray.mkdir()
    for i in range(5):
        Image.fromarray(np.full((128, 128, 3), 40 * i, np.uint8)).save(gray / f"g{i}.png")
    assert main(["finetune", str(gray), "-o", str(tmp_path / "g.safetensors"), "-q"] + common) == 1
    assert "0 usable colour photos among 5 found (skipped: 5 near-gray)" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "missing"), "-o", str(tmp_path / "g.safetensors")] + common) == 1
    assert "missing: no such file or folder" in capsys.readouterr().err


def test_command_line_ctrl_c_before_training_writes_nothing(tmp_path: Path, start_weights: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import colorizer.train.finetune as finetune_module

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune_module, "screen_photos", interrupted)
    write_photos(tmp_path / "mine", 4)
    out = tmp_path / "x.safetensors"
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(out), "--init", str(start_weights), "-q"]) == 130
    assert "nothing was written" in capsys.readouterr().err and not out.exists()


def test_eval_shows_the_provenance_and_colorize_uses_the_fine_tuned_model(tuned, tmp_path: Path, capsys) -> None:
    folder, weights, result = tuned
    assert main(["eval", "--data", str(folder / "photo1.png"), "--weights", str(weights), "--device", "cpu",
                 "--working-size", "64"]) == 0
    captured = capsys.readouterr()
    provenance = json.loads(captured.out)["provenance"]
    assert provenance["kind"] == "fine-tuned" and provenance["base_model"] == "start.safetensors"
    assert provenance["photos"] == 8 and provenance["held_out"]["new"] == result.new
    assert "model: fine-tuned from start.safetensors" in captured.err and "held-out photos" in captured.err
    assert main(["colorize", str(folder / "photo1.png"), "-o", str(tmp_path / "out"), "--weights", str(weights),
                 "--device", "cpu", "-q"]) == 0
    assert Image.open(tmp_path / "out" / "photo1.png").size == (128, 128)


def test_provenance_of_trained_and_unknown_models() -> None:
    trained = describe_provenance({"data": {"manifest": "corpus/MANIFEST.tsv", "split": "train", "images": 663},
                                   "steps": 1992, "val_metrics": {"psnr": 24.236, "ab_rmse": 17.186}})
    assert trained["kind"] == "trained" and trained["photos"] == 663
    assert format_provenance(trained) == ["trained on 663 photos (corpus/MANIFEST.tsv split=train), 1992 steps; "
                                          "validation PSNR 24.24 dB, ab RMSE 17.19"]
    hardened = describe_provenance({"data": {"images": 798}, "steps": 600, "robust_backbone": {"steps": 600}})
    assert format_provenance(hardened)[0].endswith("600 steps, then 600 steps of old-print robustness")
    assert describe_provenance({}) == {"kind": "unknown"}
    assert "unknown" in format_provenance(describe_provenance(None))[0]


def test_time_per_phase_is_recorded(tuned) -> None:
    _folder, weights, result = tuned
    assert set(result.phase_seconds) <= set(PHASES) and {"training", "comparing"} <= set(result.phase_seconds)
    assert 0 < sum(result.phase_seconds.values()) <= result.seconds + 0.5
    assert load_weights(weights).training["finetune"]["phase_seconds"] == result.phase_seconds


def test_command_line_refuses_a_bad_output_before_any_work(tmp_path: Path, start_weights: Path, capsys) -> None:
    write_photos(tmp_path / "mine", 4)
    common = ["--init", str(start_weights), "--device", "cpu", "-q"]
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(tmp_path)] + common) == 1
    assert "is a folder" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(start_weights)] + common) == 1
    assert "is the starting model" in capsys.readouterr().err
    photo = tmp_path / "mine" / "photo0.png"
    assert main(["finetune", str(tmp_path / "mine"), "-o", str(photo)] + common) == 1
    assert "is one of the photos" in capsys.readouterr().err and photo.stat().st_size > 0
