"""Calibration: temperatures fitted on held-out pixels undo over-confidence, and the reliability
curve / ECE say whether confidence matches accuracy."""

from __future__ import annotations

import numpy as np

from colorizer.train.calibration import fit_temperatures, hue_reliability, tempered


def synthetic_samples(n: int = 4000, k: int = 32, sharpness: float = 1.0, seed: int = 0) -> list[dict]:
    """Pixels whose true bins are drawn from the model's own histograms (a calibrated model), with
    the histograms then sharpened by ``sharpness`` (> 1: over-confident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, k))
    p = tempered(logits, 1.0)
    true = np.array([rng.choice(k, p=row) for row in p])
    shown = np.log(tempered(logits * sharpness, 1.0))
    chroma = np.full(n, 0.5, np.float32)
    return [{"log_probs": [shown, shown], "bins": [true, true], "chroma": chroma}]


def test_a_calibrated_model_needs_no_temperature():
    t_hue, t_chroma = fit_temperatures(synthetic_samples(), ("hue", "chroma"))
    assert abs(t_hue - 1.0) < 0.1 and abs(t_chroma - 1.0) < 0.1


def test_over_confidence_is_found_and_undone():
    samples = synthetic_samples(sharpness=2.0)
    t_hue, _ = fit_temperatures(samples, ("hue", "chroma"))
    assert 1.7 < t_hue < 2.3
    before, after = hue_reliability(samples), hue_reliability(samples, temperature=t_hue)
    assert before["mean_confidence"] > before["accuracy"] + 0.05  # over-confident
    assert after["ece"] < before["ece"] / 2
    assert sum(b["pixels"] for b in after["curve"]) == after["pixels"] == 4000


def test_gray_pixels_do_not_count_for_hue():
    samples = synthetic_samples()
    samples[0]["chroma"][:1000] = 0.0
    assert hue_reliability(samples)["pixels"] == 3000
