"""Will a photo fit in memory? An estimate from its header, checked before any pixel is decoded.

Colourising holds, per pixel: the decoder's buffer (1-4 bytes, or OpenCV's 16-bit array) while
decoding; then the lightness (4 bytes), the alpha channel (1) and one 8-bit output picture (4, Pillow
keeps RGB in 4 bytes) while rendering and writing. Everything else is strips of a fixed size (see
:mod:`colorizer.strips`) or small maps. A photo whose estimate exceeds the memory available is refused
with one line, instead of being decoded and failing (or making the system swap) half-way.
"""

from __future__ import annotations

from pathlib import Path

from colorizer.imageio.read import ImageHeader, ImageReadError

FIXED_BYTES = 192 * 2 ** 20  # strips, small maps, encoder buffers
_DECODER_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2,
                  "I": 16, "F": 16}  # I and F are converted whole: their own 4 bytes, float RGB 12


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process can still use: the system's MemAvailable, capped by a cgroup limit; None if unknown."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2 ** 60:
            found.append(max(0, limit - usage))
    return min(found) if found else None


def colorize_memory_bytes(header: ImageHeader) -> int:
    """Peak bytes that colourising this photo (decode, render, write one output at a time) needs."""
    if header.deep:
        decoder = 8 + header.file_bytes / max(1, header.pixels)  # OpenCV's 16-bit RGBA array + the file's bytes
    else:
        decoder = _DECODER_BYTES.get(header.mode, 4)
    decoding = decoder + 4 + 1      # decoder buffer, lightness, alpha
    writing = 4 + 1 + 4             # lightness, alpha, one 8-bit output picture
    return int(header.pixels * max(decoding, writing)) + FIXED_BYTES


def check_memory(path: str | Path, header: ImageHeader, available: int | None = None) -> None:
    """Raise ImageReadError (one line naming the file) if the photo would not fit in the memory available."""
    available = available_memory() if available is None else available
    if available is None:
        return
    needed = colorize_memory_bytes(header)
    if needed > available:
        raise ImageReadError(f"{path}: {header.width}x{header.height} pixels need about {needed / 2 ** 30:.1f} GB of "
                             f"memory, but only {available / 2 ** 30:.1f} GB is available; close other programs "
                             "or reduce the photo")
