"""Evaluation metrics: a perfect result, the gray baseline, the eval command and its contact sheet."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from colorizer.bins import BinScheme
from colorizer.color import luma
from colorizer.model import ModelConfig, build_model
from colorizer.train.eval_command import add_eval_command
from colorizer.train.metrics import MetricAccumulator, colorfulness, format_table, psnr
from colorizer.weights import save_weights


def colourful(h: int = 40, w: int = 56) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.clip(np.stack([0.5 + 0.4 * np.sin(7 * xx), 0.5 + 0.4 * np.cos(6 * yy), 0.4 + 0.3 * xx], -1), 0, 1).astype(np.float32)


def test_perfect_result_scores_best() -> None:
    truth = colourful()
    acc = MetricAccumulator()
    acc.add(truth, truth)
    s = acc.summary()
    assert s["psnr"] == 100.0 and s["ab_rmse"] < 1e-3 and s["auc"] > 0.99
    assert s["colorfulness_ratio"] == pytest.approx(1.0) and s["left_gray"] == 0.0


def test_gray_baseline_is_gray_and_worse() -> None:
    truth = colourful()
    gray = np.repeat(luma(truth)[..., None], 3, -1)
    acc = MetricAccumulator()
    acc.add(gray, truth)
    s = acc.summary()
    assert s["left_gray"] == 1.0 and s["colorfulness_ratio"] < 1e-6
    assert s["ab_rmse"] > 5 and s["auc"] < 0.99 and s["psnr"] < 100
    assert colorfulness(gray) == pytest.approx(0.0, abs=1e-6)


def test_psnr_and_pooled_rmse_values() -> None:
    a = np.zeros((4, 4, 3), np.float32)
    assert psnr(a + 0.1, a) == pytest.approx(20.0, abs=1e-4)
    truth = colourful()
    shifted = np.clip(truth + np.array([0.05, -0.05, 0.0], np.float32), 0, 1)
    acc = MetricAccumulator()
    acc.add(truth, truth)
    acc.add(shifted, truth)
    one = MetricAccumulator()
    one.add(shifted, truth)
    # pooled over pixels: half the pixels exact -> RMSE is 1/sqrt(2) of the shifted image's
    assert acc.summary()["ab_rmse"] == pytest.approx(one.summary()["ab_rmse"] / np.sqrt(2), rel=1e-3)


@pytest.fixture()
def tiny_weights(tmp_path):
    model = build_model(ModelConfig(layers=("gray", "stage1"), hidden=8), pretrained=False)
    return save_weights(tmp_path / "tiny.safetensors", model, BinScheme(), {"note": "test"})


def run_eval(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_eval_command(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["eval", *argv])
    return args.func(args)


def test_eval_command_json_and_contact_sheet(tmp_path, tiny_weights, capsys) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    for i, (h, w) in enumerate([(40, 56), (48, 32)]):
        Image.fromarray((colourful(h, w) * 255).astype(np.uint8)).save(data / f"p{i}.png")
    sheet = tmp_path / "sheet.png"
    assert run_eval(["--data", str(data), "--weights", str(tiny_weights), "--json", "--device", "cpu",
                     "--contact-sheet", str(sheet)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 2 and out["gray"]["left_gray"] == 1.0
    for key in ("psnr", "ab_rmse", "auc", "colorfulness_ratio", "left_gray", "seconds_per_image", "peak_memory_mb"):
        assert key in out["model"]
    img = np.asarray(Image.open(sheet))
    assert img.shape[0] == 2 * 192 + 4 and img.shape[1] > 4 * 192  # two rows of four tiles
    assert "PSNR" in format_table(out)


def test_eval_errors_are_clear(tmp_path, tiny_weights, capsys) -> None:
    assert run_eval(["--data", str(tmp_path / "nothing")]) == 1
    assert "nothing" in capsys.readouterr().err
    assert run_eval(["--data", str(tmp_path), "--weights", str(tmp_path / "missing.safetensors")]) == 1


def test_eval_data_folder_of_a_corpus_measures_only_its_val_split(tmp_path):
    import argparse

    from PIL import Image

    from colorizer.train.eval_command import eval_paths

    (tmp_path / "photos").mkdir()
    rows = ["file\tsplit"]
    for name, split in [("a.png", "train"), ("b.png", "val"), ("c.png", "train")]:
        Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "photos" / name)
        rows.append(f"photos/{name}\t{split}")
    (tmp_path / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    args = argparse.Namespace(manifest=None, data=[str(tmp_path)], split="val", limit=None)
    assert [p.name for p in eval_paths(args)] == ["b.png"]
    args.data = [str(tmp_path / "photos")]  # the manifest one level up counts too
    assert [p.name for p in eval_paths(args)] == ["b.png"]


def test_eval_old_print_degrades_the_input_but_scores_against_the_clean_truth(tmp_path, tiny_weights, capsys) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray((colourful(48, 64) * 255).astype(np.uint8)).save(data / "p.png")
    assert run_eval(["--data", str(data), "--weights", str(tiny_weights), "--json", "--device", "cpu"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert run_eval(["--data", str(data), "--weights", str(tiny_weights), "--json", "--device", "cpu", "--old-print"]) == 0
    old = json.loads(capsys.readouterr().out)
    assert abs(old["gray"]["psnr"] - clean["gray"]["psnr"]) > 0.1  # another (degraded) gray input
    assert old["gray"]["ab_rmse"] == clean["gray"]["ab_rmse"]  # gray has no colour either way
