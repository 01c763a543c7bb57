"""End-to-end checks with the bundled weights on real black-and-white photos."""

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main
from colorizer.color import luma, rgb_to_hue_chroma
from colorizer.pipeline import Colorizer

from conftest import BUNDLED_WEIGHTS, SHARED

CAMERAMAN = SHARED / "data" / "bw-samples" / "skimage-cameraman.png"
pytestmark = pytest.mark.slow


def test_bundled_weights_load_and_colour_a_real_photo():
    colorizer = Colorizer.load(BUNDLED_WEIGHTS, device="cpu")
    gray = np.asarray(Image.open(CAMERAMAN).convert("L"))
    result = colorizer.colorize(gray)
    _, chroma = rgb_to_hue_chroma(result.rgb)
    assert np.percentile(chroma, 90) > 0.05, "the bundled model left the photo gray"
    np.testing.assert_allclose(luma(result.rgb), gray / 255.0, atol=1e-5)


def test_colorize_command_on_bw_samples(tmp_path):
    samples = sorted((SHARED / "data" / "bw-samples").glob("*.*"))
    samples = [p for p in samples if p.suffix.lower() in (".jpg", ".png")]
    out = tmp_path / "out"
    assert main(["colorize", *map(str, samples), "-o", str(out), "-q"]) == 0
    for src in samples:
        gray = np.asarray(Image.open(src).convert("L"), np.float32)
        result = Image.open(out / f"{src.stem}.png")
        assert result.size == (gray.shape[1], gray.shape[0])
        rgb = np.asarray(result.convert("RGB"), np.float32)
        assert np.abs(luma(rgb) - gray).max() <= 0.51  # lightness equals the input up to rounding
