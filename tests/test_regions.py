"""Region pooling: regions follow the photo's edges; unsure pixels follow their region, sure ones stay."""

from __future__ import annotations

import numpy as np

from colorizer.bins import BinScheme
from colorizer.pipeline import posterior
from colorizer.regions import pool_regions, segment_grid
from colorizer.render_settings import RenderSettings


def two_halves(h: int = 32, w: int = 48) -> np.ndarray:
    img = np.full((h, w), 0.2, np.float32)
    img[:, w // 2:] = 0.8
    return img + np.random.default_rng(0).normal(0, 0.01, img.shape).astype(np.float32)


def test_segments_stop_at_the_edge():
    labels = segment_grid(two_halves(64, 96), (16, 24))
    assert labels.shape == (16, 24)
    left, right = set(labels[:, :11].ravel()), set(labels[:, 13:].ravel())
    assert left and right and not (left & right)


def peaked(k: int, at: int, sharpness: float) -> np.ndarray:
    logits = -sharpness * np.minimum(np.abs(np.arange(k) - at), k - np.abs(np.arange(k) - at)).astype(np.float32)
    p = np.exp(logits)
    return p / p.sum()


def test_unsure_pixels_follow_their_region_and_sure_ones_stay():
    k = 32
    labels = np.zeros((4, 4), np.int32)
    labels[:, 2:] = 1
    hue = np.tile(peaked(k, 10, 2.0), (4, 4, 1))            # the region's sure hue
    hue[0, 0] = np.full(k, 1.0 / k)                         # one pixel knows nothing
    hue[:, 2:] = peaked(k, 25, 2.0)                         # the other region is sure of another hue
    chroma = np.tile(peaked(k, 8, 1.0), (4, 4, 1))
    pooled = pool_regions([hue, chroma], labels, 1.0, ("hue", "chroma"), BinScheme().centers("chroma"))
    assert np.argmax(pooled[0][0, 0]) == 10                   # followed its own region, not the other one
    np.testing.assert_allclose(pooled[0][1, 1], hue[1, 1], atol=0.05)   # sure pixels barely move
    np.testing.assert_allclose(pooled[0].sum(-1), 1.0, atol=1e-5)
    unchanged = pool_regions([hue, chroma], labels, 0.0, ("hue", "chroma"))
    assert unchanged[0] is hue


def test_posterior_pools_only_when_asked(tiny_colorizer):
    pred = tiny_colorizer.predict(two_halves())
    plain = posterior(pred, RenderSettings().replace(region_pooling=0.0))
    pooled = posterior(pred, RenderSettings().replace(region_pooling=1.0))
    assert pred.regions is not None and pred.regions.shape == pred.grid_size
    assert not np.allclose(plain[0], pooled[0])
    for p in pooled:
        np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-4)
