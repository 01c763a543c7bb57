"""Trainer: loss, cached head == sparse head, a tiny overfit, resume after interruption, DDP on CPU."""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from colorizer.model import ModelConfig, build_model
from colorizer.pipeline import Colorizer
from colorizer.train.train_command import add_train_command
from colorizer.train.head_training import SampledHead, histogram_loss, sample_hypercolumns
from colorizer.train.config import TrainConfig
from colorizer.train.trainer import train
from colorizer.weights import load_weights

LAYERS = ("gray", "stage1", "stage2")


def write_images(folder: Path, n: int = 4, size: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:size, 0:size] / size
        img = np.stack([0.5 + 0.45 * np.sin(5 * xx + i), 0.5 + 0.45 * np.cos(4 * yy + 2 * i),
                        0.3 + 0.3 * rng.random() + 0.2 * xx], axis=-1)
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def tiny_config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(out=str(tmp_path / "w.safetensors"), run_dir=str(tmp_path / "run"), data=[str(tmp_path / "data")],
                layers=LAYERS, hidden=16, pretrained=False, min_size=40, max_size=48, positions=32, augs_per_image=2,
                pixel_batch=64, epochs=3, steps=None, lr=3e-2, checkpoint_every=2, quiet=True, final_eval=False, threads=1,
                device="cpu", seed=1, dropout=0.0, robust_steps=0)
    base.update(kw)
    return TrainConfig(**base)


def test_loss_is_zero_for_exact_prediction_and_weights_hue_by_chroma() -> None:
    t = torch.softmax(torch.randn(5, 8), -1)
    exact = histogram_loss([t.log(), t.log()], [t, t], torch.ones(5), "hue_chroma")
    assert abs(float(exact)) < 1e-6
    wrong = torch.log_softmax(torch.randn(5, 8), -1)
    hue_only = histogram_loss([wrong, t.log()], [t, t], torch.zeros(5), "hue_chroma")
    assert abs(float(hue_only)) < 1e-6  # gray pixels: hue does not count
    assert float(histogram_loss([wrong, t.log()], [t, t], torch.ones(5), "hue_chroma")) > 0
    lab = histogram_loss([wrong, wrong], [t, t], torch.zeros(5), "lab_marginal")
    assert float(lab) > 0


def test_cached_head_equals_sparse_head() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=LAYERS, hidden=16), pretrained=False)
    gray = torch.rand(2, 1, 40, 48)
    pos = torch.rand(2, 30, 2) * 2 - 1
    with torch.no_grad():
        ref = model.forward_sparse(gray, pos)
        hc = sample_hypercolumns(model.features(gray), LAYERS, pos)
        out = SampledHead(model)(hc.reshape(-1, hc.shape[-1]))
    for r, o in zip(ref, out):
        torch.testing.assert_close(o[:, 0].reshape(2, 30, -1), r.transpose(1, 2), atol=1e-5, rtol=1e-4)


def read_losses(run_dir: Path) -> list[float]:
    with open(run_dir / "log.csv") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def test_tiny_overfit_decreases_loss_and_weights_load(tmp_path) -> None:
    write_images(tmp_path / "data")
    write_images(tmp_path / "val")  # same pictures, own files: validation must never be the training files
    cfg = tiny_config(tmp_path, epochs=50, checkpoint_every=1000, val_data=[str(tmp_path / "val")], final_eval=True)
    res = train(cfg)
    assert res.steps > 10
    losses = read_losses(tmp_path / "run")
    assert losses[-1] < 0.7 * losses[0]
    assert res.val_loss is not None and res.val_metrics is not None and "psnr" in res.val_metrics
    loaded = load_weights(res.weights)
    assert loaded.training["steps"] == res.steps and loaded.training["data"]["images"] == 4
    rgb = Colorizer(loaded, device="cpu").colorize(np.random.rand(30, 40).astype(np.float32)).rgb
    assert rgb.shape == (30, 40, 3)


@pytest.mark.parametrize("freeze,dropout", [("all", 0.5), ("partial", 0.0)])
def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, freeze: str, dropout: float) -> None:
    write_images(tmp_path / "data", n=3, size=40)
    kw = dict(freeze=freeze, epochs=2, batch_size=2, min_size=32, max_size=40, dropout=dropout)
    straight = train(tiny_config(tmp_path, run_dir=str(tmp_path / "a"), out=str(tmp_path / "a.safetensors"), **kw))
    cfg = tiny_config(tmp_path, run_dir=str(tmp_path / "b"), out=str(tmp_path / "b.safetensors"), **kw)
    part = train(cfg, stop_after=2)  # "killed" after 2 steps; checkpoint_every=2
    assert part.weights is None and part.steps == 2
    ck = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 2 and ck["optimizer"]["state"]  # optimiser moments were saved
    resumed = train(replace(cfg, resume=True))
    assert resumed.steps == straight.steps
    a, b = load_weights(straight.weights).model.state_dict(), load_weights(resumed.weights).model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-3, rtol=1e-3)


