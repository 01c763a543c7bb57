"""Before Qt starts: are the X11 libraries that Qt's ``xcb`` platform plugin needs installed?

Without them Qt aborts with "could not load the Qt platform plugin xcb" and a long, unhelpful text.
This check (no Qt import) finds the missing ones and names the Debian/Ubuntu packages to install.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Callable, Mapping

# The shared libraries Qt 6's xcb plugin loads (ldd of libqxcb.so / libQt6XcbQpa.so), and their packages.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def uses_xcb(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Will Qt pick its X11 (xcb) platform plugin here? (Linux, no other platform asked for, and not a
    Wayland session, where Qt uses its Wayland plugin.)"""
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_xcb_packages(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The Debian/Ubuntu packages whose libraries cannot be loaded (empty: all there)."""
    return [package for library, package in XCB_LIBRARIES.items() if not loads(library)]


def xcb_problem(env: Mapping[str, str] | None = None, loads: Callable[[str], bool] = _loads) -> str | None:
    """One line saying what to install, or None when Qt's X11 plugin can start (or is not used)."""
    if not uses_xcb(env):
        return None
    missing = missing_xcb_packages(loads)
    if not missing:
        return None
    return ("colorizer-app: Qt's X11 platform plugin needs libraries that are not installed; install them with: "
            f"sudo apt-get install {' '.join(missing)}")
