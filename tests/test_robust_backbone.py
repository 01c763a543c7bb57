"""The old-print robustness phase: what it tunes, that it learns, cancel, and its place in the trainer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from colorizer.model import ModelConfig, build_model
from colorizer.train.config import TrainConfig
from colorizer.train.cv_command import recipe_of
from colorizer.train.degrade import OldPrintConfig, degrade_lightness
from colorizer.train.robust_backbone import (PHASE, RobustConfig, harden_backbone, histogram_kl, photo_lightness,
                                             robustness_photos, teacher_target, tuned_parameters)
from colorizer.train.trainer import train
from colorizer.weights import load_weights, save_weights

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer import tiny_config, write_images  # noqa: E402

DEEP = ("gray", "stage1", "stage3", "head")
SMALL = RobustConfig(steps=6, positions=64, working_size=48, anchor=0.0)
# one fixed degradation (no grain, no JPEG): the same old print at every step
FIXED = OldPrintConfig(blur=(1.5, 1.5), fade=(0.4, 0.4), grain=(0.0, 0.0), dust=0.0, jpeg=(0, 0), probability=1.0)


def tiny_model(layers: tuple[str, ...] = DEEP, calibrate_on: list[np.ndarray] | None = None):
    """A random lite0 colouriser; ``calibrate_on``: photos whose statistics its BatchNorm layers take, so
    that deep features are not vanishingly small (as they are with the initial statistics)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=layers, hidden=16), pretrained=False)
    if calibrate_on:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = 1.0
        model.train()
        with torch.no_grad():
            model.features(torch.stack([torch.from_numpy(photo_lightness(p, 48))[None] for p in calibrate_on]))
    return model.eval()