def _ddp_worker(rank: int, world: int, port: int, tmp: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    tmp_path = Path(tmp)
    res = train(tiny_config(tmp_path, steps=3, epochs=1))
    torch.distributed.destroy_process_group()
    head = {k: v for k, v in (load_weights(tmp_path / "w.safetensors").model.state_dict().items()
                              if rank == 0 else [])}
    torch.save({"steps": res.steps, "n": len(head)}, tmp_path / f"rank{rank}.pt")


def test_ddp_two_cpu_processes_gloo(tmp_path) -> None:
    write_images(tmp_path / "data", n=4, size=40)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert r0["steps"] == r1["steps"] == 3 and r0["n"] > 0
    assert load_weights(tmp_path / "w.safetensors").training["world_size"] == 2


def test_train_command_end_to_end(tmp_path, capsys) -> None:
    write_images(tmp_path / "data", n=2, size=40)
    parser = argparse.ArgumentParser()
    add_train_command(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["train", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "cli.safetensors"),
                              "--run-dir", str(tmp_path / "r"), "--layers", "gray,stage1", "--hidden", "8",
                              "--steps", "2", "--min-size", "32", "--max-size", "32", "--positions", "16",
                              "--augs-per-image", "1", "--quiet", "--threads", "1", "--device", "cpu"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and Path(summary["weights"]).is_file()
    assert load_weights(summary["weights"]).model.config.hidden == 8
    tuned = parser.parse_args(["train", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "ft.safetensors"),
                               "--run-dir", str(tmp_path / "r2"), "--init", summary["weights"], "--steps", "1",
                               "--min-size", "32", "--max-size", "32", "--positions", "16", "--augs-per-image", "1",
                               "--quiet", "--threads", "1", "--device", "cpu"])
    assert tuned.func(tuned) == 0
    ft = load_weights(tmp_path / "ft.safetensors")
    assert ft.model.config.layers == ("gray", "stage1") and ft.training["init"] == summary["weights"]
    bad = parser.parse_args(["train", "--data", str(tmp_path / "missing")])
    assert bad.func(bad) == 1


def test_validation_images_are_never_trained_on(tmp_path):
    from colorizer.train.config import check_disjoint
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    check_disjoint([a], [b])
    with pytest.raises(ValueError, match="validation images are also in the training data"):
        check_disjoint([a, b], [tmp_path / "." / "b.png"])


def test_bagged_ensemble_with_global_features_trains_and_members_differ(tmp_path) -> None:
    write_images(tmp_path / "data", n=5)
    # an ImageNet backbone: a random one pools to (almost) zero at the head, which would hide the global term
    res = train(tiny_config(tmp_path, members=3, global_features=True, steps=6, save_at=(3,), pretrained=True))
    loaded = load_weights(res.weights)
    assert loaded.model.config.members == 3 and loaded.model.config.global_features
    assert (tmp_path / "w-step3.safetensors").is_file()
    heads = loaded.model.heads[0].weight.reshape(3, 32, -1)
    assert not torch.allclose(heads[0], heads[1])  # bootstrap samples and inits differ
    assert float(loaded.model.global_proj.weight.detach().abs().sum()) > 0  # the global term was trained
    out = Colorizer(loaded, device="cpu", working_size=48).predict(np.random.default_rng(0).random((40, 40)))
    np.testing.assert_allclose(np.exp(out.log_probs[0]).sum(-1), 1.0, atol=1e-4)


def test_bootstrap_counts_are_per_photo_and_stable_across_subsets() -> None:
    from colorizer.train.head_training import bootstrap_counts

    full = bootstrap_counts(["a", "b", "c", "d"], 4, seed=0)
    sub = bootstrap_counts(["c", "a"], 4, seed=0)
    np.testing.assert_array_equal(sub, full[[2, 0]])
    assert full.shape == (4, 4) and (full >= 0).all() and not (full == 1).all()
    np.testing.assert_array_equal(bootstrap_counts(["a", "b"], 1, seed=0), np.ones((2, 1)))


def test_member_loss_weights_rows_by_bootstrap_counts() -> None:
    t = torch.softmax(torch.randn(4, 8), -1)
    good, bad = t.log(), torch.log_softmax(torch.randn(4, 8), -1)
    members = torch.stack([good, bad], dim=1)  # member 0 exact, member 1 wrong
    weights = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])  # member 1 sees no row
    loss = histogram_loss([members, members], [t, t], torch.ones(4), "hue_chroma", row_weights=weights)
    assert abs(float(loss)) < 1e-5


