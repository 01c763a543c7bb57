"""Training configuration (every choice of a run, stored in checkpoints and in the weights'
provenance) and the photo lists it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from colorizer.limits import check_number
from colorizer.model import DEFAULT_LAYERS
from colorizer.train.augment import BACKGROUNDS, AugmentConfig
from colorizer.train.data import find_images, read_manifest
from colorizer.train.degrade import OldPrintConfig


SCHEMES = ("hue_chroma", "lab_marginal", "lab_joint")
HEAD_SCOPES = ("all", "classifier")
# whole-number options -> (low, high); OPTIONAL ones may also be None
INT_LIMITS = {"bins": (2, 1024), "window": (1, 255), "positions": (1, 1_000_000), "hidden": (1, 65536),
              "members": (1, 256), "augs_per_image": (1, 10_000), "epochs": (1, 1_000_000), "steps": (1, 10 ** 9),
              "batch_size": (1, 65536), "pixel_batch": (1, 10 ** 8), "min_size": (16, 8192), "max_size": (16, 8192),
              "seed": (0, 2 ** 63 - 1), "checkpoint_every": (1, 10 ** 9), "workers": (0, 1024),
              "threads": (1, 4096), "robust_steps": (0, 10 ** 9)}
OPTIONAL = {"steps", "threads"}
# real-valued options -> (low, high, strictly above low)
FLOAT_LIMITS = {"lr": (0, 10, False), "weight_decay": (0, 100, False), "warmup": (0, 1, False),
                "lambda_hue": (0, 1000, False), "l2sp": (0, 1e6, False), "dropout": (0, 0.99, False),
                "rotate": (0, 180, False), "gray_threshold": (0, 1, False)}


def option_name(field_name: str) -> str:
    """The command-line option of a TrainConfig field (``pixel_batch`` -> ``--pixel-batch``)."""
    return "-o" if field_name == "out" else "--" + field_name.replace("_", "-")


@dataclass
class TrainConfig:
    """Everything a training run needs; stored in checkpoints and (in part) in the weights' provenance.

    The defaults are the bundled model's recipe (EfficientNet-Lite1, 8 crops per photo, 600 steps),
    chosen on cross-validation grouped by source package (``colorizer eval --cv``, models/MODEL_CARD.md)."""

    out: str = "runs/colorizer.safetensors"
    run_dir: str = "runs/train"
    cache_dir: str | None = None
    data: list[str] = field(default_factory=list)
    manifest: str | None = None
    split: str = "train"
    exclude_sources: tuple[str, ...] = ()
    val_data: list[str] = field(default_factory=list)
    val_split: str | None = None
    scheme: str = "hue_chroma"
    bins: int = 32
    window: int = 7
    positions: int = 256
    backbone: str = "lite1"
    layers: tuple[str, ...] = DEFAULT_LAYERS
    hidden: int = 256
    members: int = 1
    global_features: bool = False
    input_levels: bool = False
    freeze: str = "all"
    head_scope: str = "all"  # which head parts learn: all, or only the classifiers (small fine-tunes)
    cache_features: bool | None = None
    augs_per_image: int = 8
    epochs: int = 8
    steps: int | None = 600  # chosen on grouped cross-validation (None: --epochs decides)
    batch_size: int = 8
    pixel_batch: int = 4096
    lr: float = 1e-3
    weight_decay: float = 0.05
    schedule: str = "cosine"
    warmup: float = 0.03
    lambda_hue: float = 5.0
    l2sp: float = 0.0
    dropout: float = 0.6
    keep_best: bool = True
    min_size: int = 224
    max_size: int = 320
    rotate: float = 8.0
    background: str = "flat"
    old_print: float = 0.0
    robust_steps: int = 600  # old-print robustness phase after the head (colorizer.train.robust_backbone); 0: none
    gray_threshold: float = 0.03
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 200
    save_at: tuple[int, ...] = ()
    resume: bool = False
    init: str | None = None
    workers: int = 0
    threads: int | None = None
    pretrained: bool = True
    final_eval: bool = True
    quiet: bool = False

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        self.exclude_sources = tuple(self.exclude_sources)
        self.save_at = tuple(int(s) for s in self.save_at)
        if self.background not in BACKGROUNDS:
            raise ValueError(f"--background must be one of {', '.join(BACKGROUNDS)}, not {self.background!r}")
        if not 0.0 <= self.old_print <= 1.0:
            raise ValueError(f"--old-print is a share of crops in [0, 1], not {self.old_print}")
        if self.freeze not in ("all", "partial", "none"):
            raise ValueError(f"--freeze must be all, partial or none, not {self.freeze!r}")
        if self.head_scope not in HEAD_SCOPES:
            raise ValueError(f"--head-scope must be one of {', '.join(HEAD_SCOPES)}, not {self.head_scope!r}")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            raise ValueError(f"--schedule must be cosine, onecycle or constant, not {self.schedule!r}")
        if self.cache_features and self.freeze != "all":
            raise ValueError("--cache-features needs a frozen backbone (--freeze all)")
        self._check_numbers()

    def _check_numbers(self) -> None:
        """Every number finite and in range (ValueError naming the option), so no run starts that would
        fail later, train nothing (``--steps -3``) or end in NaN."""
        for name, (low, high) in INT_LIMITS.items():
            value = getattr(self, name)
            if value is not None or name not in OPTIONAL:
                check_number(option_name(name), value, low, high, integer=True)
        for name, (low, high, above) in FLOAT_LIMITS.items():
            check_number(option_name(name), getattr(self, name), low, high, above=above)
        if self.max_size < self.min_size:
            raise ValueError(f"--max-size ({self.max_size}) must be at least --min-size ({self.min_size})")
        for step in self.save_at:
            check_number("--save-at", step, 1, None, integer=True)
        if self.scheme not in SCHEMES:
            raise ValueError(f"--scheme must be one of {', '.join(SCHEMES)}, not {self.scheme!r}")
        if not self.layers:
            raise ValueError("--layers must name at least one layer")

    @property
    def use_cache(self) -> bool:
        return self.freeze == "all" if self.cache_features is None else bool(self.cache_features)

    def augment_config(self) -> AugmentConfig:
        """The training augmentation this config asks for."""
        old_print = OldPrintConfig(probability=self.old_print) if self.old_print > 0 else None
        return AugmentConfig(min_size=self.min_size, max_size=self.max_size, rotate=self.rotate,
                             background=self.background, old_print=old_print)


def training_paths(cfg: TrainConfig) -> list[Path]:
    paths: list[Path] = []
    if cfg.manifest:
        paths += read_manifest(cfg.manifest, cfg.split, cfg.exclude_sources)
    if cfg.data:
        paths += find_images(cfg.data)
    if not paths:
        raise ValueError("no training images: give --data FOLDER... or --manifest MANIFEST.tsv")
    return paths


def validation_paths(cfg: TrainConfig) -> list[Path]:
    paths: list[Path] = []
    if cfg.manifest and cfg.val_split:
        paths += read_manifest(cfg.manifest, cfg.val_split)
    if cfg.val_data:
        paths += find_images(cfg.val_data)
    return paths


def check_disjoint(train: list[Path], val: list[Path]) -> None:
    """Refuse to train on validation images (e.g. ``--data corpus/`` together with ``--val-split val``)."""
    overlap = {p.resolve() for p in train} & {p.resolve() for p in val}
    if overlap:
        example = sorted(overlap)[0]
        raise ValueError(f"{len(overlap)} validation images are also in the training data (e.g. {example}); "
                         "train on a folder or split that excludes them")
