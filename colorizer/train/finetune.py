""""Teach it your colours": fine-tune a colouriser on a user's own colour photos, in minutes.

One call, :func:`finetune`, does everything, and an app's worker thread can drive it (progress with an
ETA per phase, cancel or finish early through a :class:`FinetuneControl`):

1. find and screen the photos (unreadable, duplicate, tiny, transparent and near-gray ones are
   skipped and counted) and hold out a seeded tenth of the usable ones (at least 2);
2. train the head only, on cached backbone features with the augmentations recorded in the start
   model's recipe, pulled towards the start weights (L2-SP, no weight decay), keeping the step with
   the lowest loss on the held-out photos (early stopping); Ctrl+C or "finish now" keeps the best so far;
3. choose the new model's look on the training photos (:mod:`colorizer.train.finetune_look`: how much of
   the overall tint to take away, never more than the start model does);
4. compare the start and the new model, each with its own look, on the held-out photos (PSNR, ab RMSE),
   and write the new weights (atomically, provenance and look in the header) only when they are better there.

Any weights file can be the start (ensembles of heads and global scene features included).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from colorizer.pipeline import WORKING_SIZE, Colorizer
from colorizer.train.config import TrainConfig
from colorizer.train.finetune_data import (Screening, collect_photos, holdout_count, photos_digest, screen_photos,
                                           split_holdout)
from colorizer.train.finetune_look import choose_look
from colorizer.weights import LoadedWeights, default_weights_path, load_weights, read_metadata, save_weights

# The phases a fine-tune goes through, in order (``FinetuneProgress.phase``).
PHASES = ("checking photos", "reading photos", "caching features", "training", "choosing look", "comparing")
# Recipe fields taken from the start model's training record: what its training photos looked like.
INHERITED = ("window", "positions", "min_size", "max_size", "rotate", "background", "old_print", "lambda_hue",
             "dropout", "gray_threshold")


class FinetuneError(ValueError):
    """The fine-tune cannot run (no usable photos, a bad output path); the message is one line."""


class FinetuneCancelled(RuntimeError):
    """The fine-tune was cancelled; nothing was written."""


@dataclass
class FinetuneConfig:
    """How a fine-tune runs; the defaults need no tuning. They were chosen on ``benchmarks/bench_finetune.py``
    (30 photos of one corpus package, starting from a model that never saw the package; see
    ``benchmarks/results/finetune_tuning.md``): a start model is already converged, so the learning rate
    is a third of a training run's peak (1e-3 lost ground on the held-out photos within 15 steps); the
    L2-SP pull of 1.0 kept more of the gain on the package's other photos than 0.01 or 0.1 for less
    loss on split=val than 10; 16 crops per photo did a little better than the bundled recipe's 8 (and
    than 4 crops with 4x the pixels); the best step is nearly always within the first 50."""

    steps: int = 150  # training steps (the best one on the held-out photos is kept)
    lr: float = 3e-4
    l2sp: float = 1.0  # pull towards the start weights (L2-SP): keeps what the start model knew
    augs_per_image: int = 16  # augmented crops cached per photo
    pixel_batch: int = 4096  # pixels per step
    head_scope: str = "all"  # which head parts learn (``TrainConfig.head_scope``)
    check_every: int = 25  # steps between held-out checks (also at each pass over the photos)
    holdout_share: float = 0.1
    min_holdout: int = 2
    min_train: int = 2
    min_side: int = 128  # photos whose shorter side is smaller are skipped as tiny
    min_gain_db: float = 0.0  # write only if held-out PSNR improves by more than this
    choose_look: bool = True  # choose the tint removal on the training photos (finetune_look); False keeps the start's
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    working_size: int = WORKING_SIZE  # of the held-out comparison (as ``colorizer eval``)
    cache_dir: str | None = None  # backbone features (None: a temporary folder, removed afterwards)
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields applied last (experts, tests)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.pixel_batch < 1 or self.augs_per_image < 1 or self.check_every < 1:
            raise FinetuneError("steps, pixel_batch, augs_per_image and check_every must be at least 1")
        if not 0.0 < self.holdout_share < 1.0 or self.min_holdout < 1 or self.min_train < 1:
            raise FinetuneError("holdout_share must lie in (0, 1), min_holdout and min_train must be at least 1")
        if self.lr < 0 or self.l2sp < 0:
            raise FinetuneError("lr and l2sp must not be negative")
        unknown = sorted(set(self.overrides) - {f.name for f in fields(TrainConfig)})
        if unknown:
            raise FinetuneError(f"unknown training settings in overrides: {', '.join(unknown)}")


@dataclass(frozen=True)
class FinetuneProgress:
    """One progress report: phase ``index`` (1-based) of ``len(PHASES)``, ``done`` of ``total`` in it,
    seconds since the start, and the estimated seconds left in this phase (None until known)."""

    phase: str
    index: int
    done: int
    total: int
    elapsed_seconds: float
    eta_seconds: float | None


ProgressCallback = Callable[[FinetuneProgress], None]


class FinetuneControl:
    """Stop requests from another thread: :meth:`cancel` (stop, write nothing) or :meth:`finish_now`
    (stop training, keep the best state so far, still compare and write if better)."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._finish = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def finish_now(self) -> None:
        self._finish.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def finishing(self) -> bool:
        return self._finish.is_set()