def test_cached_crops_are_per_photo_and_reused_by_any_subset(tmp_path) -> None:
    write_images(tmp_path / "data", n=4)
    cache = tmp_path / "cache"
    train(tiny_config(tmp_path, cache_dir=str(cache), steps=2))
    files = sorted(cache.rglob("*.pt"))
    assert len(files) == 4
    stamps = {f: f.stat().st_mtime_ns for f in files}
    subset = tmp_path / "subset"
    subset.mkdir()
    for f in sorted((tmp_path / "data").iterdir())[:2]:  # the same photos under other names
        (subset / f"renamed_{f.name}").write_bytes(f.read_bytes())
    train(tiny_config(tmp_path, data=[str(subset)], cache_dir=str(cache), run_dir=str(tmp_path / "run2"), steps=2))
    assert sorted(cache.rglob("*.pt")) == files and all(f.stat().st_mtime_ns == stamps[f] for f in files)


def test_leaving_sources_out_of_a_manifest(tmp_path) -> None:
    data = write_images(tmp_path / "corpus" / "photos", n=4)
    rows = ["file\tsource_package\tsplit"] + [f"photos/img{i}.png\t{'a' if i < 3 else 'b'}\ttrain" for i in range(4)]
    (tmp_path / "corpus" / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    res = train(tiny_config(tmp_path, data=[], manifest=str(tmp_path / "corpus"), exclude_sources=("a",), steps=1))
    record = load_weights(res.weights).training["data"]
    assert record["images"] == 1 and record["excluded_sources"] == ["a"] and data.is_dir()


def test_l2sp_keeps_a_fine_tune_near_its_starting_weights(tmp_path) -> None:
    write_images(tmp_path / "data", n=3)
    start = train(tiny_config(tmp_path, steps=2, out=str(tmp_path / "start.safetensors"))).weights
    moved = {}
    for l2sp in (0.0, 100.0):
        res = train(tiny_config(tmp_path, init=str(start), steps=6, l2sp=l2sp, weight_decay=0.0,
                                run_dir=str(tmp_path / f"ft{l2sp}"), out=str(tmp_path / f"ft{l2sp}.safetensors")))
        a, b = load_weights(start).model.proj_bias, load_weights(res.weights).model.proj_bias
        moved[l2sp] = float((a - b).detach().abs().mean())
    assert moved[100.0] < moved[0.0] / 3


def test_classifier_scope_trains_only_the_classifiers(tmp_path) -> None:
    write_images(tmp_path / "data", n=3)
    start = train(tiny_config(tmp_path, steps=2, out=str(tmp_path / "start.safetensors"))).weights
    res = train(tiny_config(tmp_path, init=str(start), steps=4, head_scope="classifier", keep_best=False,
                            run_dir=str(tmp_path / "ft"), out=str(tmp_path / "ft.safetensors")))
    before, after = load_weights(start).model.state_dict(), load_weights(res.weights).model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("heads.") for k in changed)
    with pytest.raises(ValueError, match="head-scope"):
        tiny_config(tmp_path, head_scope="projection")


def test_ctrl_c_keeps_a_checkpoint_and_writes_the_weights_so_far(tmp_path, monkeypatch) -> None:
    import colorizer.train.trainer as trainer_module

    write_images(tmp_path / "data", n=3)
    calls = {"n": 0}
    real = trainer_module.histogram_loss

    def interrupt_on_fourth(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(trainer_module, "histogram_loss", interrupt_on_fourth)
    res = train(tiny_config(tmp_path, steps=10, checkpoint_every=100))
    assert res.interrupted and res.steps == 3 and res.weights.is_file()
    assert load_weights(res.weights).training["interrupted"] is True
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_progress_callback_reports_phases_and_can_cancel(tmp_path) -> None:
    from colorizer.train.trainer import TrainingCancelled

    write_images(tmp_path / "data", n=3)
    seen: list[tuple[str, int, int]] = []
    train(tiny_config(tmp_path, steps=3), callback=lambda *a: seen.append(a))
    phases = [s[0] for s in seen]
    assert {"loading photos", "caching features", "training"} <= set(phases)
    assert ("training", 3, 3) in seen and ("caching features", 3, 3) in seen
    with pytest.raises(TrainingCancelled):
        train(tiny_config(tmp_path, steps=3, run_dir=str(tmp_path / "r2")), callback=lambda phase, *_: phase != "caching features")
    stopped = train(tiny_config(tmp_path, steps=5, run_dir=str(tmp_path / "r3"), out=str(tmp_path / "s.safetensors")),
                    callback=lambda phase, done, total: not (phase == "training" and done >= 2))
    assert stopped.interrupted and stopped.steps == 2 and stopped.weights.is_file()
