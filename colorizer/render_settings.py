"""Render settings: everything that turns cached histograms into colour, with the limits a file, the
command line or a slider may set (no network, no arrays)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, replace

from colorizer.bins import DECODE_METHODS, DecodeOptions
from colorizer.limits import check_number


@dataclass(frozen=True)
class RenderSettings:
    """Everything that turns cached histograms into colour (no network run needed).

    ``decode``: how each histogram becomes one colour (method, temperature, fading, chroma gain).
    ``hue_bias``/``hue_direction``: resampling bias ``b_k = beta cos(theta_k - phi)`` on the hue
    histogram (``phi`` in turns, 0..1); ``chroma_push``: bias towards more (>0) or less (<0) chroma.
    ``smoothing``: Gaussian sigma, in prediction pixels, applied to the histograms before decoding.
    ``region_pooling``: how far unsure pixels follow their region's histogram (0 = not at all,
    1 = fully when they know nothing), see :mod:`colorizer.regions`.
    ``edge_aware``: upsample colour with a guided filter on the lightness, so colour edges follow
    the photo's edges instead of bleeding across them.
    ``cast_removal``: share (0..1) of the picture's overall tint taken away, measured on the model's own
    colours (:mod:`colorizer.cast`): near-neutral scenes stay neutral instead of turning blue or beige.

    The flat view (``as_dict``, ``from_dict``, ``value``, ``replace``) names the decode options by
    their own field names (``chroma_gain``...), so sliders and files need not know the nesting.
    """

    decode: DecodeOptions = field(default_factory=DecodeOptions)
    hue_bias: float = 0.0
    hue_direction: float = 0.0
    chroma_push: float = 0.0
    smoothing: float = 1.0
    region_pooling: float = 1.0  # chosen on grouped cross-validation (models/MODEL_CARD.md)
    edge_aware: bool = True
    cast_removal: float = 0.5  # chosen on grouped cross-validation (models/MODEL_CARD.md)

    def replace(self, **changes) -> "RenderSettings":
        """A copy with ``changes``; decode option names (``chroma_gain``...) go into ``decode``."""
        decode_names = {f.name for f in fields(DecodeOptions)}
        decode_changes = {k: changes.pop(k) for k in list(changes) if k in decode_names}
        if decode_changes:
            changes["decode"] = replace(changes.get("decode", self.decode), **decode_changes)
        return replace(self, **changes)

    def unbiased(self) -> "RenderSettings":
        """These settings without the resampling sliders' biases (hue bias and direction, chroma push):
        what the model's own colours are rendered with."""
        return replace(self, hue_bias=0.0, hue_direction=0.0, chroma_push=0.0)

    def value(self, name: str):
        """One setting by its flat name (own field or decode option)."""
        return getattr(self.decode, name) if name in DECODE_FIELDS else getattr(self, name)

    def as_dict(self) -> dict:
        """Flat ``{name: value}`` of every setting (decode options included)."""
        return {name: self.value(name) for name in SETTING_NAMES}

    @classmethod
    def from_dict(cls, values: dict) -> "RenderSettings":
        """Settings from a flat dict (missing names keep their defaults); raises ValueError on an unknown
        name or a value of the wrong type."""
        unknown = sorted(set(values) - set(SETTING_NAMES))
        if unknown:
            raise ValueError(f"unknown render setting {unknown[0]!r}")
        defaults = cls()
        typed = {}
        for name, value in values.items():
            kind = type(defaults.value(name))
            numeric = kind in (int, float)
            wrong = (kind is bool) != isinstance(value, bool) or numeric and not isinstance(value, numbers.Real)
            try:
                if wrong:
                    raise ValueError
                typed[name] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"render setting {name!r} must be a {'number' if numeric else kind.__name__}, "
                                 f"not {value!r}") from None
        settings = defaults.replace(**typed)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError (naming the setting) unless every number is finite and in ``SETTING_LIMITS`` and
        the decoding method is known."""
        if self.decode.method not in DECODE_METHODS:
            raise ValueError(f"render setting 'method' must be one of {', '.join(DECODE_METHODS)}, "
                             f"not {self.decode.method!r}")
        for name, (low, high, above) in SETTING_LIMITS.items():
            check_number(f"render setting {name!r}", self.value(name), low, high, above=above)


# render setting -> (low, high, strictly above low): what a file, the command line or a slider may set
SETTING_LIMITS = {"chroma_gain": (0, 10, False), "temperature": (0, 100, True), "fading_eta": (0, 1, False),
                  "hue_bias": (-100, 100, False), "hue_direction": (-100, 100, False),
                  "chroma_push": (-100, 100, False), "smoothing": (0, 100, False), "region_pooling": (0, 1, False),
                  "cast_removal": (0, 1, False)}
DECODE_FIELDS = tuple(f.name for f in fields(DecodeOptions))
SETTING_NAMES = DECODE_FIELDS + tuple(f.name for f in fields(RenderSettings) if f.name != "decode")