@dataclass
class FinetuneResult:
    """What a fine-tune did. ``written`` is the weights file, or None with the reason in ``refused``.
    ``start``/``new``/``gray`` hold ``psnr`` and ``ab_rmse`` on the held-out photos; ``model`` is the
    new model in memory (also when refused, e.g. to show it beside the start model)."""

    written: Path | None
    refused: str | None
    photos: int
    held_out: int
    skipped: dict[str, int]
    start: dict[str, float]
    new: dict[str, float]
    gray: dict[str, float]
    steps: int
    best_step: int
    seconds: float
    interrupted: bool
    start_model: str
    look: dict[str, Any] = field(default_factory=dict)  # finetune_look.LookChoice.to_json() (empty: not chosen)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per phase (approximate)
    model: LoadedWeights | None = field(default=None, repr=False)
    skipped_files: list[tuple[str, str, str]] = field(default_factory=list, repr=False)  # (reason, path, detail)

    @property
    def psnr_gain(self) -> float:
        return round(self.new["psnr"] - self.start["psnr"], 3)

    def to_json(self) -> dict:
        """The result as JSON-ready values (without the in-memory model)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("model", "skipped_files")}
        out["written"] = None if self.written is None else str(self.written)
        out["psnr_gain"] = self.psnr_gain
        return out


class _Reporter:
    """Turns (phase, done, total) into :class:`FinetuneProgress` with a per-phase ETA, and asks the
    control whether to go on."""

    def __init__(self, callback: ProgressCallback | None, control: FinetuneControl | None) -> None:
        self.callback, self.control = callback, control
        self.t0 = time.monotonic()
        self.phase, self.phase_t0, self.phase_done0 = "", self.t0, 0
        self.seconds: dict[str, float] = {}  # wall seconds from each phase's first report to the next phase's

    def __call__(self, phase: str, done: int, total: int) -> bool:
        now = time.monotonic()
        if phase != self.phase:
            self.close_phase(now)
            self.phase, self.phase_t0, self.phase_done0 = phase, now, done
        eta = None
        if done > self.phase_done0 and now > self.phase_t0:
            eta = (now - self.phase_t0) / (done - self.phase_done0) * max(total - done, 0)
        if self.callback is not None:
            index = PHASES.index(phase) + 1 if phase in PHASES else 0
            self.callback(FinetuneProgress(phase, index, done, total, round(now - self.t0, 1),
                                           None if eta is None else round(eta, 1)))
        return not self.stopping

    def close_phase(self, now: float | None = None) -> None:
        """Add the time since the current phase began to its total."""
        now = time.monotonic() if now is None else now
        if self.phase:
            self.seconds[self.phase] = round(self.seconds.get(self.phase, 0.0) + now - self.phase_t0, 1)
            self.phase_t0 = now

    @property
    def stopping(self) -> bool:
        return self.control is not None and (self.control.cancelled or self.control.finishing)

    def check_cancelled(self) -> None:
        if self.control is not None and self.control.cancelled:
            raise FinetuneCancelled("fine-tuning cancelled; nothing was written")


def start_recipe(meta: dict) -> dict[str, Any]:
    """TrainConfig fields that follow the start model: its architecture and the augmentations of its recipe."""
    recipe = meta.get("training", {}).get("recipe") or {}
    model, scheme = meta["model"], meta["scheme"]
    out: dict[str, Any] = {k: recipe[k] for k in INHERITED if k in recipe and recipe[k] is not None}
    out.update(backbone=model["backbone"], layers=tuple(model["layers"]), hidden=model["hidden"],
               members=model.get("members", 1), global_features=model.get("global_features", False),
               scheme=scheme.get("name", "hue_chroma"), bins=scheme.get("bins", 32))
    return out


def training_config(config: FinetuneConfig, meta: dict, init: Path, train_paths: Sequence[Path],
                    held_paths: Sequence[Path], work: Path) -> TrainConfig:
    """The trainer's settings for this fine-tune (head only, feature cache, L2-SP, early stopping)."""
    settings: dict[str, Any] = dict(
        start_recipe(meta), out=str(work / "trained.safetensors"), run_dir=str(work / "run"),
        cache_dir=config.cache_dir or str(work / "cache"), data=[str(p) for p in train_paths],
        val_data=[str(p) for p in held_paths], init=str(init), freeze="all", cache_features=True,
        augs_per_image=config.augs_per_image, steps=config.steps, pixel_batch=config.pixel_batch, lr=config.lr,
        weight_decay=0.0, l2sp=config.l2sp, head_scope=config.head_scope, keep_best=True,
        checkpoint_every=config.check_every, seed=config.seed, robust_steps=0,  # the start's backbone stays
        device=config.device, threads=config.threads, final_eval=False, quiet=True)
    settings.update(config.overrides)
    return TrainConfig(**settings)


