import numpy as np
import pytest

from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.pipeline import Colorizer, resolve_device, working_shape
from colorizer.render_settings import RenderSettings


def test_working_shape_bounds_the_longest_side():
    assert working_shape(3000, 4000, 512) == (384, 512)
    assert working_shape(100, 50, 512) == (100, 50)


def test_predict_caches_histograms_at_quarter_working_size(tiny_colorizer, rng):
    gray = rng.random((200, 120)).astype(np.float32)
    pred = tiny_colorizer.predict(gray)
    assert pred.working_size == (64, 38)
    assert pred.grid_size == (16, 10)
    assert [lp.shape for lp in pred.log_probs] == [(16, 10, 32), (16, 10, 32)]
    np.testing.assert_allclose(np.exp(pred.log_probs[0]).sum(-1), 1.0, atol=1e-5)
    assert pred.size == (200, 120)


def test_render_is_full_resolution_and_keeps_lightness(tiny_colorizer, rng):
    gray = (rng.random((90, 70)) * 255).astype(np.uint8)
    result = tiny_colorizer.colorize(gray)
    assert result.rgb.shape == (90, 70, 3) and result.uncertainty.shape == (90, 70)
    assert 0 <= result.uncertainty.min() and result.uncertainty.max() <= 1
    np.testing.assert_allclose(luma(result.rgb), gray / 255.0, atol=1e-5)
    assert np.abs(luma(result.rgb8().astype(np.float32)) - gray).max() <= 0.5 + 1e-3


def test_render_does_not_run_the_network_again(tiny_colorizer, rng, monkeypatch):
    pred = tiny_colorizer.predict(rng.random((40, 40)).astype(np.float32))

    def boom(*args, **kwargs):
        raise AssertionError("network ran during render")

    monkeypatch.setattr(tiny_colorizer.model, "forward_dense", boom)
    a = tiny_colorizer.render(pred, RenderSettings().replace(chroma_gain=0.5))
    b = tiny_colorizer.render(pred, RenderSettings().replace(chroma_gain=2.0, fading_eta=0.0))
    assert rgb_to_hue_chroma(b.rgb)[1].mean() > rgb_to_hue_chroma(a.rgb)[1].mean()


def test_zero_gain_gives_the_gray_input(tiny_colorizer, rng):
    gray = rng.random((30, 30)).astype(np.float32)
    result = tiny_colorizer.colorize(gray, RenderSettings().replace(chroma_gain=0.0))
    np.testing.assert_allclose(result.rgb, np.repeat(gray[..., None], 3, -1), atol=1e-6)


def test_hue_bias_moves_hue_towards_direction(tiny_colorizer, rng):
    pred = tiny_colorizer.predict(rng.random((48, 48)).astype(np.float32))
    base = tiny_colorizer.render(pred, RenderSettings().replace(fading_eta=0.0, smoothing=0))
    pushed = tiny_colorizer.render(pred, RenderSettings().replace(fading_eta=0.0, smoothing=0, hue_bias=6.0, hue_direction=2 / 3))
    hue = lambda r: np.angle(np.mean(np.exp(2j * np.pi * rgb_to_hue_chroma(r.rgb)[0])))
    target = 2 * np.pi * 2 / 3
    dist = lambda a: abs(np.angle(np.exp(1j * (a - target))))
    assert dist(hue(pushed)) < dist(hue(base))


def test_colour_input_uses_its_lightness(tiny_colorizer, rng):
    rgb = rng.random((32, 32, 3)).astype(np.float32)
    result = tiny_colorizer.colorize(rgb)
    np.testing.assert_allclose(luma(result.rgb), luma(rgb), atol=1e-5)


def test_predict_batch_matches_single(tiny_colorizer, rng):
    imgs = [rng.random((64, 48)).astype(np.float32) for _ in range(2)] + [rng.random((30, 64)).astype(np.float32)]
    batch = tiny_colorizer.predict_batch(imgs)
    for img, pred in zip(imgs, batch):
        single = tiny_colorizer.predict(img)
        np.testing.assert_allclose(pred.log_probs[1], single.log_probs[1], atol=1e-4)


def test_device_resolution_falls_back_to_cpu(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cuda").type == "cpu"
    with pytest.raises(ValueError):
        resolve_device("tpu")


def test_load_rejects_missing_weights(tmp_path):
    from colorizer.weights import WeightsError
    with pytest.raises(WeightsError, match="not found"):
        Colorizer.load(tmp_path / "missing.safetensors")


def test_guided_upsample_follows_lightness_edges():
    from colorizer.pipeline import guided_upsample, upsample
    w_full = 256
    lightness = np.tile(np.where(np.arange(w_full) < 130, 0.2, 0.8).astype(np.float32), (64, 1))
    guide = lightness[::8, ::8].copy()  # twice the 4 x 16 colour grid, as predict stores it
    # coarse colour: red on the dark side, blue on the bright side, blurred over the grid
    x = np.arange(16) + 0.5
    t = np.clip((x - 8.1) / 3 + 0.5, 0, 1).astype(np.float32)
    offset = np.zeros((4, 16, 3), np.float32)
    offset[..., 0] = 0.3 * (1 - t)
    offset[..., 2] = 0.3 * t
    plain = upsample(offset, lightness.shape)
    guided = guided_upsample(offset, guide, lightness)
    # colour difference across the lightness edge (columns 126 vs 134) is larger when guided
    jump = lambda o: np.abs(o[32, 134] - o[32, 126]).sum()
    assert jump(guided) > 1.3 * jump(plain)
    # and far from the edge the colour is unchanged
    np.testing.assert_allclose(guided[32, 20], plain[32, 20], atol=0.03)


def test_predict_batch_accepts_float64(tiny_colorizer, rng):
    pred = tiny_colorizer.predict_batch([rng.random((20, 30))])[0]
    assert pred.lightness.dtype == np.float32 and pred.size == (20, 30)
