"""``colorizer bench`` runs end to end with a tiny random model and tiny sizes (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colorizer.bench import check_targets, stats, synthetic_photo
from colorizer.cli import main


def test_bench_json_has_every_case(tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "--json", "--weights", str(tiny_weights), "--device", "cpu", "--repeats", "2",
                 "--sizes", "40x30,24x24", "--working-size", "64", "--batch-images", "2",
                 "--memory-size", "60x40,120x90"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["sizes"]) == {"40x30", "24x24"}
    row = result["sizes"]["40x30"]
    assert (row["width"], row["height"]) == (40, 30)
    for case in ("end_to_end", "predict", "render", "rerender_after_settings_change", "decode", "encode_png",
                 "file_to_file"):
        assert {"median_s", "iqr_s", "min_s", "max_s", "n"} <= set(row[case]), case
    energy = result["energy"]
    assert energy["energy_solve_ms"] > 0 and energy["hint_solve_ms"] > 0 and len(energy["solve_iterations"]) == 2
    assert result["batch"]["cpu"]["failed"] == 0 and result["batch"]["cpu"]["files_images_per_s"] > 0
    assert "cuda" in result["batch"]
    for size in ("60x40", "120x90"):  # each through `colorizer colorize` in its own process
        memory = result["memory"][size]
        assert memory["ok"] and memory["peak_rss_mb"] > 0 and "colorizer colorize" in memory["how"]
    assert "growth_bytes_per_pixel" in result["memory"]
    assert "512x512_end_to_end_s" in result["targets"] or "batch_images_per_s" in result["targets"]


def test_bench_text_output(tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "--text", "--weights", str(tiny_weights), "--device", "cpu", "--repeats", "1",
                 "--sizes", "16x16", "--working-size", "32", "--batch-images", "1", "--memory-size", "none"])
    assert code == 0
    out = capsys.readouterr().out
    assert not out.lstrip().startswith("{")  # a readable summary, not JSON
    lines = out.splitlines()
    assert any(line.strip().startswith("16x16: end_to_end") for line in lines)
    assert any(line.strip().startswith("energy: solve") and "ms" in line for line in lines)
    assert any(line.strip().startswith("batch: cpu:") and "photos/s" in line for line in lines)
    assert any("target: 512x512_end_to_end_s" in line for line in lines)
    with pytest.raises(SystemExit):  # --json and --text exclude each other
        main(["bench", "--text", "--json"])


def test_bench_bad_weights_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"nope")
    assert main(["bench", "--weights", str(bad), "--memory-size", "none", "--sizes", "8x8"]) == 2
    assert "w.safetensors" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--sizes", "big"), ("--memory-size", "10x0"), ("--sizes", "8x8x8")])
def test_bench_bad_size_is_one_line(option: str, value: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", option, value]) == 2
    err = capsys.readouterr().err
    assert value in err and "Traceback" not in err and err.count("\n") == 1


def test_helpers() -> None:
    s = stats([3.0, 1.0, 2.0, 4.0])
    assert s["median_s"] == 2.5 and s["min_s"] == 1.0 and s["max_s"] == 4.0 and s["iqr_s"] > 0
    assert synthetic_photo(10, 12).shape == (10, 12)
    memory = {"4000x3000": {"ok": True, "peak_rss_mb": 700.0, "width": 4000, "height": 3000},
              "9000x9000": {"ok": True, "peak_rss_mb": 1100.0, "width": 9000, "height": 9000}}
    targets = check_targets({"device": "cpu", "sizes": {"512x512": {"end_to_end": {"median_s": 0.2}}},
                             "memory": memory, "batch": {}})
    assert targets["512x512_end_to_end_s"]["met"] is True
    assert targets["12MP_peak_rss_mb"] == {"target": 600.0, "measured": 700.0, "met": False}
    assert targets["81MP_peak_rss_mb"] == {"target": 1500.0, "measured": 1100.0, "met": True}
    assert targets["12MP_end_to_end_s"]["met"] is None