def held_out_figures(start: Colorizer, new: Colorizer, paths: Sequence[Path],
                     report: _Reporter) -> tuple[dict, dict, dict]:
    """(start, new, gray) PSNR and ab RMSE on the held-out photos, each model rendered with its own look,
    as ``colorizer eval`` does."""
    from colorizer.train.metrics import evaluate

    figures = []
    for n, colorizer in enumerate((start, new)):
        report("comparing", n, 2)
        figures.append(evaluate(colorizer, list(paths)))
    report("comparing", 2, 2)
    pick = ("psnr", "ab_rmse")
    return ({k: figures[0]["model"][k] for k in pick}, {k: figures[1]["model"][k] for k in pick},
            {k: figures[0]["gray"][k] for k in pick})


def public_record(record: dict, init: Path) -> dict:
    """The trainer's record without the user's file names and temporary paths (the weights may be shared)."""
    record = dict(record)
    recipe = dict(record.get("recipe") or {})
    for key in ("data", "val_data"):
        recipe[key] = []
    for key in ("out", "run_dir", "cache_dir"):
        recipe.pop(key, None)
    recipe["init"] = init.name
    record["recipe"] = recipe
    record["init"] = init.name
    record["data"] = {**(record.get("data") or {}), "folders": []}
    return record


def check_photos(photos: Sequence[str | Path], init: str | Path | None = None, config: FinetuneConfig | None = None,
                 report: Callable[[int, int], None] | None = None) -> Screening:
    """Find the photos (files and folders) and screen them as :func:`finetune` will (the app shows
    how many are usable before it starts). ``report(done, total)`` follows each photo."""
    config = config or FinetuneConfig()
    meta = read_metadata(Path(init) if init is not None else default_weights_path())
    gray_threshold = float(start_recipe(meta).get("gray_threshold", TrainConfig.gray_threshold))
    return screen_photos(collect_photos(photos), config.min_side, gray_threshold, report=report)


