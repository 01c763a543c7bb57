"""The Colorizer: run the network once per photo, then render colour from cached histograms.

``predict`` bounds the working size (longest side ``working_size``), runs the network once and
keeps the per-pixel histograms at about 1/4 of the working size. ``render`` turns those histograms
into a full-resolution image that keeps the input's lightness exactly, plus an uncertainty map;
it never runs the network, so sliders (temperature, gain, fading, biases) are cheap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from colorizer.bins import BinScheme, DecodeOptions, hue_angles, uniform_centers
from colorizer.color import compose_with_luma, gray_to_lightness
from colorizer.weights import LoadedWeights, load_weights

log = logging.getLogger(__name__)
RENDER_CHUNK_PIXELS = 1 << 20
GUIDE_SCALE = 2  # the guided filter's resolution, in multiples of the prediction grid


@dataclass(frozen=True)
class RenderSettings:
    """Everything that turns cached histograms into colour (no network run needed).

    ``hue_bias``/``hue_direction``: resampling bias ``b_k = beta cos(theta_k - phi)`` on the hue
    histogram (``phi`` in turns, 0..1); ``chroma_push``: bias towards more (>0) or less (<0) chroma.
    ``smoothing``: Gaussian sigma, in prediction pixels, applied to the histograms before decoding.
    ``edge_aware``: upsample colour with a guided filter on the lightness, so colour edges follow
    the photo's edges instead of bleeding across them.
    """

    method: str = "median"
    temperature: float = 1.0
    fading_eta: float = 0.02
    chroma_gain: float = 1.0
    hue_bias: float = 0.0
    hue_direction: float = 0.0
    chroma_push: float = 0.0
    smoothing: float = 1.0
    edge_aware: bool = True

    def decode_options(self) -> DecodeOptions:
        return DecodeOptions(method=self.method, temperature=self.temperature, fading_eta=self.fading_eta,
                             chroma_gain=self.chroma_gain)

    def replace(self, **changes) -> "RenderSettings":
        return replace(self, **changes)


@dataclass
class Prediction:
    """Cached network output for one photo.

    ``log_probs``: one (h, w, K) float32 log-histogram map per colour channel (prediction grid);
    ``lightness``: the full-resolution input lightness (H, W) in [0, 1];
    ``small_lightness``: lightness on the prediction grid; ``guide``: lightness at ``GUIDE_SCALE``
    times the grid size, used for edge-aware upsampling.
    """

    log_probs: list[np.ndarray]
    lightness: np.ndarray
    small_lightness: np.ndarray
    scheme: BinScheme
    working_size: tuple[int, int]
    guide: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the full-resolution photo."""
        return self.lightness.shape[0], self.lightness.shape[1]

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.log_probs[0].shape[0], self.log_probs[0].shape[1]


@dataclass
class RenderResult:
    """A rendered colourisation: ``rgb`` (H, W, 3) float32 in [0, 1], ``uncertainty`` (H, W) in [0, 1].

    ``probs`` are the posterior histograms actually decoded, on the prediction grid.
    """

    rgb: np.ndarray
    uncertainty: np.ndarray
    probs: list[np.ndarray] = field(default_factory=list)

    def rgb8(self) -> np.ndarray:
        return np.clip(self.rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when usable; ``cuda`` without a usable GPU falls back to CPU with a warning."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; expected auto, cpu or cuda")
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda" if device == "auto" else device)
    if device != "auto":
        log.warning("CUDA was requested but is not available; using the CPU")
    return torch.device("cpu")


