import numpy as np
import pytest

from colorizer import bins
from colorizer.bins import BinScheme, DecodeOptions
from colorizer.color import compose_with_luma, luma, rgb_to_hue_chroma


def onehot(index: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros(index.shape + (k,), np.float32)
    np.put_along_axis(out, index[..., None], 1.0, -1)
    return out


def test_scheme_shapes_and_validation():
    assert BinScheme().channel_sizes == (32, 32)
    assert BinScheme("lab_joint", bins=16).channel_sizes == (256,)
    assert BinScheme("lab_joint", bins=16).centers("ab").shape == (256, 2)
    with pytest.raises(ValueError, match="unknown colour scheme"):
        BinScheme("xyz")


def test_gaussian_centres_are_symmetric_quantiles():
    c = bins.gaussian_centers(32, 25.0)
    np.testing.assert_allclose(c, -c[::-1], atol=1e-4)
    assert c[16] == pytest.approx(25.0 * 0.0392, abs=0.01)  # Phi^-1(16.5/32)
    edges = bins.gaussian_edges(32, 25.0)
    assert np.all(np.diff(edges) > 0) and len(edges) == 33


def test_encode_window_histograms_sum_to_one_and_match_pixel_bins(rng):
    rgb = rng.random((12, 10, 3)).astype(np.float32)
    scheme = BinScheme()
    hists, weight = scheme.encode(rgb, window=1)
    idx, chroma = scheme.bin_indices(rgb)
    np.testing.assert_allclose(hists[0], onehot(idx[0], 32))
    np.testing.assert_allclose(weight, chroma, atol=1e-6)
    hists7, _ = scheme.encode(rgb, window=7)
    np.testing.assert_allclose(hists7[1].sum(-1), 1.0, atol=1e-5)
    # centre pixel of a 7x7 window: counts of the 49 neighbours
    expected = onehot(idx[1][2:9, 2:9], 32).sum((0, 1)) / 49
    np.testing.assert_allclose(hists7[1][5, 5], expected, atol=1e-6)


def test_encode_respects_mask():
    rgb = np.zeros((9, 9, 3), np.float32)
    rgb[:, :5] = [1, 0, 0]
    rgb[:, 5:] = [0, 0, 1]
    mask = np.zeros((9, 9), bool)
    mask[:, :5] = True
    hists, _ = BinScheme().encode(rgb, window=7, mask=mask)
    red_bin = 0
    assert hists[0][4, 5, red_bin] == pytest.approx(1.0)  # blue pixels are masked out
    assert hists[0][0, 7].sum() == pytest.approx(1.0)  # one valid column in the window
    assert hists[0][0, 8].sum() == 0.0  # no valid pixel in the window


@pytest.mark.parametrize("name", ["hue_chroma", "lab_marginal", "lab_joint"])
def test_encode_decode_round_trip_recovers_colour(name):
    scheme = BinScheme(name, bins=32 if name != "lab_joint" else 16)
    g = np.linspace(0.15, 0.85, 8, dtype=np.float32)
    rgb = np.stack(list(np.meshgrid(g, g[::-1], indexing="ij")) + [np.full((8, 8), 0.45, np.float32)], -1)
    hists, _ = scheme.encode(rgb, window=1)
    offset, _ = scheme.decode_offset(hists, luma(rgb), DecodeOptions(method="mean", fading_eta=0.0))
    rec = compose_with_luma(luma(rgb), offset)
    tol = {"hue_chroma": 0.03, "lab_marginal": 0.06, "lab_joint": 0.12}[name]
    assert np.abs(rec - rgb).mean() < tol


def test_zero_chroma_histogram_gives_gray():
    k = 32
    p_hue = np.full((4, 4, k), 1.0 / k, np.float32)
    p_chroma = onehot(np.zeros((4, 4), np.int64), k)
    p_chroma[..., 0] = 1.0
    lightness = np.random.default_rng(0).random((4, 4)).astype(np.float32)
    for method in ("median", "mean", "mode"):
        opts = DecodeOptions(method=method, fading_eta=0.0)
        offset, _ = BinScheme().decode_offset([p_hue, p_chroma], lightness, opts)
        rgb = compose_with_luma(lightness, offset)
        _, chroma = rgb_to_hue_chroma(rgb)
        assert chroma.max() < 1.0 / k + 1e-6


def test_median_mean_mode_and_annealing():
    edges = bins.uniform_edges(4)
    centers = bins.uniform_centers(4)
    p = np.array([0.1, 0.6, 0.1, 0.2], np.float32)
    assert bins.median(p, edges) == pytest.approx(0.25 + 0.25 * (0.4 / 0.6), abs=1e-6)
    assert bins.expectation(p, centers) == pytest.approx(0.1 * 0.125 + 0.6 * 0.375 + 0.1 * 0.625 + 0.2 * 0.875)
    assert bins.mode(p, centers) == pytest.approx(0.375)
    sharp = bins.annealed(p, 0.1)
    assert sharp[1] > 0.99
    flat = bins.annealed(p, 100.0)
    np.testing.assert_allclose(flat, 0.25, atol=0.01)
    np.testing.assert_allclose(bins.annealed(p, 1.0), p, rtol=1e-6)


def test_circular_mean_wraps_around_red():
    k = 32
    p = np.zeros(k, np.float32)
    p[0] = p[-1] = 0.5  # bins either side of hue 0
    hue, resultant = bins.circular_mean(p)
    assert min(hue, 1 - hue) < 1e-5
    assert resultant == pytest.approx(np.cos(np.pi / k), abs=1e-5)
    uniform = np.full(k, 1.0 / k, np.float32)
    assert bins.circular_mean(uniform)[1] < 1e-5


def test_fading_threshold_uses_one_over_k_convention():
    k = 32
    # |z| = resultant / K; Larsson's eta = 0.03 needs resultant >= 0.96 for full chroma
    assert bins.fading(np.array(0.97), k, 0.03) == pytest.approx(1.0)
    assert bins.fading(np.array(0.48), k, 0.03) == pytest.approx(0.5)
    assert bins.fading(np.array(0.3), k, 0.0) == pytest.approx(1.0)
    uniform_hue = np.full((1, k), 1.0 / k, np.float32)
    chroma_hist = np.zeros((1, k), np.float32)
    chroma_hist[0, 20] = 1.0
    offset, unc = BinScheme().decode_offset([uniform_hue, chroma_hist], np.array([0.5], np.float32), DecodeOptions())
    assert np.abs(offset).max() < 1e-4  # no hue agreement -> faded to gray


def test_entropy_and_uncertainty_map():
    k = 32
    assert bins.entropy(np.full(k, 1 / k)) == pytest.approx(1.0)
    assert bins.entropy(onehot(np.array(3), k)) == pytest.approx(0.0, abs=1e-6)
    hue_sure = onehot(np.array([[3]]), k)
    hue_unsure = np.full((1, 1, k), 1 / k, np.float32)
    chroma = onehot(np.array([[16]]), k)
    opts = DecodeOptions(fading_eta=0.0)
    _, u_sure = BinScheme().decode_offset([hue_sure, chroma], np.full((1, 1), 0.5, np.float32), opts)
    _, u_unsure = BinScheme().decode_offset([hue_unsure, chroma], np.full((1, 1), 0.5, np.float32), opts)
    assert u_sure[0, 0] < 0.01 < 0.9 < u_unsure[0, 0]


def test_chroma_gain_scales_chroma():
    k = 32
    hue = onehot(np.array([[5]]), k)
    chroma = onehot(np.array([[6]]), k)
    lum = np.full((1, 1), 0.5, np.float32)
    o1, _ = BinScheme().decode_offset([hue, chroma], lum, DecodeOptions(fading_eta=0.0, chroma_gain=1.0))
    o2, _ = BinScheme().decode_offset([hue, chroma], lum, DecodeOptions(fading_eta=0.0, chroma_gain=1.5))
    np.testing.assert_allclose(o2, 1.5 * o1, rtol=1e-5)


def test_box_sum_matches_naive(rng):
    x = rng.random((7, 9, 2)).astype(np.float32)
    out = bins.box_sum(x, 3)
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    naive = sum(padded[i:i + 7, j:j + 9] for i in range(3) for j in range(3))
    np.testing.assert_allclose(out, naive, atol=1e-5)


def test_uncertainty_is_high_where_fading_removed_the_colour():
    k = 32
    hue_unsure = np.full((1, 1, k), 1 / k, np.float32)
    chroma = onehot(np.array([[16]]), k)
    offset, unc = BinScheme().decode_offset([hue_unsure, chroma], np.full((1, 1), 0.5, np.float32), DecodeOptions())
    assert np.abs(offset).max() < 1e-4  # faded to gray ...
    assert unc[0, 0] > 0.9  # ... and shown as a guess
