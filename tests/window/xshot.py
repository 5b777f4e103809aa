"""Screenshots of an X display as the X server shows it: `xwd -root`, decoded here to PNG.

Blender's own screen.screenshot reads OpenGL's front buffer, which Mesa's software renderer
under Xvfb leaves black; xwd asks the X server, so it shows exactly what reached the screen.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np

_HEADER = struct.Struct(">25I")

# The Xvfb screen and Blender's window: tall enough that the sidebar shows the orbitfarm tab
# down to the jobs list's thumbnails without scrolling.
SCREEN = (1600, 1500)


def grab(display: str) -> np.ndarray:
    """The whole screen of `display` as an (height, width, 3) uint8 RGB array."""
    data = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                          capture_output=True, check=True, timeout=60).stdout
    (header_size, _version, pixmap_format, _depth, width, height, _xoffset, byte_order,
     _unit, _bit_order, _pad, bits_per_pixel, bytes_per_line, _visual, red_mask, green_mask,
     blue_mask, _bits_per_rgb, _entries, ncolors, *_rest) = _HEADER.unpack_from(data)
    if pixmap_format != 2 or bits_per_pixel != 32:
        raise ValueError(f"xwd: only 32-bit ZPixmap is supported, got format {pixmap_format}, "
                         f"{bits_per_pixel} bits per pixel")
    start = header_size + ncolors * 12
    rows = np.frombuffer(data, dtype="<u4" if byte_order == 0 else ">u4",
                         count=height * bytes_per_line // 4, offset=start)
    pixels = rows.reshape(height, bytes_per_line // 4)[:, :width]
    channels = [(pixels & mask) >> (int(mask).bit_length() - 8)
                for mask in (red_mask, green_mask, blue_mask)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an (height, width, 3) uint8 array as an 8-bit RGB PNG (atomically)."""
    height, width, _ = rgb.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
