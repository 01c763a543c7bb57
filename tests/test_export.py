"""colorizer.export: options, names from a template, no silent overwrite, resizing, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.export import (ExportError, ExportOptions, export_picture, fit_long_edge, output_name, plan_exports,
                              unique_path)
from colorizer.imageio import ImageWriteError, load_image


def test_template_names_and_errors() -> None:
    opts = ExportOptions(format="jpg", template="{stem}_colour")
    assert output_name(opts, "/photos/Grandma 1952.tif") == "Grandma 1952_colour.jpg"
    assert output_name(ExportOptions(template="{n:03d}-{stem}.{format}"), "a.png", 7) == "007-a.png.png"
    for bad, message in (("{name}", "unknown field"), ("", "empty"), ("x/{stem}", "separator"), ("{stem", "bad")):
        with pytest.raises(ExportError, match=message):
            ExportOptions(template=bad)
    with pytest.raises(ExportError):
        ExportOptions(format="gif")
    with pytest.raises(ExportError):
        ExportOptions(quality=0)


def test_plan_never_overwrites_silently(tmp_path: Path) -> None:
    (tmp_path / "a_colour.png").write_bytes(b"mine")
    sources = [Path("/x/a.jpg"), Path("/y/a.png"), Path("/x/b.jpg")]
    plan = plan_exports(sources, tmp_path, ExportOptions())
    assert [p.target.name for p in plan] == ["a_colour.png", "a_colour (2).png", "b_colour.png"]
    assert [p.exists for p in plan] == [True, False, False]
    kept = plan_exports(sources, tmp_path, ExportOptions(), keep_both=True)
    assert [p.target.name for p in kept] == ["a_colour (2).png", "a_colour (3).png", "b_colour.png"]
    assert not any(p.exists for p in kept)
    assert unique_path(tmp_path / "a_colour.png") == tmp_path / "a_colour (2).png"


def test_export_without_replacing_takes_the_next_free_name(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    target = tmp_path / "a_colour.png"
    target.write_bytes(b"appeared after the plan")
    (tmp_path / "a_colour (2).png").write_bytes(b"and this one")
    written = export_picture(rgb, target, ExportOptions(), replace=False)
    assert written == tmp_path / "a_colour (3).png" and load_image(written).size == (30, 20)
    assert target.read_bytes() == b"appeared after the plan"
    assert export_picture(rgb, target, ExportOptions(), replace=True) == target  # the user chose to replace it
    assert load_image(target).size == (30, 20)


def test_export_skips_names_planned_for_other_pictures_and_never_loops(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    target = tmp_path / "a_colour.png"
    target.write_bytes(b"appeared after the plan")
    written = export_picture(rgb, target, ExportOptions(), avoid=[tmp_path / "a_colour (2).png"])
    assert written == tmp_path / "a_colour (3).png"
    (tmp_path / "notadir").write_bytes(b"a file where a folder should be")
    with pytest.raises(ImageWriteError, match="notadir is a file, not a folder"):
        export_picture(rgb, tmp_path / "notadir" / "out.png", ExportOptions())


def test_export_resizes_and_sets_quality(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    small, _ = fit_long_edge(rgb, 200)
    assert small.shape == (150, 200, 3) and fit_long_edge(rgb, 1000)[0] is rgb
    low = export_picture(rgb, tmp_path / "low.jpg", ExportOptions(format="jpg", quality=20, long_edge=200))
    high = export_picture(rgb, tmp_path / "high.jpg", ExportOptions(format="jpg", quality=95, long_edge=200))
    with Image.open(low) as im:
        assert im.size == (200, 150) and im.format == "JPEG"
    assert low.stat().st_size < high.stat().st_size
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    with pytest.raises(ImageWriteError, match="refusing"):                # even when asked to replace it
        export_picture(rgb, src, ExportOptions(), source=load_image(src), replace=True)
    assert export_picture(rgb, src, ExportOptions(), source=load_image(src)) == tmp_path / "in (2).png"


def test_every_output_format_is_offered_and_writable(tmp_path) -> None:
    from colorizer.batch import OUTPUT_FORMATS
    from colorizer.export import FORMATS
    from colorizer.imageio import save_image

    assert tuple(FORMATS) == OUTPUT_FORMATS
    rgb = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    for fmt in OUTPUT_FORMATS:
        out = save_image(tmp_path / f"x.{fmt}", rgb)
        assert out.is_file() and out.stat().st_size > 0
