"""Energy minimisation: posterior bias solver, reference transfer, samples, hints (synthetic, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer import energy
from colorizer.bins import BinScheme, median, softmax_last, uniform_edges
from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.energy import EnergySettings, Hint, SampleSettings
from colorizer.pipeline import Prediction, posterior, preview_prediction, render_probs
from colorizer.recipe import Recipe, Reference, RenderCache, render
from colorizer.render_settings import RenderSettings

K = 32


def random_probs(rng: np.random.Generator, n: int, k: int = K, sharpness: np.ndarray | float = 2.0) -> np.ndarray:
    logits = rng.normal(size=(n, k)) * np.asarray(sharpness).reshape(-1, 1)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def peaked(k: int, centre: float, width: float, circular: bool = False) -> np.ndarray:
    d = np.arange(k) - centre
    if circular:
        d = (d + k / 2) % k - k / 2
    p = np.exp(-0.5 * (d / width) ** 2) + 1e-6
    return p / p.sum()


def synthetic_prediction(h: int = 24, w: int = 32, scale: int = 2) -> Prediction:
    """Left half sure (red hue, chroma 0.4), right half unsure (flat hue, wide chroma)."""
    sure_hue = peaked(K, 0.0, 0.6, circular=True)
    flat_hue = np.full(K, 1.0 / K)
    sure_c = peaked(K, 0.4 * K - 0.5, 0.8)
    wide_c = peaked(K, 0.35 * K - 0.5, 6.0)
    hue = np.empty((h, w, K), np.float32)
    chroma = np.empty((h, w, K), np.float32)
    hue[:, : w // 2], hue[:, w // 2:] = sure_hue, flat_hue
    chroma[:, : w // 2], chroma[:, w // 2:] = sure_c, wide_c
    light = np.full((h * scale, w * scale), 0.5, np.float32)
    return Prediction(log_probs=[np.log(hue), np.log(chroma)], lightness=light,
                      small_lightness=np.full((h, w), 0.5, np.float32), scheme=BinScheme(), working_size=(h * scale, w * scale))


PLAIN = RenderSettings().replace(smoothing=0.0, fading_eta=0.0, region_pooling=0.0, cast_removal=0.0)  # each pixel alone


# ----- solver ----------------------------------------------------------------------------------
def test_zero_lambda_gives_zero_bias(rng: np.random.Generator) -> None:
    p = random_probs(rng, 500)
    res = energy.solve_bias(p, rng.dirichlet(np.ones(K)), 0.0)
    assert np.all(res.bias == 0)
    assert res.energies[0] == pytest.approx(0.0, abs=1e-6)
    assert energy.energy(p, np.ones(K), np.zeros(K), 0.0) == pytest.approx(0.0, abs=1e-12)


def test_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    p = random_probs(rng, 200)
    prob = energy.EnergyProblem(p, rng.dirichlet(np.ones(K)), 5.0, rng.uniform(size=200), rng.uniform(size=200), np.float64)
    b = rng.normal(size=K)
    _, grad = prob.value_grad(b)
    eye = np.eye(K) * 1e-6
    num = np.array([(prob.value(b + eye[j]) - prob.value(b - eye[j])) / 2e-6 for j in range(K)])
    np.testing.assert_allclose(grad, num, atol=1e-7)


@pytest.mark.parametrize("lam", [0.5, 10.0, 300.0])
def test_energy_never_increases(rng: np.random.Generator, lam: float) -> None:
    p = random_probs(rng, 2000, sharpness=rng.uniform(0.1, 5.0, 2000))
    res = energy.solve_bias(p, rng.dirichlet(np.ones(K) * 0.3), lam)
    e = np.asarray(res.energies)
    assert len(e) > 2
    assert np.all(np.diff(e) <= 1e-12)


def test_solver_reaches_a_stationary_point(rng: np.random.Generator) -> None:
    p = random_probs(rng, 3000, sharpness=rng.uniform(0.1, 4.0, 3000))
    t = rng.dirichlet(np.ones(K))
    settings = EnergySettings(single_precision=False, max_pixels=4000)
    res = energy.solve_bias(p, t, 10.0, settings)
    problem = energy.EnergyProblem(p, t, 10.0)
    _, g0 = problem.value_grad(np.zeros(K))
    _, g = problem.value_grad(res.bias.astype(np.float64))
    assert res.converged and np.abs(g).max() < 1e-3 * np.abs(g0).max()
    assert res.energies[-1] < res.energies[0]


def test_histogram_approaches_target_as_lambda_grows(rng: np.random.Generator) -> None:
    p = random_probs(rng, 3000, sharpness=rng.uniform(0.1, 4.0, 3000))
    t = rng.dirichlet(np.ones(K))
    dists = []
    for lam in [0.0, 0.3, 3.0, 30.0, 300.0]:
        b = energy.solve_bias(p, t, lam).bias
        dists.append(energy.chi2_sym(softmax_last(np.log(p) + b).mean(0), t))
    assert all(a > b for a, b in zip(dists, dists[1:]))
    assert dists[-1] < 0.01 * dists[0]


def test_confident_pixels_move_less(rng: np.random.Generator) -> None:
    n = 2000
    logits = rng.normal(size=(n, K)) * 0.3
    logits[np.arange(n // 2), rng.integers(0, K, n // 2)] += 8.0  # first half: one clear peak
    p = np.exp(logits)
    p /= p.sum(-1, keepdims=True)
    res = energy.solve_bias(p, rng.dirichlet(np.ones(K)), 10.0)
    q = softmax_last(np.log(p) + res.bias)
    moved = np.abs(q - p).sum(-1)
    assert moved[: n // 2].mean() < 0.5 * moved[n // 2:].mean()


def test_subsample_is_deterministic_and_bounded() -> None:
    idx = energy.subsample_indices(100_000, 1000)
    assert idx.size == 1000 and idx[0] == 0 and idx[-1] == 99_999
    np.testing.assert_array_equal(idx, energy.subsample_indices(100_000, 1000))


# ----- targets ---------------------------------------------------------------------------------
def test_reference_hue_histogram_ignores_gray_pixels() -> None:
    rgb = np.zeros((10, 20, 3), np.float32)
    rgb[:, :10] = [0.0, 0.0, 1.0]  # saturated blue
    rgb[:, 10:] = [0.5, 0.5, 0.5]  # gray: hue undefined, must not count
    hue_t, chroma_t = energy.reference_histograms(BinScheme(), rgb)
    blue_bin = int(2 / 3 * K)
    assert hue_t[blue_bin] == pytest.approx(1.0)
    assert chroma_t[0] == pytest.approx(0.5) and chroma_t[-1] == pytest.approx(0.5)


def test_colour_histograms_peak_at_colour() -> None:
    hue_t, chroma_t = energy.colour_histograms(BinScheme(), (0.0, 1.0, 0.0))
    assert int(np.argmax(hue_t)) in (10, 11)
    assert int(np.argmax(chroma_t)) == K - 1
    for name in ("lab_marginal", "lab_joint"):
        hs = energy.colour_histograms(BinScheme(name=name), (0.2, 0.6, 0.3))
        assert all(h.sum() == pytest.approx(1.0) for h in hs)


# ----- reference transfer ------------------------------------------------------------------------
def test_reference_transfer_moves_histogram_towards_reference() -> None:
    pred = synthetic_prediction()
    ref = np.zeros((16, 16, 3), np.float32)
    ref[...] = [0.1, 0.3, 0.9]  # blue reference
    targets = energy.reference_histograms(pred.scheme, ref)
    biases = energy.reference_biases(pred, ref, strength=1.0)
    before = posterior(pred, PLAIN)
    after = posterior(pred, PLAIN, biases)
    for c in range(2):
        assert energy.chi2_sym(after[c].mean((0, 1)), targets[c]) < energy.chi2_sym(before[c].mean((0, 1)), targets[c])
    cache = RenderCache()
    reference = Reference("blue.png")
    cache.references.put(reference, ref)
    res = render(pred, Recipe(settings=PLAIN, reference=reference), cache=cache)
    hue, chroma = rgb_to_hue_chroma(res.rgb)
    right = hue[:, pred.size[1] // 2 + 4:]
    assert np.abs(((right - 2 / 3 + 0.5) % 1.0) - 0.5).mean() < 0.1  # the unsure half turns blue
    left = hue[:, : pred.size[1] // 2 - 4]
    assert np.abs(((left + 0.5) % 1.0) - 0.5).mean() < 0.05  # the sure (red) half stays red


def test_quantile_transfer_keeps_lightness() -> None:
    pred = synthetic_prediction()
    auto = render_probs(pred, posterior(pred, PLAIN), PLAIN)
    ref = np.random.default_rng(0).uniform(size=(20, 20, 3)).astype(np.float32)
    out = energy.quantile_transfer(auto, ref)
    np.testing.assert_allclose(luma(out.rgb), pred.lightness, atol=2e-3)
    same = energy.quantile_transfer(auto, ref, strength=0.0)
    np.testing.assert_allclose(same.rgb, auto.rgb, atol=2e-3)


# ----- samples -----------------------------------------------------------------------------------
def test_coherent_quantile_reads_quantile_at_median() -> None:
    rng = np.random.default_rng(0)
    p = random_probs(rng, 50, sharpness=1.0)
    edges = uniform_edges(K)
    np.testing.assert_allclose(energy.coherent_quantile(p, 0.5), p, atol=1e-6)
    from colorizer.bins import quantile
    moved = energy.coherent_quantile(p, 0.7)
    assert np.allclose(moved.sum(-1), 1.0, atol=1e-5)
    assert np.abs(median(moved, edges) - quantile(p, 0.7, edges)).max() < 1.0 / K


def test_samples_differ_where_unsure_and_agree_where_sure() -> None:
    pred = synthetic_prediction()
    samples = energy.render_samples(pred, 4, seed=3, settings=RenderSettings().replace(smoothing=0.0, region_pooling=0.0))
    stack = np.stack([s.rgb for s in samples])
    spread = stack.std(0).mean(-1)
    half = pred.size[1] // 2
    sure, unsure = spread[:, : half - 4].mean(), spread[:, half + 4:].mean()
    assert unsure > 0.03
    assert sure < 0.25 * unsure
    # the uncertainty map comes from the posterior actually used (unsure half is brighter)
    unc = samples[0].uncertainty
    assert unc[:, half + 4:].mean() > unc[:, : half - 4].mean()


def test_samples_reproducible_with_seed() -> None:
    pred = synthetic_prediction()
    a = energy.render_samples(pred, 3, seed=7)
    b = energy.render_samples(pred, 3, seed=7)
    c = energy.render_samples(pred, 3, seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.rgb, y.rgb)
    assert any(not np.allclose(x.rgb, z.rgb) for x, z in zip(a, c))
    draws = energy.draw_samples(5, seed=1)
    phis = sorted(d.phi for d in draws)
    assert min(np.diff(phis + [phis[0] + 1.0])) > 0.02  # stratified hue directions


@pytest.mark.parametrize("name", ["lab_marginal", "lab_joint"])
def test_sample_bias_shapes_for_lab(name: str) -> None:
    scheme = BinScheme(name=name)
    draw = energy.draw_samples(1, 0)[0]
    for b, k in zip(energy.sample_bias(scheme, draw), scheme.channel_sizes):
        assert b.shape == (k,)


# ----- hints -------------------------------------------------------------------------------------
def test_hint_colours_inside_mask_and_not_far_outside() -> None:
    """A footprint hint (``follow_edges=False``, what version 1 recipes meant) colours its mask."""
    pred = synthetic_prediction(h=32, w=48)
    mask = np.zeros(pred.size, np.float32)
    mask[10:40, 60:90] = 1.0  # in the unsure half
    green = (0.1, 0.8, 0.2)
    maps = energy.hint_biases(pred, [Hint(mask=mask, color=tuple(round(c * 255) for c in green), feather=1.5,
                                         follow_edges=False)])
    base = render_probs(pred, posterior(pred, PLAIN), PLAIN)
    out = render_probs(pred, posterior(pred, PLAIN, maps), PLAIN)
    hue, chroma = rgb_to_hue_chroma(out.rgb[14:36, 64:86])
    target_hue = rgb_to_hue_chroma(np.array(green, np.float32))[0]
    assert np.abs(((hue - target_hue + 0.5) % 1.0) - 0.5).mean() < 0.04
    assert chroma.mean() > 0.3
    far = np.ones(pred.size, bool)
    far[0:56, 44:] = False  # > 4 grid pixels from the mask
    np.testing.assert_allclose(out.rgb[far], base.rgb[far], atol=2e-3)
    # smooth edge: the hint's bias fades over a few grid pixels
    alpha = np.abs(maps[0]).sum(-1)
    row = alpha[12, :]
    assert 0 < row[29] < row[37]


def test_several_hints_combine() -> None:
    pred = synthetic_prediction(h=32, w=48)
    m1 = np.zeros(pred.size, np.float32)
    m2 = np.zeros(pred.size, np.float32)
    m1[4:28, 52:92] = 1
    m2[36:60, 52:92] = 1
    maps = energy.hint_biases(pred, [Hint(m1, (230, 204, 26), follow_edges=False),
                                     Hint(m2, (51, 77, 230), follow_edges=False)])
    out = render_probs(pred, posterior(pred, PLAIN, maps), PLAIN)
    h1 = rgb_to_hue_chroma(out.rgb[8:24, 60:84])[0].mean()
    h2 = rgb_to_hue_chroma(out.rgb[40:56, 60:84])[0].mean()
    assert 0.1 < h1 < 0.2 and 0.6 < h2 < 0.7


def test_hint_spec_parsing(tmp_path) -> None:
    from PIL import Image
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "m.png")
    hint = Hint.from_spec(f"{tmp_path / 'm.png'}:#FF8000")
    assert hint.color == (255, 128, 0) and hint.hex == "#ff8000"
    assert hint.rgb == pytest.approx((1.0, 128 / 255, 0.0))
    assert hint.mask.shape == (8, 8) and hint.mask.dtype == np.uint8 and hint.mask.min() == 255
    assert hint == Hint.from_spec(f"{tmp_path / 'm.png'}:ff8000") and hint != Hint(hint.mask, (255, 128, 1))
    with pytest.raises(ValueError):
        hint.mask[0, 0] = 0  # read-only: hints are immutable (they key caches)
    with pytest.raises(ValueError, match="MASK.png:#RRGGBB"):
        Hint.from_spec("m.png:red")
    with pytest.raises(ValueError, match="missing.png"):
        Hint.from_spec(f"{tmp_path / 'missing.png'}:#00ff00")


# ----- with a (tiny, random) network ----------------------------------------------------------------
def test_energy_settings_and_colorizer_round_trip(tiny_colorizer, rng: np.random.Generator) -> None:
    pred = tiny_colorizer.predict(rng.uniform(size=(48, 64)).astype(np.float32))
    ref = rng.uniform(size=(30, 30, 3)).astype(np.float32)
    biases, results = energy.fit_biases(pred, energy.reference_histograms(pred.scheme, ref), EnergySettings(strength=2.0))
    assert len(biases) == 2 and all(b.shape == (K,) for b in biases)
    assert all(r.energies[-1] <= r.energies[0] for r in results)
    for method in ("energy", "quantile"):
        cache = RenderCache()
        reference = Reference("ref.png", strength=1.0, method=method)
        cache.references.put(reference, ref)
        res = render(pred, Recipe(reference=reference), cache=cache)
        assert res.rgb.shape == (48, 64, 3)
    prev = preview_prediction(pred, 32)
    assert tiny_colorizer.render(prev).rgb.shape[:2] == (24, 32)
    assert SampleSettings().q[0] < 0.5 < SampleSettings().q[1]
