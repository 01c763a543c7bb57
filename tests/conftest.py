"""Shared fixtures: tiny random networks and small images keep the suite fast."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

from colorizer.bins import BinScheme
from colorizer.model import ModelConfig, build_model
from colorizer.pipeline import Colorizer
from colorizer.weights import save_weights

torch.set_num_threads(2)
REPO = Path(__file__).resolve().parent.parent
BUNDLED_WEIGHTS = REPO / "models" / "colorizer.safetensors"
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random hue/chroma model with a small head, saved as a weights file."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=16), pretrained=False)
    return save_weights(tmp_path_factory.mktemp("weights") / "tiny.safetensors", model, BinScheme(),
                        training={"note": "random test model"})


@pytest.fixture
def tiny_colorizer(tiny_weights: Path) -> Colorizer:
    return Colorizer.load(tiny_weights, device="cpu", working_size=64)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
