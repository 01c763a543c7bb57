"""``colorizer bench`` runs end to end with a tiny random model and tiny sizes (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colorizer.bench import check_targets, stats, synthetic_photo
from colorizer.cli import main


def test_bench_json_has_every_case(tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "--json", "--weights", str(tiny_weights), "--device", "cpu", "--repeats", "2",
                 "--sizes", "40x30,24x24", "--working-size", "64", "--batch-images", "2", "--memory-size", "60x40"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["sizes"]) == {"40x30", "24x24"}
    row = result["sizes"]["40x30"]
    assert (row["width"], row["height"]) == (40, 30)
    for case in ("end_to_end", "predict", "render", "rerender_after_settings_change", "decode", "encode_png",
                 "file_to_file"):
        assert {"median_s", "iqr_s", "min_s", "max_s", "n"} <= set(row[case]), case
    assert "available" in result["energy"]
    assert result["batch"]["cpu"]["failed"] == 0 and result["batch"]["cpu"]["files_images_per_s"] > 0
    assert "cuda" in result["batch"]
    assert result["memory"]["ok"] and result["memory"]["peak_rss_mb"] > 0
    assert "512x512_end_to_end_s" in result["targets"] or "batch_images_per_s" in result["targets"]


def test_bench_text_output(tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "--weights", str(tiny_weights), "--device", "cpu", "--repeats", "1", "--sizes", "16x16",
                 "--working-size", "32", "--batch-images", "1", "--memory-size", "none"])
    assert code == 0
    assert "16x16" in capsys.readouterr().out


def test_bench_bad_weights_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"nope")
    assert main(["bench", "--weights", str(bad), "--memory-size", "none", "--sizes", "8x8"]) == 2
    assert "w.safetensors" in capsys.readouterr().err


def test_helpers() -> None:
    s = stats([3.0, 1.0, 2.0, 4.0])
    assert s["median_s"] == 2.5 and s["min_s"] == 1.0 and s["max_s"] == 4.0 and s["iqr_s"] > 0
    assert synthetic_photo(10, 12).shape == (10, 12)
    targets = check_targets({"device": "cpu", "sizes": {"512x512": {"end_to_end": {"median_s": 0.2}}},
                             "memory": {"peak_rss_mb": 2000.0, "width": 4000, "height": 3000}, "batch": {}})
    assert targets["512x512_end_to_end_s"]["met"] is True
    assert targets["12MP_peak_rss_mb"]["met"] is False
    assert targets["12MP_end_to_end_s"]["met"] is None
