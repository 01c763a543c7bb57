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
from colorizer.train.commands import add_train_command
from colorizer.train.trainer import SampledHead, TrainConfig, histogram_loss, sample_hypercolumns, train
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
                pixel_batch=64, epochs=3, lr=3e-2, checkpoint_every=2, quiet=True, final_eval=False, threads=1,
                device="cpu", seed=1, dropout=0.0)
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
        torch.testing.assert_close(o.reshape(2, 30, -1), r.transpose(1, 2), atol=1e-5, rtol=1e-4)


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
    from colorizer.train.trainer import check_disjoint
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    check_disjoint([a], [b])
    with pytest.raises(ValueError, match="validation images are also in the training data"):
        check_disjoint([a, b], [tmp_path / "." / "b.png"])
