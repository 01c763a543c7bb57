"""Weights files: safetensors tensors + a JSON config + a SHA-256 checksum. Never pickle.

The safetensors header metadata holds:
- ``format``: ``colorizer-weights``; ``format_version``: an integer as text;
- ``config``: JSON with ``model`` (ModelConfig), ``scheme`` (BinScheme), ``training`` (provenance),
  ``render_defaults`` (flat render settings this model is shown with unless the user sets them; empty for
  most models, chosen on the user's photos by ``colorizer finetune``), ``colorizer_version``;
- ``sha256``: digest of all tensors (name, dtype, shape, bytes, in name order).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from colorizer import __version__
from colorizer.atomic import atomic_write
from colorizer.bins import BinScheme
from colorizer.model import HypercolumnColorizer, ModelConfig

FORMAT = "colorizer-weights"
FORMAT_VERSION = 1
DEFAULT_WEIGHTS_NAME = "colorizer.safetensors"


class WeightsError(RuntimeError):
    """A weights file is missing, damaged, or does not fit this program."""


@dataclass
class LoadedWeights:
    model: HypercolumnColorizer
    scheme: BinScheme
    training: dict = field(default_factory=dict)
    path: Path | None = None
    render_defaults: dict = field(default_factory=dict)  # checked by pipeline.Colorizer (RenderSettings.from_dict)


def default_weights_path() -> Path:
    """The bundled weights: ``$COLORIZER_WEIGHTS`` if set, else ``models/`` beside the package."""
    env = os.environ.get("COLORIZER_WEIGHTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models" / DEFAULT_WEIGHTS_NAME


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous().cpu()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_weights(path: str | Path, model: HypercolumnColorizer, scheme: BinScheme, training: dict | None = None,
                 half: bool = True, render_defaults: dict | None = None) -> Path:
    """Write ``model`` atomically; float parameters are stored as fp16 when ``half`` (BN statistics stay fp32).
    ``render_defaults``: flat render settings the model is shown with by default (see the module docstring)."""
    path = Path(path)
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        if half and t.is_floating_point() and "running_" not in name:
            t = t.half()
        tensors[name] = t.clone()
    config = {"model": model.config.to_dict(), "scheme": scheme.to_dict(), "training": training or {},
              "colorizer_version": __version__}
    if render_defaults:
        config["render_defaults"] = dict(render_defaults)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": json.dumps(config),
                "sha256": tensors_digest(tensors)}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def read_metadata(path: str | Path) -> dict:
    """The parsed config of a weights file, after checking that it is one."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise WeightsError(f"{path}: not a weights file (too short)")
            header_len = int.from_bytes(head, "little")
            if header_len <= 0 or header_len > 100_000_000 or header_len + 8 > path.stat().st_size:
                raise WeightsError(f"{path}: not a safetensors weights file or truncated")
            header = json.loads(fh.read(header_len))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: damaged weights header ({exc})") from exc
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: safetensors file without colouriser metadata (is it a weights file of this program?)")
    try:
        version = int(meta.get("format_version", "0"))
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: damaged format version in weights metadata") from exc
    if version > FORMAT_VERSION:
        raise WeightsError(f"{path}: written by a newer colorizer (format {version}); please upgrade")
    try:
        config = json.loads(meta["config"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: missing or damaged config in weights metadata") from exc
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or not isinstance(config.get("scheme"), dict):
        raise WeightsError(f"{path}: missing or damaged config in weights metadata")
    if not isinstance(config.get("render_defaults", {}), dict):
        raise WeightsError(f"{path}: damaged render defaults in weights metadata")
    config["sha256"] = meta.get("sha256", "")
    return config


def load_weights(path: str | Path | None = None) -> LoadedWeights:
    """Load and verify a weights file; raises :class:`WeightsError` with a clear message on any problem."""
    path = Path(path) if path is not None else default_weights_path()
    config = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read tensors ({exc}); the file may be truncated") from exc
    if tensors_digest(tensors) != config["sha256"]:
        raise WeightsError(f"{path}: checksum mismatch: the file is damaged or was modified")
    try:
        model_config = ModelConfig(**config["model"])
        scheme = BinScheme(**config["scheme"])
    except (TypeError, ValueError, KeyError) as exc:
        raise WeightsError(f"{path}: unsupported model configuration ({exc})") from exc
    if tuple(model_config.channel_sizes) != scheme.channel_sizes:
        raise WeightsError(f"{path}: model outputs {model_config.channel_sizes} do not match colour scheme {scheme.name}")
    model = HypercolumnColorizer(model_config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise WeightsError(f"{path}: tensors do not match the model architecture ({first})") from exc
    model.eval()
    return LoadedWeights(model=model, scheme=scheme, training=config.get("training", {}), path=path,
                         render_defaults=config.get("render_defaults", {}))
