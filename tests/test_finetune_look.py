"""A fine-tune's look (``colorizer.train.finetune_look``) and the model defaults that carry it: the tint
removal is chosen on the user's photos, recorded in the weights, and used by eval, colorize and renders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer.bins import BinScheme
from colorizer.cli import main
from colorizer.model import ModelConfig, build_model
from colorizer.pipeline import Colorizer
from colorizer.render_settings import RenderSettings
from colorizer.train.finetune import FinetuneConfig, finetune
from colorizer.train.finetune_look import MIN_LOOK_GAIN_DB, choose_look
from colorizer.weights import WeightsError, load_weights, read_metadata, save_weights
from test_finetune import FAST, LAYERS, RECIPE, write_photos


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory):
    """(start weights, warm photos, a model fine-tuned on them): the fine-tuned one knows their warm tint."""
    folder = tmp_path_factory.mktemp("look")
    torch.manual_seed(0)
    start = save_weights(folder / "start.safetensors", build_model(ModelConfig(layers=LAYERS, hidden=16), pretrained=False),
                         BinScheme(), training={"recipe": RECIPE})
    photos = write_photos(folder / "mine", 10)
    result = finetune([folder / "mine"], folder / "tuned.safetensors", init=start,
                      config=FinetuneConfig(**{**FAST, "choose_look": False}))
    assert result.written is not None and result.look == {}
    return start, photos, load_weights(result.written)


def gray_photos(folder: Path, n: int = 4) -> list[Path]:
    """Photos whose true colour is neutral (light gray gradients with a trace of colour)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        yy, xx = np.mgrid[0:96, 0:96] / 96
        shade = 0.3 + 0.5 * (0.5 + 0.5 * np.sin(3 * xx + i + 2 * yy))[..., None]
        img = shade * np.array([1.0, 1.0, 1.04])
        paths.append(folder / f"gray{i}.png")
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(paths[-1])
    return paths


def test_a_model_whose_tint_is_right_keeps_it(warm) -> None:
    """Rendered with less removal, the warm-trained model scores higher on warm photos: the look takes none."""
    _, photos, tuned = warm
    choice = choose_look(Colorizer(tuned, device="cpu", working_size=64), photos)
    assert choice.photos == len(photos) and set(choice.psnr) == {0.0, 0.25, 0.5}
    assert choice.psnr[0.0] > choice.psnr[0.5] + MIN_LOOK_GAIN_DB
    assert choice.cast_removal == 0.0 and choice.start_cast_removal == 0.5
    assert choice.render_defaults() == {"cast_removal": 0.0}


def test_neutral_photos_keep_the_start_look(warm, tmp_path: Path) -> None:
    """On photos that are truly neutral, taking the warm tint away is right: the start's removal stays."""
    _, _, tuned = warm
    choice = choose_look(Colorizer(tuned, device="cpu", working_size=64), gray_photos(tmp_path))
    assert choice.cast_removal == 0.5 and choice.psnr[0.5] >= choice.psnr[0.0]
    assert choice.render_defaults() == {}


def test_only_less_removal_than_the_start_is_tried(warm, tmp_path: Path) -> None:
    """A start model that removes a quarter is compared with none and a quarter, never with more; an
    unreadable photo is left out."""
    _, photos, tuned = warm
    tuned.render_defaults = {"cast_removal": 0.25}
    try:
        (tmp_path / "broken.png").write_bytes(b"no image")
        choice = choose_look(Colorizer(tuned, device="cpu", working_size=64), photos[:3] + [tmp_path / "broken.png"])
    finally:
        tuned.render_defaults = {}
    assert set(choice.psnr) == {0.0, 0.25} and choice.start_cast_removal == 0.25 and choice.photos == 3


def test_stopping_keeps_the_start_look_at_once_and_nothing_to_choose_runs_nothing(warm) -> None:
    """Cancel or "finish now" (the report returns False) ends the choice at the next photo with the start's
    look; a start model that removes no tint has nothing to choose, so no photo is looked at."""
    _, photos, tuned = warm
    col = Colorizer(tuned, device="cpu", working_size=64)
    calls: list[int] = []
    choice = choose_look(col, photos, report=lambda done, total: calls.append(done) or False)
    assert calls == [0] and choice.cast_removal == choice.start_cast_removal == 0.5 and choice.photos == 0
    tuned.render_defaults = {"cast_removal": 0.0}
    try:
        calls.clear()
        choice = choose_look(Colorizer(tuned, device="cpu", working_size=64), photos,
                             report=lambda done, total: calls.append(done))
    finally:
        tuned.render_defaults = {}
    assert calls == [] and choice.cast_removal == 0.0 and choice.psnr == {} and choice.render_defaults() == {}


