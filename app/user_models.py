"""The user's own models ("Teach it your colours"): weights files in the app's data folder.

A model is a ``NAME.safetensors`` file in ``AppDataLocation/models``; its name is the file's stem, and
its figures come from the provenance that ``colorizer finetune`` writes into the file. Listing,
naming, renaming and deleting live here; no widgets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths

SUFFIX = ".safetensors"
MAX_NAME = 60
_BAD_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def default_models_dir() -> Path:
    """Where the app keeps the user's models (the app's data folder)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "models"


def check_name(name: str) -> str:
    """``name`` stripped, or ValueError saying why it cannot name a model file."""
    name = " ".join(name.split())
    if not name:
        raise ValueError("give the model a name")
    if len(name) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    if name.startswith(".") or _BAD_CHARS.search(name):
        raise ValueError('a name cannot start with a dot or hold any of \\ / : * ? " < > |')
    return name


@dataclass(frozen=True)
class UserModel:
    """One of the user's models: its file and the summary of its provenance
    (:func:`colorizer.provenance.describe_provenance`; ``kind`` "broken" when unreadable)."""

    path: Path
    summary: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def psnr_gain(self) -> float | None:
        """PSNR gain (dB) over its start model on its held-out photos, when recorded."""
        held = self.summary.get("held_out") or {}
        try:
            return float(held["new"]["psnr"]) - float(held["start"]["psnr"])
        except (KeyError, TypeError, ValueError):
            return None

    def menu_text(self) -> str:
        """How the Models menu names it: the name and its gain on its held-out photos."""
        gain = self.psnr_gain
        return self.name if gain is None else f"{self.name}  ({gain:+.2f} dB on its held-out photos)"

    def lines(self) -> list[str]:
        """Its provenance, a few lines (tooltips, the manage dialog)."""
        from colorizer.provenance import format_provenance

        if self.summary.get("kind") == "broken":
            return [f"cannot be read: {self.summary.get('error')}"]
        return format_provenance(self.summary)


def read_model(path: Path) -> UserModel:
    """The model in ``path`` with its provenance (a broken file is listed, marked "broken")."""
    from colorizer.provenance import describe_provenance
    from colorizer.weights import WeightsError, read_metadata

    try:
        summary = describe_provenance(read_metadata(path).get("training"))
    except (WeightsError, OSError, ValueError) as exc:
        summary = {"kind": "broken", "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return UserModel(path, summary)


class ModelLibrary:
    """The user's models in ``folder`` (created when the first model is stored)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_models_dir()

    def models(self) -> list[UserModel]:
        """Every model, sorted by name (case-insensitive)."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.iterdir() if p.suffix == SUFFIX and p.is_file() and not p.name.startswith(".")]
        return [read_model(p) for p in sorted(files, key=lambda p: p.stem.lower())]

    def path_for(self, name: str) -> Path:
        """The file a model called ``name`` is stored in (ValueError for a bad name)."""
        return self.folder / f"{check_name(name)}{SUFFIX}"

    def exists(self, name: str) -> bool:
        return any(m.name.lower() == check_name(name).lower() for m in self.models())

    def unique_name(self, base: str) -> str:
        """``base`` (made a valid name), or ``base 2``, ``base 3``... when taken."""
        try:
            base = check_name(_BAD_CHARS.sub(" ", base).lstrip(".")[:MAX_NAME - 4])
        except ValueError:
            base = "My colours"
        taken = {m.name.lower() for m in self.models()}
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base} {n}", n + 1
        return name

    def new_path(self, name: str) -> Path:
        """Where a new model called ``name`` goes (the folder is created); ValueError if the name is taken."""
        path = self.path_for(name)
        if self.exists(name):
            raise ValueError(f"a model called “{check_name(name)}” already exists")
        self.folder.mkdir(parents=True, exist_ok=True)
        return path

    def rename(self, model: UserModel, new_name: str) -> UserModel:
        """Give ``model`` another name (its file is renamed); ValueError for a bad or taken name."""
        target = self.path_for(new_name)
        if target.name.lower() != model.path.name.lower() and self.exists(new_name):
            raise ValueError(f"a model called “{check_name(new_name)}” already exists")
        model.path.rename(target)
        return UserModel(target, model.summary)

    def delete(self, model: UserModel) -> None:
        """Remove ``model``'s file (only files inside the library are ever removed)."""
        if model.path.resolve().parent != self.folder.resolve():
            raise ValueError(f"{model.path} is not one of the app's models")
        model.path.unlink(missing_ok=True)
