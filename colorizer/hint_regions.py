"""Where a region hint applies: the object(s) its brushed mask is on, stopping at their edges.

A stroke rarely stays inside the object it is meant for, and rarely covers all of it. The brushed
mask is therefore not used as it is but refined, in the spirit of Levin, Lischinski & Weiss,
"Colorization using Optimization" (SIGGRAPH 2004): neighbouring pixels of similar lightness should
get the same weight. On the guide lightness (twice the prediction grid) the weight ``u`` minimises

    sum_{r~s} w_rs (u_r - u_s)^2  +  sum_r c_r (u_r - 1)^2  +  sum_r (a_r + e_r) u_r^2

- ``w_rs = exp(-(L_r - L_s)^2 / (2 sigma^2))`` between 4-neighbours: the weight flows freely inside an
  object and hardly across an edge;
- seeds ``c_r``: the brushed pixels, each counted by how typical its lightness is of the stroke (a
  stroke over light grass that crosses a dark tripod leg seeds the grass, not the leg);
- leak ``a_r``: a small constant (the weight fades over ``reach`` of the photo's longest side, so an
  edge with a gap does not let the colour flood the photo) plus the model's disbelief: pixels whose
  predicted histograms are confident about a colour far from the hint's resist it;
- ``e_r``: pixels the user erased (strongly held at 0).

The sparse system is solved once per hint (milliseconds to a few tenths of a second); the result is
sharpened to a soft mask in [0, 1] on the prediction grid, where the hint's energy is fitted and its
bias blended in. No Qt here: the command line's ``--hint`` gets exactly the app's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

from colorizer.bins import BinScheme, colour_histograms
from colorizer.pipeline import Prediction, guided_upsample
from colorizer.regions import normalised_entropy

if TYPE_CHECKING:
    from colorizer.energy.hints import Hint

GRAY_CHROMA = 0.03  # a hint colour with less chroma asks for no hue


@dataclass(frozen=True)
class RegionSettings:
    """How a brushed mask is refined.

    ``edge_sigma``: smallest lightness step (0..1) at which the affinity between neighbours falls to
    e^-1/2 (raised to 1.5x the stroke's own texture, so grass or cloth does not stop the weight);
    ``reach``: distance (fraction of the longest side) over which the weight fades inside one object;
    ``atypical``: leak of pixels whose lightness is unlike the stroke's (``typicality``);
    ``belief``/``margin``: leak of pixels the model disbelieves more than it does the stroke's own
    pixels (by more than ``margin``);
    ``typical``: lightness spread (in MADs) within which a brushed pixel counts as a full seed;
    ``low``/``high``: the soft threshold that turns the propagated weight into the region;
    ``max_side``: the solve's longest side (the guide is reduced to it when larger).
    """

    edge_sigma: float = 0.02
    reach: float = 1.0
    atypical: float = 4.0
    belief: float = 0.5
    margin: float = 0.15
    typical: float = 2.5
    low: float = 0.12
    high: float = 0.45
    max_side: int = 256


def hint_region(prediction: Prediction, hint: "Hint", settings: RegionSettings | None = None) -> np.ndarray:
    """Where ``hint`` applies, float32 in [0, 1]: the refined region (``follow_edges``) at the guide's
    resolution, or the brushed mask on the prediction grid. Resize it as needed (``grid_region``)."""
    if hint.follow_edges:
        return refine_region(prediction, hint.mask, hint.rgb, hint.erased, settings)
    return _resize(hint.mask, prediction.grid_size)


def grid_region(region: np.ndarray, prediction: Prediction) -> np.ndarray:
    """A region (any resolution) on the prediction grid (area average)."""
    return _resize(region, prediction.grid_size)


def hint_matte(display: Prediction, regions: list[np.ndarray]) -> np.ndarray:
    """The refined regions as one full-resolution weight (``display.size``) in [0, 1] whose edges follow
    the photo's lightness (guided filter): the hints' colour is composited through it, so a thin
    object inside the brushed area (a tripod leg) keeps its own colour although the prediction grid
    is too coarse to hold it."""
    guide = display.guide if display.guide is not None else display.small_lightness
    merged = _resize(np.max(np.stack([_resize(r, regions[0].shape) for r in regions]), axis=0), guide.shape)
    matte = guided_upsample(np.repeat(merged[..., None], 3, axis=-1), guide, display.lightness, radius=1, eps=1e-3)
    return np.clip(matte[..., 0], 0.0, 1.0)


def refine_region(prediction: Prediction, mask: np.ndarray, rgb: tuple[float, float, float],
                  erased: np.ndarray | None = None, settings: RegionSettings | None = None) -> np.ndarray:
    """The region a hint of colour ``rgb`` (in [0, 1]) brushed as ``mask`` applies to: (h, w) float32 in
    [0, 1] at the guide's resolution (at most ``max_side``). ``mask``/``erased`` are weights in [0, 1]
    (any size, resized)."""
    settings = settings or RegionSettings()
    guide = _solve_guide(prediction, settings.max_side)
    gh, gw = guide.shape
    brushed = _resize(mask, (gh, gw))
    held = _resize(erased, (gh, gw)) if erased is not None else np.zeros_like(brushed)
    if float(brushed.max()) <= 1e-3:
        return np.zeros((gh, gw), np.float32)
    typical = typicality(guide, brushed, settings.typical)
    resist = _resize(disbelief(prediction, rgb), (gh, gw))
    inside = brushed > 0.5
    resist = np.clip(resist - float(np.median(resist[inside] if inside.any() else resist)) - settings.margin, 0.0, 1.0)
    sigma = max(settings.edge_sigma, 1.5 * _stroke_texture(guide, brushed))
    leak = (1.0 / (settings.reach * max(gh, gw)) ** 2 + settings.atypical * (1.0 - typical)
            + settings.belief * resist + 50.0 * held)
    u = propagate(guide, brushed * typical, leak, sigma)
    region = np.clip((u - settings.low) / (settings.high - settings.low), 0.0, 1.0)
    return region * region * (3.0 - 2.0 * region)  # smoothstep: crisp inside, soft at the edge


def _stroke_texture(guide: np.ndarray, brushed: np.ndarray) -> float:
    """Median lightness step between neighbours inside the stroke (how textured the object is)."""
    dx = np.abs(np.diff(guide, axis=1))[brushed[:, 1:] > 0.5]
    dy = np.abs(np.diff(guide, axis=0))[brushed[1:, :] > 0.5]
    steps = np.concatenate([dx, dy])
    return float(np.median(steps)) if steps.size else 0.0


def propagate(guide: np.ndarray, seeds: np.ndarray, leak: np.ndarray | float, sigma: float) -> np.ndarray:
    """Solve ``(L_w + diag(seeds + leak)) u = seeds`` on the 4-neighbour grid of ``guide`` (the
    module docstring's energy): the seeds' weight spread along similar lightness."""
    h, w = guide.shape
    n = h * w
    idx = np.arange(n).reshape(h, w)
    g = guide.astype(np.float64)
    rows, cols, vals = [], [], []
    for a, b, d in ((idx[:, :-1], idx[:, 1:], g[:, :-1] - g[:, 1:]), (idx[:-1, :], idx[1:, :], g[:-1, :] - g[1:, :])):
        wt = np.exp(-(d * d) / (2.0 * sigma * sigma)).ravel()
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        vals += [-wt, -wt]
    off = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    degree = -np.asarray(off.sum(axis=1)).ravel()
    diag = degree + seeds.ravel().astype(np.float64) + np.broadcast_to(leak, (h, w)).ravel()
    system = off + coo_matrix((diag, (np.arange(n), np.arange(n))), shape=(n, n)).tocsr()
    u = spsolve(system.tocsc(), seeds.ravel().astype(np.float64))
    return np.clip(u, 0.0, 1.0).reshape(h, w).astype(np.float32)


def typicality(guide: np.ndarray, seeds: np.ndarray, spread: float, floor: float = 0.05) -> np.ndarray:
    """How typical each pixel's lightness is of the stroke (1 near its weighted median, falling off
    beyond ``spread`` median absolute deviations): atypical brushed pixels are weak seeds."""
    inside = seeds > 0.5
    values = guide[inside] if inside.any() else guide[seeds > 0]
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    scale = max(spread * 1.4826 * mad, floor)
    z = (guide - median) / scale
    return np.exp(-0.5 * np.maximum(np.abs(z) - 1.0, 0.0) ** 2 * 4.0).astype(np.float32)


def disbelief(prediction: Prediction, rgb: tuple[float, float, float], tolerance: float = 2.0) -> np.ndarray:
    """(h, w) in [0, 1] on the prediction grid: how sure the model is that a pixel is *not* ``rgb``.

    Per channel: the histogram's confidence (1 - normalised entropy) times the probability mass it
    puts where the hint colour is not (``_plausible_bins``). Hue counts only as far as the pixel is
    predicted colourful, and not at all for a gray hint; chroma only tells gray from colourful
    (models predict muted colours, so a vivid hint is not implausible where they predict a weak one).
    """
    scheme = prediction.scheme
    probs = [np.exp(lp) for lp in prediction.log_probs]
    windows = _plausible_bins(scheme, rgb, tolerance)
    out = np.zeros(prediction.grid_size, np.float32)
    for name, p, window in zip(scheme.channels, probs, windows):
        if window is None:
            continue
        near = np.clip(p @ window.astype(np.float32), 0.0, 1.0)
        doubt = (1.0 - normalised_entropy(p)) * (1.0 - near)
        if name == "hue":
            chroma = probs[scheme.channels.index("chroma")] @ scheme.centers("chroma").astype(np.float32)
            doubt = doubt * np.clip(chroma / 0.15, 0.0, 1.0)
        out = np.maximum(out, doubt.astype(np.float32))
    return out


def _plausible_bins(scheme: BinScheme, rgb: tuple[float, float, float], tolerance: float) -> list[np.ndarray | None]:
    """Per channel, how compatible each bin is with the hint colour (0..1; None: the channel says nothing)."""
    kernels = [k / k.max() for k in colour_histograms(scheme, rgb, spread=tolerance)]
    if scheme.name != "hue_chroma":
        return kernels
    chroma = max(rgb) - min(rgb)
    centres = scheme.centers("chroma")
    if chroma < GRAY_CHROMA:  # a gray hint: no hue; only surely colourful pixels disagree
        return [None, 1.0 / (1.0 + np.exp((centres - max(0.08, 2 * chroma)) / 0.03))]
    return [kernels[0], 1.0 / (1.0 + np.exp((0.35 * chroma - centres) / 0.03))]


def _solve_guide(prediction: Prediction, max_side: int) -> np.ndarray:
    guide = prediction.guide if prediction.guide is not None else prediction.small_lightness
    h, w = guide.shape
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        guide = cv2.resize(guide, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return guide.astype(np.float32)


def _resize(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area resize of a weight map (uint8 masks become [0, 1] floats)."""
    x = np.asarray(x)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.shape == shape:
        return x
    interp = cv2.INTER_AREA if x.shape[0] > shape[0] else cv2.INTER_LINEAR
    return cv2.resize(x, (shape[1], shape[0]), interpolation=interp)
