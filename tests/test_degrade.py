"""Old-print degradations: seeded, only the lightness changes, each effect does what it says."""

from __future__ import annotations

import numpy as np
import pytest

from colorizer.train.degrade import EVAL_OLD_PRINT, OldPrintConfig, degrade_lightness, jpeg_roundtrip


def ramp(h: int = 64, w: int = 96) -> np.ndarray:
    return np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))


def test_eval_old_print_is_reproducible_and_fades_the_tonal_range():
    a = degrade_lightness(ramp(), np.random.default_rng(3), EVAL_OLD_PRINT)
    b = degrade_lightness(ramp(), np.random.default_rng(3), EVAL_OLD_PRINT)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (64, 96)
    # faded: darkest and brightest columns move inwards by about the fade share
    assert a[:, :4].mean() > 0.07 and a[:, -4:].mean() < 0.93
    assert float(np.abs(a - ramp()).mean()) > 0.03


def test_probability_zero_and_no_effects_leave_the_input_alone():
    img = ramp()
    assert degrade_lightness(img, np.random.default_rng(0), OldPrintConfig(probability=0.0)) is img
    none = OldPrintConfig(blur=(0, 0), fade=(0, 0), grain=(0, 0), dust=0.0, jpeg=(0, 0), probability=1.0)
    np.testing.assert_allclose(degrade_lightness(img, np.random.default_rng(0), none), img, atol=1e-6)


def test_grain_has_the_requested_strength():
    flat = np.full((128, 128), 0.5, np.float32)
    cfg = OldPrintConfig(blur=(0, 0), fade=(0, 0), grain=(0.04, 0.04), dust=0.0, jpeg=(0, 0), probability=1.0)
    out = degrade_lightness(flat, np.random.default_rng(1), cfg)
    assert abs(float(out.std()) - 0.04) < 0.005


def test_jpeg_roundtrip_quantises_but_stays_close():
    img = ramp()
    out = jpeg_roundtrip(img, 50)
    assert out.shape == img.shape and 0 < float(np.abs(out - img).max()) < 0.1


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="blur"):
        OldPrintConfig(blur=(2.0, 1.0))
    with pytest.raises(ValueError, match="fade"):
        OldPrintConfig(fade=(0.0, 1.0))
    with pytest.raises(ValueError, match="chances"):
        OldPrintConfig(probability=1.5)
