"""Contact sheets (colorizer.visual) and the one atomic writer (colorizer.atomic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colorizer.atomic import atomic_write, atomic_write_text
from colorizer.visual import contact_row, contact_sheet, uncertainty_legend, uncertainty_to_rgb


def test_contact_row_and_sheet_layout() -> None:
    gray = np.full((40, 60), 0.5, np.float32)
    colour = np.zeros((20, 20, 3), np.uint8)
    colour[..., 0] = 255
    row = contact_row([gray, colour, uncertainty_to_rgb(np.linspace(0, 1, 100).reshape(10, 10))], height=30, gap=4)
    assert row.dtype == np.uint8 and row.shape == (30, 45 + 4 + 30 + 4 + 30, 3)
    assert (row[:, 45:49] == 255).all() and (row[:, 49:79, 0] == 255).all() and (row[:, 49:79, 1] == 0).all()
    labelled = contact_row([gray], height=30, labels=["input"])
    assert labelled.shape[0] > 30 and (labelled[:, :, 0] < 128).any()  # the caption is drawn
    sheet = contact_sheet([row, labelled], gap=4, footer=uncertainty_legend(row.shape[1]))
    assert sheet.shape[1] == row.shape[1] and sheet.shape[0] == 30 + 4 + labelled.shape[0] + 4 + 30
    assert (sheet[34 + 5:34 + labelled.shape[0], labelled.shape[1]:] == 255).all()  # padded in white


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "recipe.json"
    atomic_write_text(target, "old")
    assert target.read_text() == "old"

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old" and [p.name for p in target.parent.iterdir()] == ["recipe.json"]
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and len(list(target.parent.iterdir())) == 1