def photos(n: int = 2, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    return [np.clip(np.stack([0.5 + 0.4 * np.sin(6 * xx + i), 0.4 + 0.3 * yy, 0.3 + 0.2 * rng.random((size, size))],
                             axis=-1), 0, 1).astype(np.float32) for i in range(n)]


def test_only_deep_stages_that_feed_the_hypercolumn_are_tuned() -> None:
    model = tiny_model()
    tuned = {id(p) for p in tuned_parameters(model, 3)}
    bb = model.backbone
    first = bb.stage_ends[1] + 1
    assert all(id(p) in tuned for p in bb._blocks[first].parameters())
    assert not any(id(p) in tuned for p in bb._blocks[first - 1].parameters())
    assert all(id(p) in tuned for p in bb._conv_head.parameters())
    assert not any(id(p) in tuned for p in model.head_parameters())
    shallow = tiny_model(("gray", "stage1", "stage2"))
    assert tuned_parameters(shallow, 3) == []
    mid = {id(p) for p in tuned_parameters(tiny_model(("gray", "stage3")), 3)}
    assert mid and not any(id(p) in mid for p in bb._conv_head.parameters())
    with pytest.raises(ValueError, match="first_stage"):
        tuned_parameters(model, 0)


def test_kl_is_zero_for_equal_histograms_and_positive_otherwise() -> None:
    t = torch.log_softmax(torch.randn(8, 5), 0)
    assert float(histogram_kl(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(histogram_kl(t, torch.log_softmax(torch.randn(8, 5), 0))) > 0


def test_phase_learns_and_changes_only_the_deep_backbone() -> None:
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen: list[tuple[str, int, int]] = []
    record = harden_backbone(model, photos(), SMALL, "cpu", lambda *a: seen.append(a))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    first = model.backbone.stage_ends[1] + 1
    assert changed, "the phase changed nothing"
    for key in changed:
        assert key.startswith("backbone."), key
        if key.startswith("backbone._blocks."):
            assert int(key.split(".")[2]) >= first, key
    assert not any("running_" in k for k in changed)  # BatchNorm statistics stay
    assert seen[-1] == (PHASE, SMALL.steps, SMALL.steps) and record["photos"] == 2
    assert record["final_loss"] is not None and record["steps"] == SMALL.steps
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_phase_brings_an_old_print_closer_to_the_clean_photo() -> None:
    pics = photos(1)
    model = tiny_model(calibrate_on=pics)
    target = teacher_target(model, pics[0], SMALL, torch.device("cpu"))
    old_print = torch.from_numpy(degrade_lightness(target.lightness, np.random.default_rng(0), FIXED))[None, None]

    def gap() -> float:
        with torch.no_grad():
            out = model.forward_dense(old_print, target.grid)
        return sum(float(histogram_kl(t, o[0].reshape(o.shape[1], -1))) for t, o in zip(target.log_probs, out))

    start = gap()
    harden_backbone(model, pics, RobustConfig(steps=20, positions=144, working_size=48, anchor=0.0, old_print=FIXED))
    assert gap() < 0.8 * start


def test_cancel_restores_the_backbone_and_raises() -> None:
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(KeyboardInterrupt):
        harden_backbone(model, photos(), SMALL, "cpu", lambda phase, done, total: done < 3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    asked: list[int] = []
    with pytest.raises(KeyboardInterrupt):  # while the clean photos' targets are computed
        harden_backbone(model, photos(3), SMALL, "cpu", lambda phase, done, total: asked.append(done) or False)
    assert asked == [0]


def test_bad_settings_are_refused() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="at least one step"):
        harden_backbone(model, photos(), RobustConfig(steps=0), "cpu")
    with pytest.raises(ValueError, match="at least one training photo"):
        harden_backbone(model, [], SMALL, "cpu")
    with pytest.raises(ValueError, match="no backbone stage"):
        harden_backbone(tiny_model(("gray", "stage1")), photos(), SMALL, "cpu")


def test_cut_outs_are_left_out_of_the_phase() -> None:
    pics = photos(3)
    kept = robustness_photos(pics, [None, np.ones((48, 48), bool), None])
    assert len(kept) == 2 and kept[0] is pics[0] and kept[1] is pics[2]


def test_trainer_runs_the_phase_after_the_head_and_records_it(tmp_path) -> None:
    write_images(tmp_path / "data", n=3)
    seen: list[tuple[str, int, int]] = []
    res = train(tiny_config(tmp_path, steps=3, layers=DEEP, robust_steps=3), callback=lambda *a: seen.append(a))
    phases = [s[0] for s in seen]
    assert phases.index(PHASE) > max(i for i, p in enumerate(phases) if p == "training")
    loaded = load_weights(res.weights)
    record = loaded.training["robust_backbone"]
    assert record["steps"] == 3 and record["photos"] == 3 and loaded.training["recipe"]["robust_steps"] == 3
    plain = train(tiny_config(tmp_path, steps=3, layers=DEEP, robust_steps=0, run_dir=str(tmp_path / "r0"),
                              out=str(tmp_path / "plain.safetensors")))
    head_only = load_weights(plain.weights)
    assert head_only.training["robust_backbone"] is None
    deep = "backbone._conv_head.weight"
    assert not torch.equal(loaded.model.state_dict()[deep], head_only.model.state_dict()[deep])
    shallow = next(k for k in loaded.model.state_dict() if k.startswith("backbone._blocks.0."))
    assert torch.equal(loaded.model.state_dict()[shallow], head_only.model.state_dict()[shallow])


def test_cancelling_the_phase_keeps_the_trained_head(tmp_path) -> None:
    write_images(tmp_path / "data", n=3)
    res = train(tiny_config(tmp_path, steps=3, layers=DEEP, robust_steps=5),
                callback=lambda phase, done, total: not (phase == PHASE and done >= 2))
    assert res.interrupted and res.steps == 3
    loaded = load_weights(res.weights)
    assert loaded.training["robust_backbone"] is None and loaded.training["interrupted"] is True


def test_recipes_recorded_before_the_phase_cross_validate_without_it(tmp_path) -> None:
    model = tiny_model()
    from colorizer.bins import BinScheme

    recipe = {k: v for k, v in TrainConfig(layers=DEEP, hidden=16).__dict__.items() if k != "robust_steps"}
    old = save_weights(tmp_path / "old.safetensors", model, BinScheme(), {"recipe": recipe})
    assert recipe_of(str(old), []).robust_steps == 0
    assert recipe_of(str(old), ["robust_steps=600"]).robust_steps == 600


def test_a_fine_tune_keeps_the_start_backbone(tmp_path) -> None:
    from colorizer.bins import BinScheme
    from colorizer.train.finetune import FinetuneConfig, training_config

    meta = {"model": ModelConfig(layers=DEEP, hidden=16).to_dict(), "scheme": BinScheme().to_dict(),
            "training": {"recipe": {"robust_steps": 600}}}
    cfg = training_config(FinetuneConfig(), meta, tmp_path / "start.safetensors", [tmp_path / "a.png"],
                          [tmp_path / "b.png"], tmp_path / "work")
    assert cfg.robust_steps == 0 and cfg.freeze == "all"
