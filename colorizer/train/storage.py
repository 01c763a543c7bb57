"""Writing training files so that nothing is lost: checkpoints and caches written atomically, every
place a run will write checked before its first step, and the final weights saved with a fallback.

- :func:`check_run_files`: the run folder, the cache folder and the weights' folder exist (or can be
  created) and take files; the checkpoint to resume from is a plain tensor file (never a pickle
  payload). A problem is one ValueError line, before any photo is loaded.
- :func:`save_final_weights`: the weights go to ``out``; if that fails (a full disk, a folder that
  became read-only) they go into the run folder, and the caller is told where.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable

import torch

from colorizer.atomic import atomic_write, clean_stale_temp_files, reserve_temp_path
from colorizer.messages import one_line

CHECKPOINT_NAME = "checkpoint.pt"


def atomic_torch_save(obj: object, path: Path) -> None:
    """torch.save to a temporary file, then rename: a killed run never leaves a half-written file."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and make sure files can be created in it (ValueError otherwise)."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise ValueError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        reserve_temp_path(folder / "probe").unlink()
    except OSError as exc:
        raise ValueError(f"{what} {folder} cannot be used ({exc.strerror or one_line(exc)})") from None
    clean_stale_temp_files(folder)


def check_checkpoint(path: Path) -> None:
    """A checkpoint to resume from must load as plain tensors (``weights_only``): a pickle payload, a
    damaged or foreign file is refused with one line."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(f"{path}: not a usable checkpoint (it holds Python objects besides tensors, refused for "
                         "safety); move it away or train without --resume") from None
    except Exception as exc:  # noqa: BLE001 - RuntimeError, EOFError...: all the same to the user
        raise ValueError(f"{path}: not a usable checkpoint ({one_line(exc, 200)}); move it away or train "
                         "without --resume") from None
    missing = {"model", "optimizer", "scheduler", "scaler", "step", "elapsed"} - set(ck if isinstance(ck, dict) else ())
    if missing:
        raise ValueError(f"{path}: not a checkpoint of this program (missing {', '.join(sorted(missing))}); "
                         "move it away or train without --resume")


def check_run_files(out: str, run_dir: str, cache_dir: str | None, resume: bool) -> None:
    """Everything a run will write, checked before its first step (see the module's docstring)."""
    _writable_folder(Path(run_dir), "--run-dir")
    if cache_dir:
        _writable_folder(Path(cache_dir), "--cache-dir")
    weights = Path(out)
    if weights.is_dir():
        raise ValueError(f"-o {weights} is a folder; give the weights file to write, "
                         f"e.g. {weights / 'mine.safetensors'}")
    _writable_folder(weights.absolute().parent, f"the folder of -o {weights}:")
    checkpoint = Path(run_dir) / CHECKPOINT_NAME
    if resume and checkpoint.exists():
        check_checkpoint(checkpoint)


def save_final_weights(out: str | Path, run_dir: str | Path, save: Callable[[Path], Path]) -> tuple[Path, str | None]:
    """``save(path)`` (an atomic writer) to ``out``, else into the run folder; (path written, a note when it
    is not ``out``). Raises OSError naming both places when neither can be written."""
    out = Path(out)
    try:
        return save(out), None
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        fallback = Path(run_dir) / out.name
        if fallback.absolute() == out.absolute():
            fallback = fallback.with_name(f"{out.stem}-saved{out.suffix}")
        try:
            written = save(fallback)
        except OSError as again:
            raise OSError(f"could not save the weights to {out} ({reason}) nor to {fallback} "
                          f"({again.strerror or one_line(again)}); the run's checkpoint is kept: free some "
                          "space and run the same command with --resume to save them") from None
        return written, f"could not write {out} ({reason}); the weights were saved to {written} instead"
