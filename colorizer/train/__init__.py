"""Training and evaluation of colourisers (no Qt imports)."""

from colorizer.train.trainer import TrainConfig, TrainResult, histogram_loss, train

__all__ = ["TrainConfig", "TrainResult", "histogram_loss", "train"]