def working_shape(h: int, w: int, working_size: int) -> tuple[int, int]:
    """(h, w) scaled down so the longest side is at most ``working_size`` (never up)."""
    scale = min(1.0, working_size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def softmax_last(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def settings_biases(scheme: BinScheme, settings: RenderSettings) -> list[np.ndarray | None]:
    """Global per-bin log-biases that the resampling sliders ask for (None where none)."""
    biases: list[np.ndarray | None] = [None] * len(scheme.channels)
    if scheme.name != "hue_chroma":
        return biases
    if settings.hue_bias:
        th = hue_angles(scheme.bins)
        biases[0] = (settings.hue_bias * np.cos(th - 2 * np.pi * settings.hue_direction)).astype(np.float32)
    if settings.chroma_push:
        biases[1] = (settings.chroma_push * 4.0 * (uniform_centers(scheme.bins) - 0.5)).astype(np.float32)
    return biases


def posterior(prediction: Prediction, settings: RenderSettings,
              extra_log_bias: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
    """Histograms after the sliders' biases (and any fitted ones), and spatial smoothing."""
    out = []
    slider_biases = settings_biases(prediction.scheme, settings)
    for i, logp in enumerate(prediction.log_probs):
        logits = logp
        for b in (slider_biases[i], None if extra_log_bias is None else extra_log_bias[i]):
            if b is not None:
                logits = logits + b
        p = softmax_last(logits) if logits is not logp else np.exp(logp)
        if settings.smoothing > 0:
            p = smooth_histograms(p, settings.smoothing)
        out.append(p.astype(np.float32, copy=False))
    return out


def smooth_histograms(p: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a (h, w, K) histogram map, per bin (keeps each histogram normalised)."""
    h, w, k = p.shape
    flat = p.reshape(h, w, k)
    chunks = [cv2.GaussianBlur(flat[..., i:i + 256], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
              for i in range(0, k, 256)]
    out = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=-1)
    return out.reshape(h, w, k)


def upsample(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (h, w[, c]) float32 to (H, W)."""
    if img.shape[:2] == size:
        return img
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    k = 2 * radius + 1
    return cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT)


def guided_upsample(offset: np.ndarray, guide: np.ndarray, lightness: np.ndarray,
                    radius: int = 2, eps: float = 2e-3) -> np.ndarray:
    """Fast guided filter (He & Sun 2015): colour ``offset`` (h, w, 3) -> full resolution, following ``lightness``.

    The linear model ``q = a * I + b`` is fitted at the guide's resolution (twice the prediction
    grid, see ``GUIDE_SCALE``; ``radius`` 2 there spans one grid cell), its coefficients are
    upsampled bilinearly and applied to the full-resolution lightness, so edges stay sharp.
    """
    gh, gw = guide.shape
    p = upsample(offset, (gh, gw))
    mean_i = box_mean(guide, radius)[..., None]
    mean_p = box_mean(p, radius)
    cov_ip = box_mean(p * guide[..., None], radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius)[..., None] - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    coeffs = np.concatenate([box_mean(a, radius), box_mean(b, radius)], axis=-1)
    coeffs = upsample(coeffs, lightness.shape[:2])
    return coeffs[..., :3] * lightness[..., None] + coeffs[..., 3:]


def render_probs(prediction: Prediction, probs: list[np.ndarray], settings: RenderSettings) -> RenderResult:
    """Decode given posterior histograms into a full-resolution colour image."""
    offset, uncertainty = prediction.scheme.decode_offset(probs, prediction.small_lightness, settings.decode_options())
    size = prediction.size
    offset = offset.astype(np.float32)
    if settings.edge_aware and prediction.guide is not None:
        offset_full = guided_upsample(offset, prediction.guide, prediction.lightness)
    else:
        offset_full = upsample(offset, size)
    rgb = np.empty(size + (3,), np.float32)
    rows = max(1, RENDER_CHUNK_PIXELS // size[1])
    for r in range(0, size[0], rows):
        rgb[r:r + rows] = compose_with_luma(prediction.lightness[r:r + rows], offset_full[r:r + rows])
    unc = np.clip(upsample(uncertainty.astype(np.float32), size), 0.0, 1.0)
    return RenderResult(rgb=rgb, uncertainty=unc, probs=probs)


class Colorizer:
    """Predict once, render many times. Thin shells (CLI, app) all use this class."""

    def __init__(self, weights: LoadedWeights, device: str = "auto", working_size: int = 512) -> None:
        self.weights = weights
        self.scheme = weights.scheme
        self.device = resolve_device(device)
        self.model = weights.model.to(self.device).eval()
        self.working_size = int(working_size)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto", working_size: int = 512) -> "Colorizer":
        """Load a weights file (default: the bundled one). Raises WeightsError with a clear message."""
        return cls(load_weights(path), device=device, working_size=working_size)

    def predict(self, image: np.ndarray) -> Prediction:
        """Run the network once on a gray (H, W) or colour (H, W, 3) image (uint8/uint16/float [0, 1])."""
        lightness = gray_to_lightness(image)
        return self.predict_batch([lightness])[0]

    @torch.inference_mode()
    def predict_batch(self, lightnesses: Sequence[np.ndarray]) -> list[Prediction]:
        """Predict several lightness images; same-sized working images share one network pass."""
        results: list[Prediction | None] = [None] * len(lightnesses)
        groups: dict[tuple[int, int], list[int]] = {}
        working = []
        lightnesses = [np.asarray(lum, dtype=np.float32) for lum in lightnesses]
        for i, lum in enumerate(lightnesses):
            shape = working_shape(*lum.shape[:2], self.working_size)
            small = lum if shape == lum.shape[:2] else cv2.resize(lum, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
            working.append(small)
            groups.setdefault(shape, []).append(i)
        for shape, idx in groups.items():
            batch = torch.from_numpy(np.stack([working[i] for i in idx])[:, None]).to(self.device)
            outs = self.model.forward_dense(batch)
            grid = outs[0].shape[-2:]
            for j, i in enumerate(idx):
                log_probs = [o[j].permute(1, 2, 0).float().cpu().numpy() for o in outs]
                small_l = cv2.resize(working[i], (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
                gh, gw = min(shape[0], GUIDE_SCALE * grid[0]), min(shape[1], GUIDE_SCALE * grid[1])
                guide = working[i] if (gh, gw) == shape else cv2.resize(working[i], (gw, gh), interpolation=cv2.INTER_AREA)
                results[i] = Prediction(log_probs=log_probs, lightness=lightnesses[i].astype(np.float32, copy=False),
                                        small_lightness=small_l, scheme=self.scheme, working_size=shape,
                                        guide=guide)
        return [r for r in results if r is not None]

    def render(self, prediction: Prediction, settings: RenderSettings | None = None,
               extra_log_bias: Sequence[np.ndarray | None] | None = None) -> RenderResult:
        """Full-resolution colour and uncertainty from cached histograms (no network run)."""
        settings = settings or RenderSettings()
        return render_probs(prediction, posterior(prediction, settings, extra_log_bias), settings)

    def colorize(self, image: np.ndarray, settings: RenderSettings | None = None) -> RenderResult:
        """``predict`` then ``render``."""
        return self.render(self.predict(image), settings)