def finetune(photos: Sequence[str | Path], out: str | Path, init: str | Path | None = None,
             config: FinetuneConfig | None = None, progress: ProgressCallback | None = None,
             control: FinetuneControl | None = None) -> FinetuneResult:
    """Fine-tune the start model (``init``, default the bundled one) on the colour photos in ``photos``
    (files and folders) and write the new weights to ``out`` if they beat the start on the held-out photos.

    Returns a :class:`FinetuneResult` (``written`` None and ``refused`` set when not better). Raises
    :class:`FinetuneError` (nothing usable, bad paths), :class:`colorizer.weights.WeightsError` (bad
    ``init``), :class:`FinetuneCancelled` (``control.cancel()``); Ctrl+C during training keeps the best
    state so far, like ``control.finish_now()``.
    """
    from colorizer.train.trainer import TrainingCancelled, train

    config = config or FinetuneConfig()
    report = _Reporter(progress, control)
    init_path = Path(init) if init is not None else default_weights_path()
    meta = read_metadata(init_path)
    out = Path(out)
    check_output(out, init_path)
    screening = check_photos(photos, init_path, config,
                             report=lambda done, total: _go_on(report("checking photos", done, total)))
    if any(p.resolve() == out.resolve() for p in screening.usable):
        raise FinetuneError(f"{out}: is one of the photos; choose another output file")
    train_idx, held_idx = _split(screening, config)
    report.check_cancelled()
    with tempfile.TemporaryDirectory(prefix="colorizer-finetune-") as tmp:
        work = Path(tmp)
        cfg = training_config(config, meta, init_path, [screening.usable[i] for i in train_idx],
                              [screening.usable[i] for i in held_idx], work)
        phases = {"loading photos": "reading photos"}
        try:
            trained = train(cfg, callback=lambda phase, done, total: report(phases.get(phase, phase), done, total))
        except TrainingCancelled:
            raise FinetuneCancelled("fine-tuning stopped before training began; nothing was written") from None
        report.check_cancelled()
        new = load_weights(trained.weights)
    start = Colorizer(load_weights(init_path), device=config.device, working_size=config.working_size)
    look = None
    if config.choose_look:
        look = choose_look(start, [screening.usable[i] for i in train_idx],
                           report=lambda done, total: report("choosing look", done, total))
        report.check_cancelled()
    new.render_defaults = {**start.weights.render_defaults, **(look.render_defaults() if look else {})}
    held_paths = [screening.usable[i] for i in held_idx]
    start_fig, new_fig, gray_fig = held_out_figures(
        start, Colorizer(new, device=config.device, working_size=config.working_size), held_paths, report)
    report.check_cancelled()
    result = FinetuneResult(
        written=None, refused=None, photos=len(train_idx), held_out=len(held_idx), skipped=screening.skipped_counts,
        start=start_fig, new=new_fig, gray=gray_fig, steps=trained.steps,
        best_step=int(new.training.get("best_step") or trained.steps), seconds=0.0,
        interrupted=trained.interrupted, start_model=init_path.name, model=new, look=look.to_json() if look else {},
        skipped_files=[(reason, path, detail) for reason, items in screening.skipped.items() for path, detail in items])
    if result.psnr_gain <= config.min_gain_db:
        result.refused = (f"not written: on the {len(held_idx)} held-out photos the new model is not better than "
                          f"{init_path.name} (PSNR {start_fig['psnr']:.2f} -> {new_fig['psnr']:.2f} dB, "
                          f"ab RMSE {start_fig['ab_rmse']:.2f} -> {new_fig['ab_rmse']:.2f})")
    report.close_phase()
    result.seconds = round(time.monotonic() - report.t0, 1)
    result.phase_seconds = dict(report.seconds)
    if result.refused is None:
        record = public_record(new.training, init_path)
        record["finetune"] = finetune_record(result, screening, meta, config)
        result.written = save_weights(out, new.model, new.scheme, record, render_defaults=new.render_defaults)
        new.training, new.path = record, result.written
    return result


def check_output(out: Path, init: Path) -> None:
    """Refuse, before any work, an output that is the start model, a folder, or in a folder we cannot write."""
    if out.resolve() == init.resolve():
        raise FinetuneError(f"{out}: is the starting model; write the fine-tuned one to a new file")
    if out.is_dir():
        raise FinetuneError(f"{out}: is a folder; give a file name such as mine.safetensors")
    parent = next((p for p in out.resolve().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FinetuneError(f"{out}: cannot write there ({parent} is not a writable folder)")


def _go_on(proceed: bool) -> None:
    """Stop the photo check when asked to (finishing early means nothing before training has begun)."""
    if not proceed:
        raise FinetuneCancelled("fine-tuning stopped before training began; nothing was written")


def _split(screening: Screening, config: FinetuneConfig) -> tuple[list[int], list[int]]:
    """Training and held-out indices into ``screening.usable``; FinetuneError when too few are usable."""
    n = len(screening.usable)
    held = holdout_count(n, config.holdout_share, config.min_holdout)
    if n - held < config.min_train:
        skipped = ", ".join(f"{c} {reason}" for reason, c in screening.skipped_counts.items()) or "none"
        raise FinetuneError(f"{n} usable colour photos among {screening.found} found (skipped: {skipped}); "
                            f"fine-tuning needs at least {held + config.min_train}")
    return split_holdout(screening.usable, screening.keys, held, config.seed)


def finetune_record(result: FinetuneResult, screening: Screening, meta: dict, config: FinetuneConfig) -> dict:
    """The provenance of a fine-tuned model (``training["finetune"]`` of its weights file)."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("cache_dir", "device", "threads")}
    return {
        "base_model": {"file": result.start_model, "sha256": meta.get("sha256", "")},
        "photos": result.photos, "held_out_photos": result.held_out, "photos_hash": photos_digest(screening.keys),
        "held_out": {"start": result.start, "new": result.new, "gray": result.gray},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": result.seconds,
        "phase_seconds": result.phase_seconds,
        "skipped": result.skipped, "steps": result.steps, "best_step": result.best_step,
        "interrupted": result.interrupted, "settings": settings, "look": result.look,
    }
