"""A 16-bit RGB(A) PNG written strip by strip (Paeth filter, zlib), so no full 16-bit copy of the
picture and no whole encoded file ever sit in memory (OpenCV's encoder needs both)."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from colorizer.strips import RowSource, row_ranges

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth_rows(raw: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter type 4 (Paeth) of ``raw`` (n, stride) uint8 rows, ``previous`` the row above the first;
    returns (n, 1 + stride) rows that start with their filter-type byte."""
    x = raw.astype(np.int16)
    up = np.empty_like(x)
    up[0] = previous
    up[1:] = x[:-1]
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    upleft = np.zeros_like(x)
    upleft[:, bpp:] = up[:, :-bpp]
    pa = np.abs(up - upleft)
    pb = np.abs(left - upleft)
    pc = np.abs(left + up - 2 * upleft)
    predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    out[:, 0] = 4
    out[:, 1:] = (x - predictor).astype(np.uint8)  # modulo 256
    return out


def write_png16(fh: BinaryIO, rows: RowSource, to_uint16, alpha: np.ndarray | None,
                extra_chunks: list[bytes], level: int = 3) -> None:
    """Write a 16-bit PNG of ``rows`` (converted by ``to_uint16`` strip by strip), ``alpha`` (H, W) uint8
    or uint16 or None, with ``extra_chunks`` (already encoded) after the header."""
    h, w = rows.shape[0], rows.shape[1]
    channels = 3 if alpha is None else 4
    fh.write(PNG_SIGNATURE)
    fh.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2 if alpha is None else 6, 0, 0, 0)))
    for chunk in extra_chunks:
        fh.write(chunk)
    compressor = zlib.compressobj(level)
    previous = np.zeros(w * channels * 2, np.int16)
    for r0, r1 in row_ranges(h, w):
        block = to_uint16(rows[r0:r1])
        if alpha is not None:
            a = alpha[r0:r1]
            a16 = a.astype(np.uint16) * 257 if a.dtype == np.uint8 else a.astype(np.uint16)
            block = np.concatenate([block, a16[..., None]], axis=-1)
        raw = np.ascontiguousarray(block, dtype=">u2").view(np.uint8).reshape(r1 - r0, w * channels * 2)
        data = compressor.compress(paeth_rows(raw, previous, channels * 2).tobytes())
        previous = raw[-1].astype(np.int16)
        if data:
            fh.write(png_chunk(b"IDAT", data))
    fh.write(png_chunk(b"IDAT", compressor.flush()))
    fh.write(png_chunk(b"IEND", b""))
