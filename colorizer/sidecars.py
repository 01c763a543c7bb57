"""Per-photo recipes kept beside the photo (``<photo file name>.colorizer.json``), like darktable's XMP.

The photo itself is never touched. When the photo's folder cannot be written, the recipe goes to a
fallback folder (the app's data folder) under the photo's content hash. A sidecar records the photo's
content hash, so a renamed photo still finds the recipe left beside its old name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from colorizer.batch import FileResult, Job
from colorizer.recipe import Recipe, RecipeError, file_sha256
from colorizer.recipe_file import PhotoRef, read_recipe_file, save_recipe

SUFFIX = ".colorizer.json"


def sidecar_path(photo: str | Path) -> Path:
    """Where the recipe of ``photo`` lives beside it."""
    photo = Path(photo)
    return photo.with_name(photo.name + SUFFIX)


@dataclass(frozen=True)
class Sidecar:
    """A found per-photo recipe and the file it came from."""

    recipe: Recipe
    path: Path


@dataclass(frozen=True)
class SidecarStore:
    """Finds, reads and writes per-photo recipes; ``fallback_dir`` holds those of read-only folders."""

    fallback_dir: Path | None = None

    def fallback_path(self, photo_sha256: str) -> Path | None:
        return None if self.fallback_dir is None else Path(self.fallback_dir) / f"{photo_sha256}{SUFFIX}"

    def load(self, photo: str | Path, photo_sha256: str | None = None) -> Sidecar | None:
        """The recipe saved for ``photo``: beside it by name, else in the fallback folder by content hash,
        else beside it under another name that records the same content (the photo was renamed).

        Raises RecipeError when the sidecar found is broken or from a newer program.
        """
        photo = Path(photo)
        beside = sidecar_path(photo)
        sha = photo_sha256 or (None if beside.is_file() and self.fallback_dir is None else file_sha256(photo))
        fallback = self.fallback_path(sha) if sha else None
        found = [p for p in (beside, fallback) if p is not None and p.is_file()]
        if found:
            # both exist when saving beside the photo failed once: the newer one holds the latest edits
            newest = max(found, key=lambda p: p.stat().st_mtime_ns)
            return Sidecar(read_recipe_file(newest).recipe, newest)
        for orphan in _orphans(photo.parent):
            try:
                found = read_recipe_file(orphan)
            except RecipeError:
                continue  # someone else's broken file: not this photo's business
            if found.photo is not None and found.photo.sha256 == sha:
                return Sidecar(found.recipe, orphan)
        return None

    def attach(self, jobs: list[Job]) -> tuple[list[Job], list[FileResult]]:
        """Give each batch job its photo's own recipe where it has one (the others keep the batch's).

        A job whose sidecar cannot be read is not processed (its saved edits would be lost silently):
        it comes back as a failed result naming the sidecar.
        """
        ready: list[Job] = []
        problems: list[FileResult] = []
        for job in jobs:
            try:
                found = self.load(job.source)
            except (RecipeError, OSError) as exc:
                problems.append(FileResult(job.source, error=f"{job.source}: its saved edits cannot be used ({exc})"))
                continue
            ready.append(job if found is None else dataclasses.replace(job, recipe=found.recipe))
        return ready, problems

    def save(self, photo: str | Path, recipe: Recipe, photo_sha256: str) -> Path:
        """Write ``photo``'s recipe beside it, or to the fallback folder when its folder is read-only.

        Returns the path written; raises OSError when neither place can be written.
        """
        photo = Path(photo)
        ref = PhotoRef(photo.name, photo_sha256)
        try:
            return save_recipe(sidecar_path(photo), recipe, ref)
        except OSError:
            fallback = self.fallback_path(photo_sha256)
            if fallback is None:
                raise
            return save_recipe(fallback, recipe, ref)


def _orphans(folder: Path) -> list[Path]:
    """Sidecars in ``folder`` whose photo (by name) no longer exists."""
    try:
        candidates = sorted(folder.glob(f"*{SUFFIX}"))
    except OSError:
        return []
    return [p for p in candidates if not (folder / p.name[: -len(SUFFIX)]).exists()]
