"""Persistent user settings (QSettings): recent files, the default look, device, model, folders.

Per-photo edits are not kept here (they live beside each photo, in its sidecar): a new photo starts
from the defaults, or from a default look the user saved on purpose (``default_look``). A read-only
store (``--screenshot``) reads the user's settings but keeps its own changes in memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings

if TYPE_CHECKING:
    from colorizer.recipe import Recipe

MAX_RECENT = 10
ORGANIZATION = "colorizer"
APPLICATION = "colorizer-app"


class SettingsStore:
    """Typed access to the application's QSettings (one place for every key)."""

    def __init__(self, settings: QSettings | None = None, read_only: bool = False) -> None:
        self.qs = settings or QSettings(ORGANIZATION, APPLICATION)
        self.read_only = read_only
        self._memory: dict[str, Any] = {}

    def value(self, key: str, default=None):
        return self._memory[key] if key in self._memory else self.qs.value(key, default)

    def set_value(self, key: str, value) -> None:
        if self.read_only:
            self._memory[key] = value
        else:
            self.qs.setValue(key, value)

    # ----- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        items = items[:MAX_RECENT]
        self.set_value("recent_files", items)
        return items

    def clear_recent(self) -> None:
        self.set_value("recent_files", [])

    # ----- the default look (chosen on purpose, shown by name) -----------------------------------
    def default_look(self) -> tuple[str, "Recipe"] | None:
        """(name, look) that new photos start from, or None for the plain defaults (also when the saved
        look cannot be read any more)."""
        from colorizer.recipe import RecipeError
        from colorizer.recipe_file import recipe_from_json

        name, raw = self.value("look/name", ""), self.value("look/recipe", "")
        if not name or not raw:
            return None
        try:
            return str(name), recipe_from_json(json.loads(str(raw)), "the default look").recipe.look()
        except (RecipeError, ValueError):
            return None

    def set_default_look(self, name: str, look: "Recipe") -> None:
        from colorizer.recipe_file import recipe_to_json

        self.set_value("look/name", name)
        self.set_value("look/recipe", json.dumps(recipe_to_json(look.look())))

    def clear_default_look(self) -> None:
        self.set_value("look/name", "")
        self.set_value("look/recipe", "")

    # ----- misc ---------------------------------------------------------------------------------
    def device(self) -> str:
        value = str(self.value("device", "auto"))
        return value if value in ("auto", "cpu", "cuda") else "auto"

    def set_device(self, device: str) -> None:
        self.set_value("device", device)

    def weights(self) -> str | None:
        """The weights file chosen in the Models menu (None: the bundled model)."""
        return str(self.value("model/weights", "")) or None

    def set_weights(self, path: str | None) -> None:
        self.set_value("model/weights", path or "")

    def folder(self, key: str) -> str:
        return str(self.value(f"folders/{key}", str(Path.home())))

    def set_folder(self, key: str, path: str | Path) -> None:
        self.set_value(f"folders/{key}", str(path))

    def flag(self, key: str, default: bool) -> bool:
        """A yes/no setting (INI files give strings back)."""
        raw = self.value(key, default)
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "1", "yes")

    def geometry(self) -> QByteArray | None:
        value = self.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.set_value("window/geometry", geometry)

    def sync(self) -> None:
        if not self.read_only:
            self.qs.sync()
