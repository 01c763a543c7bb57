import numpy as np
import pytest

from colorizer import color


def test_gray_to_lightness_handles_integer_and_float_inputs():
    assert color.gray_to_lightness(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]
    assert color.gray_to_lightness(np.array([[65535]], np.uint16)).tolist() == [[1.0]]
    rgb = np.array([[[1.0, 0.0, 0.0]]], np.float32)
    assert color.gray_to_lightness(rgb)[0, 0] == pytest.approx(0.299)


def test_hue_chroma_of_primaries():
    rgb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [1, 1, 0]], np.float32)
    hue, chroma = color.rgb_to_hue_chroma(rgb)
    np.testing.assert_allclose(hue, [0, 1 / 3, 2 / 3, 0, 1 / 6], atol=1e-6)
    np.testing.assert_allclose(chroma, [1, 1, 1, 0, 1], atol=1e-6)


def test_hue_chroma_round_trip_keeps_colour_and_lightness(rng):
    rgb = rng.random((2000, 3)).astype(np.float32)
    hue, chroma = color.rgb_to_hue_chroma(rgb)
    back = color.hue_chroma_to_rgb(hue, chroma, color.luma(rgb))
    np.testing.assert_allclose(back, rgb, atol=1e-5)


def test_compose_keeps_lightness_exactly_and_stays_in_gamut(rng):
    lightness = rng.random(5000).astype(np.float32)
    offset = rng.normal(0, 0.8, (5000, 3)).astype(np.float32)
    rgb = color.compose_with_luma(lightness, offset)
    assert rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_allclose(color.luma(rgb), lightness, atol=2e-6)
    rgb8 = np.round(rgb * 255) / 255
    assert np.abs(color.luma(rgb8) - lightness).max() <= 0.5 / 255 + 1e-6


def test_gamut_limit_shrinks_chroma_but_keeps_hue():
    lightness = np.array([0.95], np.float32)
    rgb = color.hue_chroma_to_rgb(np.array([0.6], np.float32), np.array([1.0], np.float32), lightness)
    hue, chroma = color.rgb_to_hue_chroma(rgb)
    assert chroma[0] < 1.0
    assert hue[0] == pytest.approx(0.6, abs=1e-4)


def test_zero_chroma_gives_gray():
    lightness = np.linspace(0, 1, 11, dtype=np.float32)
    rgb = color.hue_chroma_to_rgb(np.full(11, 0.3, np.float32), np.zeros(11, np.float32), lightness)
    np.testing.assert_allclose(rgb, np.repeat(lightness[:, None], 3, 1), atol=1e-6)


def test_lab_round_trip_and_neutral_lightness():
    rgb = np.array([[0.2, 0.5, 0.7], [0.9, 0.1, 0.3]], np.float32)
    np.testing.assert_allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-4)
    gray = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    expected = color.rgb_to_lab(np.repeat(gray[:, None], 3, 1))[:, 0]
    np.testing.assert_allclose(color.lightness_to_lab_l(gray), expected, atol=1e-3)


def test_ab_offset_has_zero_luma():
    off = color.ab_to_offset(np.array([30.0]), np.array([-20.0]), np.array([0.5], np.float32))
    assert abs(color.luma(off)[0]) < 1e-6
    assert np.ptp(off) > 0.05


def test_match_lightness_matches_reference_distribution(rng):
    src = rng.random((40, 50)).astype(np.float32) ** 2
    ref = rng.random((30, 30)).astype(np.float32)
    out = color.match_lightness(src, ref)
    assert out.shape == src.shape
    np.testing.assert_allclose(np.quantile(out, [0.1, 0.5, 0.9]), np.quantile(ref, [0.1, 0.5, 0.9]), atol=0.03)
    assert np.all(np.diff(out.ravel()[np.argsort(src.ravel())]) >= 0)  # monotone