def test_finetune_records_the_look_and_every_command_uses_it(warm, tmp_path: Path, capsys) -> None:
    """A fine-tune starting from a model that knows the tint chooses to keep it; the weights carry it,
    ``Colorizer`` renders with it, eval and colorize follow it, and an explicit option still wins."""
    _, photos, tuned = warm
    start = save_weights(tmp_path / "warm-start.safetensors", tuned.model, tuned.scheme, training={"recipe": RECIPE})
    out = tmp_path / "mine.safetensors"
    result = finetune(photos, out, init=start, config=FinetuneConfig(**{**FAST, "lr": 1e-3}))
    assert result.look["cast_removal"] == 0.0 and result.look["photos"] == result.photos
    assert read_metadata(out)["render_defaults"] == {"cast_removal": 0.0}
    assert load_weights(out).training["finetune"]["look"] == result.look
    colorizer = Colorizer.load(out, device="cpu", working_size=64)
    assert colorizer.default_settings == RenderSettings().replace(cast_removal=0.0)
    capsys.readouterr()
    assert main(["eval", "--data", str(photos[0]), "--weights", str(out), "--device", "cpu", "--working-size", "64"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["provenance"]["look"]["cast_removal"] == 0.0
    assert "shown with neutral balance 0 (the start model uses 0.5), chosen on its photos" in captured.err
    shown = {}
    for name, extra in (("own", []), ("explicit", ["--cast-removal", "0.5"])):
        assert main(["colorize", str(photos[0]), "-o", str(tmp_path / name), "--weights", str(out), "--device", "cpu",
                     "--working-size", "64", "-q", "--save-recipe", str(tmp_path / f"{name}.json"), *extra]) == 0
        shown[name] = json.loads((tmp_path / f"{name}.json").read_text())["settings"]["cast_removal"]
    assert shown == {"own": 0.0, "explicit": 0.5}


def test_keep_look_and_a_start_models_look_are_inherited(warm, tmp_path: Path) -> None:
    """``choose_look=False`` (``--keep-look``) writes no look of its own: the start's look carries over."""
    _, photos, tuned = warm
    start = save_weights(tmp_path / "start.safetensors", tuned.model, tuned.scheme, training={"recipe": RECIPE},
                         render_defaults={"cast_removal": 0.25, "chroma_gain": 1.3})
    result = finetune(photos, tmp_path / "kept.safetensors", init=start,
                      config=FinetuneConfig(**{**FAST, "lr": 1e-3, "choose_look": False}))
    assert result.look == {}
    assert read_metadata(result.written)["render_defaults"] == {"cast_removal": 0.25, "chroma_gain": 1.3}


def test_damaged_render_defaults_are_a_clear_error(warm, tmp_path: Path) -> None:
    _, _, tuned = warm
    bad = save_weights(tmp_path / "bad.safetensors", tuned.model, tuned.scheme, render_defaults={"cast_removal": 7})
    with pytest.raises(WeightsError, match="bad.safetensors: damaged render defaults.*cast_removal"):
        Colorizer.load(bad, device="cpu")
    unknown = save_weights(tmp_path / "unknown.safetensors", tuned.model, tuned.scheme, render_defaults={"sparkle": 1})
    with pytest.raises(WeightsError, match="unknown render setting 'sparkle'"):
        Colorizer.load(unknown, device="cpu")
    for values, problem in (({"method": "bogus"}, "'method' must be one of median, mean, mode, not 'bogus'"),
                            ({"cast_removal": "0.3"}, "'cast_removal' must be a number, not '0.3'")):
        odd = save_weights(tmp_path / "odd.safetensors", tuned.model, tuned.scheme, render_defaults=values)
        with pytest.raises(WeightsError, match=f"odd.safetensors: damaged render defaults.*{problem}"):
            Colorizer.load(odd, device="cpu")


def test_the_command_line_summary_shows_the_look() -> None:
    from colorizer.train.finetune import FinetuneResult
    from colorizer.train.finetune_command import format_summary

    figures = {"psnr": 20.0, "ab_rmse": 10.0}
    result = FinetuneResult(written=None, refused=None, photos=8, held_out=2, skipped={}, start=figures, new=figures,
                            gray=figures, steps=30, best_step=10, seconds=60.0, interrupted=False, start_model="b.st",
                            look={"cast_removal": 0.0, "start_cast_removal": 0.5, "photos": 8,
                                  "psnr": {"0.0": 21.5, "0.25": 21.2, "0.5": 21.0}})
    assert format_summary(result).splitlines()[-1] == (
        "look: neutral balance 0 (the start model uses 0.5); b.st on your 8 training photos: "
        "0.5: 21.00 dB, 0.25: 21.20 dB, 0: 21.50 dB")


def test_a_damaged_look_record_is_left_out_of_the_provenance() -> None:
    """A look whose values are not numbers (a hand-edited file) is not described, and nothing crashes."""
    from colorizer.provenance import describe_look, describe_provenance, format_provenance

    assert describe_look({"cast_removal": 0.0, "start_cast_removal": 0.5}) == "neutral balance 0 (the start model uses 0.5)"
    assert describe_look({"cast_removal": 0.25}) == "neutral balance 0.25 (as the start model)"
    for look in ({"cast_removal": "x", "start_cast_removal": 0.5}, {"cast_removal": 0.0, "start_cast_removal": [1]},
                 {"cast_removal": True}, "odd", None):
        assert describe_look(look) is None
        lines = format_provenance(describe_provenance({"finetune": {"photos": 8, "look": look}}))
        assert not any("neutral balance" in line for line in lines)
