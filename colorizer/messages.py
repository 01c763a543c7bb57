"""Exceptions as one line for people: the command line, batch reports and the app's dialogs all say
what went wrong the same way."""

from __future__ import annotations

import re

_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-empty line of ``exc``'s message (torch's messages run over many lines), terminal
    escapes removed, whitespace collapsed, at most ``limit`` characters; the exception's type name
    when it has no message."""
    lines = (" ".join(line.split()) for line in _ESCAPES.sub("", str(exc)).splitlines())
    text = next((line for line in lines if line), "") or type(exc).__name__
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."
