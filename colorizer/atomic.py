"""Atomic file writes: write a hidden temporary file beside the target, then rename it over the target.

A reader never sees a half-written file, and a failed or interrupted write leaves no file behind (the
target, if it existed, is untouched). Every writer in the package (images, recipes, checkpoints) uses this.

Temporary files are named ``.colorizer-<pid>-<random>.tmp<suffix>``: a process killed outright
(``kill -9``, power loss) cannot remove its own, so :func:`clean_stale_temp_files` removes those whose
process is gone, and nothing else. ``atomic_write(..., replace=False)`` publishes without ever
replacing an existing file (a hard link, which fails if the name is taken), so two runs writing into one
folder cannot overwrite each other's results.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable

TEMP_PREFIX = ".colorizer-"
TEMP_PATTERN = re.compile(r"^\.colorizer-(?:(\d+)-)?[0-9a-f]{8,}\.tmp(\.[^.]+)?$")
STALE_AFTER_S = 60.0          # a dead owner's temp file older than this is removed
ORPHAN_AFTER_S = 24 * 3600.0  # any temp file of ours this old is removed (e.g. its pid was reused)


def reserve_temp_path(path: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` (mode 0666 less the umask).

    The name holds this process's id (so a later run knows when it is stale) but not the target's stem,
    so long names cannot exceed the file-name limit; it keeps the target's suffix so writers that choose
    a format by extension still can.
    """
    while True:
        tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _publish_new(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path`` only if ``path`` does not exist (FileExistsError otherwise)."""
    try:
        os.link(tmp, path)  # atomic and never replaces: fails with EEXIST if the name is taken
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(path):  # no hard links here (FAT, some network shares): check, then rename
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_write(path: str | Path, write: Callable[[Path], object], make_parents: bool = True,
                 replace: bool = True) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``.

    With ``replace=False`` an existing ``path`` is never replaced: FileExistsError is raised instead
    (checked atomically at the rename). Exceptions from ``write`` (and interrupts) propagate after the
    temporary file is removed.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not replace and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists", str(path))
    tmp: Path | None = reserve_temp_path(path)
    try:
        write(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":  # os.kill(pid, 0) is no probe on Windows: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but is someone else's (or cannot tell): keep its files
    return True


def is_stale_temp_file(path: Path, now: float | None = None) -> bool:
    """True for a temporary file of ours (by name) whose writer is gone: its process no longer runs
    (or the name has no process id) and it was last written over a minute ago, or it is a day old."""
    match = TEMP_PATTERN.match(path.name)
    if match is None:
        return False
    try:
        st = path.lstat()
    except OSError:
        return False
    age = (time.time() if now is None else now) - st.st_mtime
    if age > ORPHAN_AFTER_S:
        return True
    pid = match.group(1)
    return age > STALE_AFTER_S and (pid is None or not _process_alive(int(pid)))


def clean_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove this program's stale temporary files (see :func:`is_stale_temp_file`) directly in
    ``folder``; returns those removed. Never touches any other file; problems are ignored."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(TEMP_PREFIX) and is_stale_temp_file(path, now):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed
