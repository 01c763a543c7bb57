"""Colour spaces used by the colouriser.

Lightness convention (used identically in training and inference): the network sees the
Rec. 601 luma ``Y' = 0.299 R' + 0.587 G' + 0.114 B'`` of gamma-encoded sRGB values in [0, 1].
A gray photo's pixel value *is* its luma, and every colourisation is built so that its luma
equals the input gray exactly (up to 8-bit rounding), see :func:`compose_with_luma`.

Colour is handled as a *zero-luma offset* ``d = rgb - luma(rgb)``: adding ``d`` to any lightness
keeps that lightness, and scaling ``d`` scales chroma (``max - min``) without changing hue.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import color as skcolor

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an (..., 3) RGB array in [0, 1]."""
    return rgb[..., 0] * LUMA_WEIGHTS[0] + rgb[..., 1] * LUMA_WEIGHTS[1] + rgb[..., 2] * LUMA_WEIGHTS[2]


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """Map a gray image (uint8, uint16 or float in [0, 1]) to the network's lightness in [0, 1].

    The lightness of a gray photo is its value; for a colour array (H, W, 3) it is the luma.
    """
    g = np.asarray(gray)
    if np.issubdtype(g.dtype, np.integer):
        g = g.astype(np.float32) / float(np.iinfo(g.dtype).max)
    else:
        g = g.astype(np.float32, copy=False)
    if g.ndim == 3:
        g = luma(g[..., :3])
    return np.clip(g, 0.0, 1.0)


def rgb_to_hue_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV hue in [0, 1) and chroma ``max(R,G,B) - min(R,G,B)`` in [0, 1] of an (..., 3) array."""
    rgb = rgb.astype(np.float32, copy=False)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    c = mx - mn
    safe = np.where(c > 1e-12, c, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(c > 1e-12, h / 6.0, 0.0)
    return (h % 1.0).astype(np.float32), c.astype(np.float32)


def pure_hue_offset(hue: np.ndarray) -> np.ndarray:
    """Zero-luma RGB offset of chroma 1 for each hue in [0, 1): ``hsv(h, 1, 1) - luma``."""
    h6 = (np.asarray(hue, dtype=np.float32) % 1.0) * 6.0
    # Piecewise-linear HSV hue ramp, the standard formula written for all channels at once.
    k = np.stack([(5.0 + h6) % 6.0, (3.0 + h6) % 6.0, (1.0 + h6) % 6.0], axis=-1)
    rgb = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return rgb - luma(rgb)[..., None]


def hue_chroma_to_offset(hue: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Zero-luma RGB offset with the given hue and chroma (before gamut limits)."""
    return pure_hue_offset(hue) * np.asarray(chroma, dtype=np.float32)[..., None]


def compose_with_luma(lightness: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] whose luma is exactly ``lightness``, with colour ``offset`` shrunk into gamut.

    The offset is scaled (never rotated) just enough that every channel stays in [0, 1]; its luma
    is removed first, so the result's luma equals ``lightness`` up to float rounding.
    """
    lum = lightness.astype(np.float32, copy=False)
    d = np.array(offset, dtype=np.float32, copy=True)
    d -= luma(d)[..., None]
    # Largest scale <= 1 keeping every channel in gamut: room / |d| per channel (room = 1 - L for
    # d > 0, L for d < 0); channel by channel on 2-D planes, which is much faster than reducing
    # over a length-3 last axis. fmin ignores the NaN of 0 / 0.
    scale = np.ones(lum.shape, np.float32)
    headroom = 1.0 - lum
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in range(3):
            dc = d[..., c]
            room = np.where(dc > 0, headroom, lum)
            np.divide(room, np.abs(dc), out=room)
            np.fmin(scale, room, out=scale)
    np.maximum(scale, 0.0, out=scale)
    d *= scale[..., None]
    d += lum[..., None]
    return np.clip(d, 0.0, 1.0, out=d)


def hue_chroma_to_rgb(hue: np.ndarray, chroma: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """Rebuild RGB from hue/chroma and the input lightness (the bicone of DESIGN.md).

    Equivalent to ``V = L + C/2, S = C/V, HSV -> RGB`` followed by restoring the input lightness,
    but computed as a zero-luma offset so the lightness is kept exactly and out-of-gamut colours
    lose chroma rather than lightness.
    """
    return compose_with_luma(lightness, hue_chroma_to_offset(hue, chroma))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB in [0, 1]."""
    return skcolor.rgb2lab(np.clip(rgb, 0.0, 1.0)).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] of CIELAB (D65); out-of-gamut values are clipped (silently: that is expected)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*negative Z values.*")
        return np.clip(skcolor.lab2rgb(lab.astype(np.float64)), 0.0, 1.0).astype(np.float32)


def lightness_to_lab_l(lightness: np.ndarray) -> np.ndarray:
    """CIELAB L* of a neutral gray whose sRGB value is ``lightness``."""
    lin = np.where(lightness <= 0.04045, lightness / 12.92, ((lightness + 0.055) / 1.055) ** 2.4)
    f = np.where(lin > (6 / 29) ** 3, np.cbrt(lin), lin / (3 * (6 / 29) ** 2) + 4 / 29)
    return (116.0 * f - 16.0).astype(np.float32)


def ab_to_offset(a: np.ndarray, b: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """Zero-luma RGB offset of the Lab colour (L*(lightness), a, b)."""
    lab = np.stack([lightness_to_lab_l(lightness), a, b], axis=-1)
    rgb = lab_to_rgb(lab)
    return rgb - luma(rgb)[..., None]


def match_lightness(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map ``source`` lightness values so their histogram matches ``reference`` (quantile mapping)."""
    s = source.ravel()
    order = np.argsort(s)
    ref_sorted = np.sort(reference.ravel())
    quantiles = np.linspace(0.0, 1.0, ref_sorted.size)
    out = np.empty_like(s, dtype=np.float32)
    out[order] = np.interp(np.linspace(0.0, 1.0, s.size), quantiles, ref_sorted)
    return out.reshape(source.shape)
