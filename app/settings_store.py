"""Persistent user settings (QSettings): recent files, render settings, device, folders."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from colorizer.pipeline import RenderSettings

MAX_RECENT = 10
ORGANIZATION = "colorizer"
APPLICATION = "colorizer-app"


class SettingsStore:
    """Typed access to the application's QSettings (one place for every key)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qs = settings or QSettings(ORGANIZATION, APPLICATION)

    # ----- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.qs.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        items = items[:MAX_RECENT]
        self.qs.setValue("recent_files", items)
        return items

    def clear_recent(self) -> None:
        self.qs.setValue("recent_files", [])

    # ----- render settings ----------------------------------------------------------------------
    def render_settings(self) -> RenderSettings:
        """The last used adjustment settings (defaults for anything missing or malformed)."""
        defaults = RenderSettings()
        values = {}
        for f in fields(RenderSettings):
            raw = self.qs.value(f"render/{f.name}", None)
            if raw is None:
                continue
            try:
                values[f.name] = type(getattr(defaults, f.name))(raw)
            except (TypeError, ValueError):
                continue
        try:
            return RenderSettings(**values)
        except (TypeError, ValueError):
            return defaults

    def set_render_settings(self, settings: RenderSettings) -> None:
        for key, value in asdict(settings).items():
            self.qs.setValue(f"render/{key}", value)

    # ----- misc ---------------------------------------------------------------------------------
    def device(self) -> str:
        value = str(self.qs.value("device", "auto"))
        return value if value in ("auto", "cpu", "cuda") else "auto"

    def set_device(self, device: str) -> None:
        self.qs.setValue("device", device)

    def folder(self, key: str) -> str:
        return str(self.qs.value(f"folders/{key}", str(Path.home())))

    def set_folder(self, key: str, path: str | Path) -> None:
        self.qs.setValue(f"folders/{key}", str(path))

    def value(self, key: str, default=None):
        return self.qs.value(key, default)

    def set_value(self, key: str, value) -> None:
        self.qs.setValue(key, value)

    def geometry(self) -> QByteArray | None:
        value = self.qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)

    def sync(self) -> None:
        self.qs.sync()
