"""Where the program's own files are: sample photos, the icon, the desktop entry, their licences.

In a source checkout they are in ``resources/`` beside ``app/``; an installed copy (``pip install .``)
puts them under ``<prefix>/share/colorizer`` (``pyproject.toml``'s data files), found through the
installed distribution's file list.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "colorizer"
MARKER = "LICENSES.md"  # a file every resources folder has
INSTALLED_PARTS = ("share", "colorizer", MARKER)


def resources_dir() -> Path | None:
    """The resources folder, or None when neither a checkout's nor an installed one exists."""
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if (checkout / MARKER).is_file():
        return checkout
    try:
        files = metadata.files(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if tuple(f.parts[-3:]) == INSTALLED_PARTS:
            path = Path(str(f.locate())).resolve()
            if path.is_file():
                return path.parent
    return None


def sample_photos() -> list[Path]:
    """The bundled black-and-white sample photos (empty when they are missing)."""
    from colorizer.imageio import is_image_file  # (not at import: the first window must not wait for it)

    folder = resources_dir()
    if folder is None or not (folder / "samples").is_dir():
        return []
    return sorted(p for p in (folder / "samples").iterdir() if p.is_file() and is_image_file(p))


def icon_path() -> Path | None:
    """The application icon (PNG), if present."""
    folder = resources_dir()
    path = None if folder is None else folder / "colorizer.png"
    return path if path is not None and path.is_file() else None
