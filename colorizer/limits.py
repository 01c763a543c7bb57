"""Numeric option checks shared by the command line and the settings dataclasses: every number must be
finite and in its range, and a bad one is refused with one line that names the option."""

from __future__ import annotations

import math
from numbers import Integral, Real


def check_number(label: str, value: object, low: float | None = None, high: float | None = None, *,
                 integer: bool = False, above: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite number (an integer with ``integer``) with
    ``low <= value <= high`` (``low < value`` with ``above``); ``label`` names the option."""
    kind = "a whole number" if integer else "a finite number"
    ok = isinstance(value, Integral) if integer else isinstance(value, Real) and math.isfinite(float(value))
    ok = ok and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if above else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ValueError(f"{label} must be {kind}{_range_text(low, high, above)}, not {value!r}")


def _fmt(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _range_text(low: float | None, high: float | None, above: bool) -> str:
    if low is not None and high is not None:
        return f" {'above' if above else 'from'} {_fmt(low)} {'up to' if above else 'to'} {_fmt(high)}"
    if low is not None:
        return f" {'above' if above else 'of at least'} {_fmt(low)}"
    if high is not None:
        return f" of at most {_fmt(high)}"
    return ""
