"""PNG writers: 16-bit grayscale (depth16) and 8-bit RGB (the web page's thumbnails).

zlib, no imaging library; numpy speeds the 16-bit one up when present.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..files.atomic import atomic_write_bytes

try:
    import numpy as np
except ImportError:  # pragma: no cover - Debian's Blender has no numpy
    np = None  # type: ignore[assignment]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_gray16(values: Any, width: int, height: int, level: int = 6) -> bytes:
    """PNG bytes of `values` (a numpy uint16 (h, w) array or rows of ints 0..65535)."""
    if np is not None and isinstance(values, np.ndarray):
        rows = np.asarray(values, dtype=">u2").reshape(height, width).view(np.uint8)
        raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    else:
        lines: Sequence[Sequence[int]] = values
        raw = b"".join(b"\0" + struct.pack(f">{width}H", *row) for row in lines)
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)  # 16-bit gray, no interlace
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level))
            + _chunk(b"IEND", b""))


def write_gray16(path: str | Path, values: Any, width: int, height: int) -> None:
    """Write a 16-bit grayscale PNG atomically (readers never see half a file)."""
    atomic_write_bytes(path, encode_gray16(values, width, height))


def encode_rgb8(rows: Sequence[bytes], width: int, height: int, level: int = 6) -> bytes:
    """PNG bytes of 8-bit RGB rows (each `width * 3` bytes, top row first)."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError(f"encode_rgb8: expected {height} rows of {width * 3} bytes")
    raw = b"".join(b"\0" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level))
            + _chunk(b"IEND", b""))
