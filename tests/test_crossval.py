"""Grouped cross-validation: folds by source package, fold training leaves its sources out, scoring
of clean and old-print inputs, per-fold and overall reports, and resumable caches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.render_settings import RenderSettings
from colorizer.train.crossval import CVConfig, cross_validate, fold_train_config
from colorizer.train.folds import grouped_folds
from colorizer.train.config import TrainConfig
from colorizer.weights import load_weights

SOURCES = {"big": 4, "mid": 3, "tiny-a": 1, "tiny-b": 2}


def make_corpus(root: Path, size: int = 40) -> Path:
    """A corpus with photos from four packages, one cut-out and one split=val photo."""
    (root / "photos").mkdir(parents=True)
    (root / "cutouts").mkdir()
    rows = ["file\tsource_package\tsplit"]
    n = 0
    for src, count in SOURCES.items():
        for i in range(count):
            rng = np.random.default_rng(n)
            yy, xx = np.mgrid[0:size, 0:size] / size
            img = np.stack([0.5 + 0.4 * np.sin(4 * xx + n), 0.5 + 0.4 * np.cos(3 * yy + n), 0.3 + 0.4 * rng.random() * xx], -1)
            name = f"photos/{src}_{i}.png"
            Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / name)
            rows.append(f"{name}\t{src}\ttrain")
            n += 1
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[8:32, 8:32] = (200, 40, 40, 255)
    Image.fromarray(rgba, "RGBA").save(root / "cutouts/obj.png")
    rows.append("cutouts/obj.png\tstamps\ttrain")
    Image.fromarray(np.full((size, size, 3), (30, 90, 200), np.uint8)).save(root / "photos/val.png")
    rows.append("photos/val.png\tbig\tval")
    (root / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return root


def test_grouped_folds_leave_large_sources_out_and_pool_small_ones(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    folds = grouped_folds(corpus, large=3, pooled=1)
    assert [f.name for f in folds] == ["big", "mid", "pooled-1"]
    assert folds[2].sources == ("tiny-a", "tiny-b") and len(folds[2].photos) == 3
    assert all("cutouts" not in str(p) and "val" not in p.name for f in folds for p in f.photos)
    two = grouped_folds(corpus, large=3, pooled=2)
    assert {f.sources for f in two[2:]} == {("tiny-a",), ("tiny-b",)}


def tiny_recipe(tmp_path: Path) -> TrainConfig:
    return TrainConfig(layers=("gray", "stage1"), hidden=8, pretrained=False, min_size=32, max_size=40, positions=16,
                       augs_per_image=1, pixel_batch=64, steps=4, save_at=(2,), lr=1e-2, threads=1, device="cpu",
                       dropout=0.0, quiet=True, members=2, background="mixed", old_print=0.5)


def test_cross_validation_trains_without_the_fold_and_reports(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    cv = CVConfig(out_dir=tmp_path / "cv", cache_dir=tmp_path / "cache", manifest=str(corpus), large=3, pooled=1,
                  max_side=40, working_size=40, settings=(RenderSettings(), RenderSettings().replace(fading_eta=0.0)))
    base = tiny_recipe(tmp_path)
    cfg = fold_train_config(base, grouped_folds(corpus, large=3, pooled=1)[0], cv)
    assert cfg.exclude_sources == ("big",) and cfg.val_split is None and cfg.resume
    report = cross_validate(base, cv)
    assert [f["name"] for f in report["folds"]] == ["big", "mid", "pooled-1"]
    rows = {(r["model"], r["variant"], r["settings"]): r for r in report["results"]}
    assert set(rows) == {(m, v, s) for m in ("final", "step2") for v in ("clean", "old_print") for s in (0, 1)}
    clean = rows[("final", "clean", 0)]
    assert set(clean["per_fold"]) == {"big", "mid", "pooled-1"}
    assert clean["overall"]["photos"] == 10 and clean["per_fold"]["big"]["photos"] == 4
    for key in ("psnr_gain", "ab_rmse", "auc", "colorfulness_ratio", "worse_than_gray_3db", "worst_fold_gain"):
        assert np.isfinite(clean["overall"][key])
    # the old-print input is a different (degraded) gray: its baseline differs from the clean one
    assert rows[("final", "old_print", 0)]["overall"]["gray_psnr"] != clean["overall"]["gray_psnr"]
    trained = load_weights(tmp_path / "cv" / "big" / "weights.safetensors").training
    assert trained["data"]["excluded_sources"] == ["big"] and trained["data"]["images"] == 7  # 6 photos + cut-out
    # a second run reuses weights, caches and scores
    again = cross_validate(base, cv)
    assert json.dumps(again["results"], sort_keys=True) == json.dumps(report["results"], sort_keys=True)


def test_nested_calibration_scores_each_fold_with_temperatures_from_the_others(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    cv = CVConfig(out_dir=tmp_path / "cv", cache_dir=tmp_path / "cache", manifest=str(corpus), large=3, pooled=1,
                  max_side=40, working_size=40, variants=("clean",), calibrate=True)
    report = cross_validate(tiny_recipe(tmp_path), cv)
    cal = report["calibration"]
    assert set(cal["temperatures"]) == {"big", "mid", "pooled-1"}
    assert all(len(t) == 2 and all(0.3 <= x <= 5 for x in t) for t in cal["temperatures"].values())
    assert "ece" in cal["hue_reliability_before"] and "ece" in cal["hue_reliability_after"]
    assert any(r["model"] == "calibrated" for r in report["results"])


def test_eval_cv_command_cross_validates_the_recipe_of_a_weights_file(tmp_path, capsys, tiny_weights):
    from colorizer.cli import main
    from colorizer.train.trainer import train

    corpus = make_corpus(tmp_path / "corpus")
    # a weights file that records its recipe (as every trained file does)
    recipe = tiny_recipe(tmp_path)
    from dataclasses import replace
    trained = train(replace(recipe, manifest=str(corpus), out=str(tmp_path / "m.safetensors"),
                            run_dir=str(tmp_path / "run"), steps=1, save_at=()))
    code = main(["eval", "--cv", "--manifest", str(corpus), "--weights", str(trained.weights), "--folds", "mid",
                 "--fold-min-photos", "3", "--pooled-folds", "1", "--set", "steps=2", "members=1", "--cv-dir", str(tmp_path / "cvrun"), "--cache-dir",
                 str(tmp_path / "cache"), "--max-side", "40", "--working-size", "40", "--variants", "clean", "--json"])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    report = json.loads(out)
    assert [f["name"] for f in report["folds"]] == ["mid"]
    assert load_weights(tmp_path / "cvrun" / "mid" / "weights.safetensors").training["steps"] == 2
    # a weights file without a recorded recipe cannot be cross-validated: one clear line
    code = main(["eval", "--cv", "--manifest", str(corpus), "--weights", str(tiny_weights)])
    err = capsys.readouterr().err
    assert code == 1 and "records no training recipe" in err and "Traceback" not in err


def test_colourless_truths_are_listed_not_scored(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(corpus / "photos" / "mask.png")
    with open(corpus / "MANIFEST.tsv", "a") as fh:
        fh.write("photos/mask.png\tbig\ttrain\n")
    big = grouped_folds(corpus, large=3, pooled=1)[0]
    assert [p.name for p in big.colourless] == ["mask.png"] and len(big.photos) == 4
