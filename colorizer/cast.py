"""Colour-cast removal: take part of a picture's overall tint away, so near-neutral scenes stay neutral.

On photos from unseen sources the model's worst failures are whole-picture tints: a gray studio
backdrop turns pale blue, paper and plates turn beige, an overcast landscape turns blue (see
``models/MODEL_CARD.md``). A tint shows as the mean of the zero-luma colour offsets over the
picture. Removing a share of that mean (and giving chroma back with the gain) trades a little colour
accuracy on photos whose overall tint is real for far fewer photos that end up worse than gray.

The cast is always measured on the model's own colours (no slider, reference or hint biases), so
removing it never undoes a colour the user asked for.
"""

from __future__ import annotations

import numpy as np


def mean_cast(offset: np.ndarray) -> np.ndarray:
    """The picture's overall tint: the mean zero-luma RGB offset (3,) of an (h, w, 3) offset map."""
    return offset.reshape(-1, offset.shape[-1]).mean(axis=0, dtype=np.float64).astype(np.float32)


def remove_cast(offset: np.ndarray, cast: np.ndarray, amount: float, spared: np.ndarray | None = None) -> np.ndarray:
    """``offset`` with ``amount`` (0..1) of ``cast`` taken away from every pixel, except by ``spared``
    (h, w) weights in [0, 1] (1 = a colour the user chose, kept as it is); ``offset`` itself when
    nothing is removed."""
    if amount <= 0:
        return offset
    share = np.float32(amount) if spared is None else (np.float32(amount) * (1.0 - np.clip(spared, 0.0, 1.0)))[..., None]
    return (offset - share * np.asarray(cast, np.float32)).astype(np.float32, copy=False)
