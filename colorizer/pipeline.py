"""The Colorizer: run the network once per photo, then render colour from cached histograms.

``predict`` bounds the working size (longest side ``working_size``), runs the network once and
keeps the per-pixel histograms at about 1/4 of the working size. ``render`` turns those histograms
into a full-resolution image that keeps the input's lightness exactly, plus an uncertainty map;
it never runs the network, so sliders (temperature, gain, fading, biases) are cheap.
"""

from __future__ import annotations

import logging
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from colorizer.bins import BinScheme, hue_angles, softmax_last, uniform_centers
from colorizer.cast import mean_cast, remove_cast
from colorizer.color import gray_to_lightness
from colorizer.regions import pool_regions, segment_grid
from colorizer.render_settings import RenderSettings
from colorizer.strips import RenderResult, StripRender, is_streamed
from colorizer.weights import LoadedWeights, WeightsError, load_weights

log = logging.getLogger(__name__)
GUIDE_SCALE = 2  # the guided filter's resolution, in multiples of the prediction grid
WORKING_SIZE = 512  # default longest side the network sees (the bundled model was chosen at this size)


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
    regions: np.ndarray | None = None

    def region_labels(self) -> np.ndarray:
        """Region labels on the prediction grid (segmented once, on first use, from the guide)."""
        if self.regions is None or self.regions.shape != self.grid_size:
            source = self.guide if self.guide is not None else self.small_lightness
            self.regions = segment_grid(source, self.grid_size)
        return self.regions

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the full-resolution photo."""
        return self.lightness.shape[0], self.lightness.shape[1]

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.log_probs[0].shape[0], self.log_probs[0].shape[1]


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
    if settings.region_pooling > 0:
        scheme = prediction.scheme
        centres = scheme.centers("chroma") if "chroma" in scheme.channels else None
        out = pool_regions(out, prediction.region_labels(), settings.region_pooling, scheme.channels, centres)
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


def guided_coefficients(offset: np.ndarray, guide: np.ndarray, radius: int = 2, eps: float = 2e-3) -> np.ndarray:
    """The fast guided filter's (He & Sun 2015) linear model at the guide's resolution: (g_h, g_w, 6),
    ``a`` then ``b`` per colour channel, so that ``offset ~ a * lightness + b`` (box-averaged)."""
    gh, gw = guide.shape
    p = upsample(offset, (gh, gw))
    mean_i = box_mean(guide, radius)[..., None]
    mean_p = box_mean(p, radius)
    cov_ip = box_mean(p * guide[..., None], radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius)[..., None] - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return np.concatenate([box_mean(a, radius), box_mean(b, radius)], axis=-1)


def guided_upsample(offset: np.ndarray, guide: np.ndarray, lightness: np.ndarray,
                    radius: int = 2, eps: float = 2e-3) -> np.ndarray:
    """Fast guided filter (He & Sun 2015): colour ``offset`` (h, w, 3) -> full resolution, following ``lightness``.

    The linear model ``q = a * I + b`` is fitted at the guide's resolution (twice the prediction
    grid, see ``GUIDE_SCALE``; ``radius`` 2 there spans one grid cell), its coefficients are
    upsampled bilinearly and applied to the full-resolution lightness (strip by strip), so edges stay sharp.
    """
    strips = StripRender(lightness, coeffs=guided_coefficients(offset, guide, radius, eps))
    return strips.full(strips.offset_rows, 3)


def picture_cast(prediction: Prediction, probs: list[np.ndarray], settings: RenderSettings) -> np.ndarray:
    """The overall tint (3,) of the picture that ``probs`` decode to (mean zero-luma offset on the grid)."""
    return mean_cast(prediction.scheme.decode_offset(probs, prediction.small_lightness, settings.decode)[0])


def model_cast(prediction: Prediction, settings: RenderSettings) -> np.ndarray:
    """The overall tint of the model's own colours: the picture without slider or fitted biases. This is
    what cast removal takes a share of, so it never undoes a colour the user asked for."""
    return picture_cast(prediction, posterior(prediction, settings.unbiased()), settings)


def needs_model_cast(settings: RenderSettings, fitted_biases: bool) -> bool:
    """Whether a render must be given :func:`model_cast`: a cast is removed and the histograms carry
    biases (``fitted_biases``: reference, hints, a sample; or the sliders'). Otherwise the picture's own
    tint is the model's, and :func:`render_probs` measures it for free."""
    return settings.cast_removal > 0 and (fitted_biases or settings.unbiased() != settings)


def render_probs(prediction: Prediction, probs: list[np.ndarray], settings: RenderSettings,
                 cast: np.ndarray | None = None, spared: np.ndarray | None = None) -> RenderResult:
    """Decode given posterior histograms into a full-resolution colour image.

    With ``settings.cast_removal`` that share of ``cast`` (:func:`model_cast`; needed whenever ``probs``
    carry biases) is taken from every pixel, less where ``spared`` (grid weights in [0, 1]: hinted
    colours) says; without ``cast``, the tint of ``probs``' own picture.

    Only small maps are computed here (colour and uncertainty on the prediction grid, the guided
    filter's coefficients); full resolution is made strip by strip (:class:`colorizer.strips.StripRender`),
    now, or when read inside :func:`streamed_render`.
    """
    offset, uncertainty = prediction.scheme.decode_offset(probs, prediction.small_lightness, settings.decode)
    offset = offset.astype(np.float32)
    if settings.cast_removal > 0:
        offset = remove_cast(offset, mean_cast(offset) if cast is None else cast, settings.cast_removal, spared)
    strips = StripRender(prediction.lightness, uncertainty.astype(np.float32))
    if settings.edge_aware and prediction.guide is not None:
        strips.coeffs = guided_coefficients(offset, prediction.guide)
    else:
        strips.offset = offset
    result = RenderResult(probs=probs, strips=strips)
    return result if is_streamed() else result.whole()


def preview_prediction(prediction: Prediction, max_side: int = 512, grid_side: int | None = 160) -> Prediction:
    """A lighter copy of ``prediction`` for slider previews (compute once, render many times).

    The output is at most ``max_side`` on its longest side; with ``grid_side`` the histograms are also
    area-averaged down to at most that many cells per side (probabilities averaged, then logged).
    Biases fitted on the full prediction apply unchanged; per-pixel (hint) maps must be resized.
    """
    changes: dict = {}
    nh, nw = working_shape(*prediction.size, max_side)
    if (nh, nw) != prediction.size:
        changes["lightness"] = cv2.resize(prediction.lightness, (nw, nh), interpolation=cv2.INTER_AREA)
    gh, gw = prediction.grid_size
    gscale = 1.0 if grid_side is None else min(1.0, grid_side / max(gh, gw))
    if gscale < 1.0:
        gsize = (max(1, round(gw * gscale)), max(1, round(gh * gscale)))
        changes["log_probs"] = [np.log(np.maximum(_resize_stack(np.exp(lp), gsize), 1e-30)).astype(np.float32)
                                for lp in prediction.log_probs]
        changes["small_lightness"] = cv2.resize(prediction.small_lightness, gsize, interpolation=cv2.INTER_AREA)
        if prediction.guide is not None:  # keep the guide at GUIDE_SCALE x the (smaller) grid
            guide_size = (GUIDE_SCALE * gsize[0], GUIDE_SCALE * gsize[1])
            changes["guide"] = cv2.resize(prediction.guide, guide_size, interpolation=cv2.INTER_AREA)
    return dataclasses.replace(prediction, **changes) if changes else prediction


def _resize_stack(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """INTER_AREA resize of an (h, w, K) stack (OpenCV's area resize takes at most 4 channels at a time)."""
    parts = [cv2.resize(np.ascontiguousarray(x[..., i:i + 4]), size, interpolation=cv2.INTER_AREA)
             for i in range(0, x.shape[-1], 4)]
    parts = [p[..., None] if p.ndim == 2 else p for p in parts]
    return np.concatenate(parts, axis=-1)


def working_image(lightness: np.ndarray, working_size: int) -> np.ndarray:
    """The lightness the network sees: reduced (area filter) so the longest side is at most ``working_size``."""
    shape = working_shape(*lightness.shape[:2], working_size)
    if shape == lightness.shape[:2]:
        return lightness
    return cv2.resize(lightness, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def make_prediction(log_probs: list[np.ndarray], lightness: np.ndarray, working: np.ndarray,
                    scheme: BinScheme) -> Prediction:
    """A Prediction from the network's (h, w, K) log-histograms, the full-resolution lightness and
    the working image the network saw (for the small lightness and the guided filter's guide)."""
    grid = log_probs[0].shape[:2]
    shape = working.shape[:2]
    small_l = cv2.resize(working, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    gh, gw = min(shape[0], GUIDE_SCALE * grid[0]), min(shape[1], GUIDE_SCALE * grid[1])
    guide = working if (gh, gw) == shape else cv2.resize(working, (gw, gh), interpolation=cv2.INTER_AREA)
    return Prediction(log_probs=log_probs, lightness=lightness.astype(np.float32, copy=False), small_lightness=small_l,
                      scheme=scheme, working_size=shape, guide=guide)


def model_default_settings(weights: LoadedWeights) -> RenderSettings:
    """``RenderSettings()`` with the weights' ``render_defaults`` applied; WeightsError if they are damaged."""
    try:
        return RenderSettings.from_dict(weights.render_defaults)
    except ValueError as exc:
        raise WeightsError(f"{weights.path or 'weights'}: damaged render defaults ({exc})") from None


class Colorizer:
    """Predict once, render many times. Thin shells (CLI, app) all use this class.

    ``default_settings``: what this model's pictures are rendered with unless the user sets something:
    ``RenderSettings()`` with the weights file's ``render_defaults`` (a fine-tuned model's look) applied."""

    def __init__(self, weights: LoadedWeights, device: str = "auto", working_size: int = WORKING_SIZE) -> None:
        self.weights = weights
        self.default_settings = model_default_settings(weights)
        self.scheme = weights.scheme
        self.device = resolve_device(device)
        self.model = weights.model.to(self.device).eval()
        self.working_size = int(working_size)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto",
             working_size: int = WORKING_SIZE) -> "Colorizer":
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
        lightnesses = [np.asarray(lum, dtype=np.float32) for lum in lightnesses]
        working = [working_image(lum, self.working_size) for lum in lightnesses]
        for i, small in enumerate(working):
            groups.setdefault(small.shape[:2], []).append(i)
        for shape, idx in groups.items():
            batch = torch.from_numpy(np.stack([working[i] for i in idx])[:, None]).to(self.device)
            outs = self.model.forward_dense(batch)
            for j, i in enumerate(idx):
                log_probs = [o[j].permute(1, 2, 0).float().cpu().numpy() for o in outs]
                results[i] = make_prediction(log_probs, lightnesses[i], working[i], self.scheme)
        return [r for r in results if r is not None]

    def render(self, prediction: Prediction, settings: RenderSettings | None = None,
               extra_log_bias: Sequence[np.ndarray | None] | None = None) -> RenderResult:
        """Full-resolution colour and uncertainty from cached histograms (no network run); ``settings``
        default to the model's own (``default_settings``)."""
        settings = settings or self.default_settings
        fitted = extra_log_bias is not None and any(b is not None for b in extra_log_bias)
        cast = model_cast(prediction, settings) if needs_model_cast(settings, fitted) else None
        return render_probs(prediction, posterior(prediction, settings, extra_log_bias), settings, cast)

    def colorize(self, image: np.ndarray, settings: RenderSettings | None = None) -> RenderResult:
        """``predict`` then ``render``."""
        return self.render(self.predict(image), settings)
