import json
import hashlib

import numpy as np
from PIL import Image

from colorizer.cli import main
from colorizer.color import luma


def write_gray(path, w, h, seed=0):
    arr = (np.random.default_rng(seed).random((h, w)) * 255).astype(np.uint8)
    Image.fromarray(arr, "L").save(path)
    return arr


def test_colorize_files_and_folders_writes_same_size_pngs(tiny_weights, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_gray(src / "a.jpg", 40, 30)
    write_gray(src / "sub" / "b.png", 25, 35, seed=1)
    single = write_gray(tmp_path / "c.png", 16, 16, seed=2)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.rglob("*.*")}
    out = tmp_path / "out"
    code = main(["colorize", str(src), str(tmp_path / "c.png"), "-o", str(out), "--weights", str(tiny_weights),
                 "--device", "cpu", "--json", "--uncertainty", "--working-size", "64"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and all(line["ok"] for line in lines)
    assert Image.open(out / "a.png").size == (40, 30)
    assert Image.open(out / "sub" / "b.png").size == (25, 35)
    assert Image.open(out / "c.png").size == (16, 16)
    assert Image.open(out / "c_uncertainty.png").size == (16, 16)
    rgb = np.asarray(Image.open(out / "c.png").convert("RGB"), np.float32)
    assert np.abs(luma(rgb) - single).max() <= 0.51
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before}
    assert before == after  # inputs untouched


def test_colorize_reports_bad_inputs_and_continues(tiny_weights, tmp_path, capsys):
    good = tmp_path / "good.png"
    write_gray(good, 20, 20)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not really a jpeg")
    code = main(["colorize", str(good), str(bad), str(tmp_path / "missing.png"), "-o", str(tmp_path / "out"),
                 "--weights", str(tiny_weights), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "bad.jpg" in err and "missing.png" in err and "Traceback" not in err
    assert (tmp_path / "out" / "good.png").exists()
    assert not (tmp_path / "out" / "bad.png").exists()


def test_colorize_with_broken_weights_gives_clear_error(tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"\x00" * 10)
    write_gray(tmp_path / "a.png", 8, 8)
    code = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(weights)])
    assert code == 2
    assert "w.safetensors" in capsys.readouterr().err


def test_max_pixels_option_refuses_large_images(tiny_weights, tmp_path, capsys):
    write_gray(tmp_path / "big.png", 64, 64)
    code = main(["colorize", str(tmp_path / "big.png"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                 "--max-pixels", "1000", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "big.png" in err and "Traceback" not in err


def test_skip_existing_never_reports_an_input_as_its_own_output(tiny_weights, tmp_path, capsys):
    write_gray(tmp_path / "x.png", 12, 12)
    before = (tmp_path / "x.png").read_bytes()
    args = ["colorize", str(tmp_path / "x.png"), "-o", str(tmp_path), "--skip-existing", "--weights",
            str(tiny_weights), "-q", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert not first["skipped"] and first["outputs"] == [str(tmp_path / "x-1.png")]
    assert "x.png is an input" in first["warnings"][0]
    assert main(args) == 0  # resumed: its own output is found under the new name
    second = json.loads(capsys.readouterr().out)
    assert second["skipped"] and second["outputs"] == [str(tmp_path / "x-1.png")]
    assert (tmp_path / "x.png").read_bytes() == before
