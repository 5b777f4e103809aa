"""Small pure-Python readers for the images orbitfarm writes: 8-bit PNG and scanline OpenEXR.

No bpy, no imaging library: they run on login nodes, in tests and in the extension's contact
sheet. numpy is used when importable (fast paths and `.array`); without it pixels come back as
nested lists. Only what orbitfarm needs is supported; anything else raises ImageFormatError.

- PNG: bit depth 8, gray / gray+alpha / RGB / RGBA, all five filters, no interlacing.
- EXR: single-part scanline files, compression NONE, ZIPS or ZIP, channels HALF, FLOAT or UINT.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

try:
    import numpy as np
except ImportError:  # pragma: no cover - exercised by the no-numpy unit test
    np = None  # type: ignore[assignment]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXR_MAGIC = b"\x76\x2f\x31\x01"
EXR_PIXEL_TYPES = {0: "UINT", 1: "HALF", 2: "FLOAT"}
EXR_COMPRESSIONS = {0: "NONE", 1: "RLE", 2: "ZIPS", 3: "ZIP", 4: "PIZ", 5: "PXR24", 6: "B44",
                    7: "B44A", 8: "DWAA", 9: "DWAB"}
_EXR_LINES_PER_BLOCK = {"NONE": 1, "ZIPS": 1, "ZIP": 16}
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
_MINUS_128 = bytes((b - 128) & 0xFF for b in range(256))


class ImageFormatError(ValueError):
    """The file is not a readable PNG/EXR of the supported kinds; the message says why."""


@dataclass
class Image:
    """A decoded 8-bit PNG: rows of interleaved channel bytes."""

    width: int
    height: int
    channels: int  # 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    rows: list[bytes] = field(repr=False)

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        """Channel values (0..255) of pixel (x, y), y = 0 at the top."""
        c = self.channels
        return tuple(self.rows[y][x * c : x * c + c])

    @property
    def array(self) -> Any:
        """numpy uint8 array of shape (height, width, channels)."""
        _need_numpy()
        return np.frombuffer(b"".join(self.rows), dtype=np.uint8).reshape(
            self.height, self.width, self.channels)


@dataclass
class Exr:
    """A decoded scanline OpenEXR: header facts and per-channel pixel values."""

    width: int
    height: int
    pixel_types: dict[str, str]  # channel name -> "HALF" | "FLOAT" | "UINT"
    compression: str
    header: dict[str, Any] = field(repr=False)
    data: dict[str, Any] = field(repr=False)  # name -> numpy (h, w) array or list of row lists

    @property
    def channel_names(self) -> list[str]:
        return list(self.pixel_types)

    def channel(self, name: str) -> Any:
        """All values of one channel: numpy array (height, width), or rows of floats."""
        if name not in self.data:
            raise KeyError(f"no channel {name!r}; channels: {', '.join(self.channel_names)}")
        return self.data[name]

    @property
    def depth(self) -> Any:
        """The depth channel of an orbitfarm depth EXR ("Y", or "V" from older orbitfarm)."""
        return self.channel(next((n for n in DEPTH_CHANNELS if n in self.data),
                                 DEPTH_CHANNELS[0]))

    def value(self, name: str, x: int, y: int) -> float:
        """Value of channel `name` at pixel (x, y), y = 0 at the top."""
        return float(self.channel(name)[y][x])


def _need_numpy() -> None:
    if np is None:
        raise ImageFormatError("this needs numpy (pip install numpy)")


# ----------------------------------------------------------------------------------- PNG


def verify_png(path: str | Path) -> tuple[int, int, int]:
    """Check a PNG completely (chunk CRCs, zlib stream, size, filter bytes) without unfiltering.

    Much faster than read_png; returns (width, height, channels).
    """
    width, height, channels, raw = _png_raw(path, check_crc=True)
    stride = width * channels + 1
    if any(raw[y * stride] > 4 for y in range(height)):
        raise ImageFormatError(f"{path}: bad PNG filter byte (corrupt data)")
    return width, height, channels


def read_png(path: str | Path) -> Image:
    """Decode an 8-bit, non-interlaced PNG."""
    width, height, channels, raw = _png_raw(path)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], prev, channels, path)
        rows.append(row)
        prev = row
    return Image(width, height, channels, rows)


def _png_raw(path: str | Path, check_crc: bool = False) -> tuple[int, int, int, bytes]:
    data = Path(path).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ImageFormatError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ImageFormatError(f"{path}: truncated PNG chunk {kind!r}")
        if check_crc:
            (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length] or b"\0" * 4)
            if crc != zlib.crc32(kind + body):
                raise ImageFormatError(f"{path}: PNG chunk {kind!r} fails its CRC (corrupt)")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise ImageFormatError(f"{path}: PNG without IHDR/IDAT (truncated?)")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in _PNG_CHANNELS or interlace:
        raise ImageFormatError(
            f"{path}: unsupported PNG (bit depth {depth}, colour type {color}, interlace "
            f"{interlace}); only 8-bit non-interlaced gray/RGB(A)")
    channels = _PNG_CHANNELS[color]
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise ImageFormatError(f"{path}: corrupt PNG data ({exc})") from None
    if len(raw) < height * (width * channels + 1):
        raise ImageFormatError(f"{path}: PNG data too short (truncated file?)")
    return width, height, channels, raw


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int, path: Any) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:  # Up
        if np is not None:
            return (np.frombuffer(line, np.uint8) + np.frombuffer(prev, np.uint8)).tobytes()
        return bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=False))
    if kind == 1 and np is not None:  # Sub: a running sum per channel
        cells = np.frombuffer(line, np.uint8).reshape(-1, bpp).astype(np.uint32)
        return (np.cumsum(cells, axis=0) & 0xFF).astype(np.uint8).tobytes()
    if kind not in (1, 3, 4):
        raise ImageFormatError(f"{path}: unknown PNG filter type {kind}")
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            pred = left
        elif kind == 3:
            pred = (left + up) >> 1
        else:
            corner = prev[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
        out[i] = (out[i] + pred) & 0xFF
    return bytes(out)


# ----------------------------------------------------------------------------------- EXR


def read_exr_header(path: str | Path) -> dict[str, Any]:
    """Only the header of a scanline EXR (cheap: no pixel data is decoded)."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    header, _ = _parse_exr_header(head, path)
    return header


def _parse_exr_header(data: bytes, path: Any) -> tuple[dict[str, Any], int]:
    if not data.startswith(EXR_MAGIC):
        raise ImageFormatError(f"{path}: not an OpenEXR file")
    (flags,) = struct.unpack("<I", data[4:8])
    if flags & 0x200 or flags & 0x800 or flags & 0x1000:
        raise ImageFormatError(f"{path}: tiled, deep or multi-part EXR is not supported")
    pos, header = 8, {}
    while True:
        end = data.index(b"\0", pos)
        name = data[pos:end].decode("latin-1")
        pos = end + 1
        if not name:
            break
        tend = data.index(b"\0", pos)
        kind = data[pos:tend].decode("latin-1")
        (size,) = struct.unpack("<i", data[tend + 1 : tend + 5])
        value = data[tend + 5 : tend + 5 + size]
        if len(value) != size:
            raise ImageFormatError(f"{path}: truncated EXR header")
        pos = tend + 5 + size
        header[name] = _exr_attribute(kind, value)
    return header, pos


def _exr_attribute(kind: str, value: bytes) -> Any:
    if kind == "chlist":
        channels, pos = [], 0
        while value[pos] != 0:
            end = value.index(b"\0", pos)
            name = value[pos:end].decode("utf-8")
            ptype, _linear, xs, ys = struct.unpack("<iB3xii", value[end + 1 : end + 17])
            channels.append((name, EXR_PIXEL_TYPES.get(ptype, str(ptype)), xs, ys))
            pos = end + 17
        return channels
    if kind == "compression":
        return EXR_COMPRESSIONS.get(value[0], str(value[0]))
    if kind == "box2i":
        return struct.unpack("<4i", value)
    if kind == "int":
        return struct.unpack("<i", value)[0]
    if kind == "float":
        return struct.unpack("<f", value)[0]
    if kind == "string":
        return value.decode("utf-8", "replace")
    return value


def read_exr(path: str | Path) -> Exr:
    """Decode a single-part scanline EXR (NONE/ZIPS/ZIP; HALF, FLOAT and UINT channels)."""
    data = Path(path).read_bytes()
    header, pos = _parse_exr_header(data, path)
    channels = header.get("channels")
    compression = header.get("compression", "NONE")
    if not channels or "dataWindow" not in header:
        raise ImageFormatError(f"{path}: EXR header lacks channels or dataWindow")
    if compression not in _EXR_LINES_PER_BLOCK:
        raise ImageFormatError(f"{path}: EXR compression {compression} is not supported "
                               f"(only {', '.join(_EXR_LINES_PER_BLOCK)})")
    if any(xs != 1 or ys != 1 for _, _, xs, ys in channels):
        raise ImageFormatError(f"{path}: subsampled EXR channels are not supported")
    xmin, ymin, xmax, ymax = header["dataWindow"]
    width, height = xmax - xmin + 1, ymax - ymin + 1
    per_block = _EXR_LINES_PER_BLOCK[compression]
    blocks = -(-height // per_block)
    offsets = struct.unpack(f"<{blocks}Q", data[pos : pos + 8 * blocks])
    sizes = {"HALF": 2, "FLOAT": 4, "UINT": 4}
    line_bytes = sum(sizes[t] * width for _, t, _, _ in channels)
    planes: dict[str, list[bytes]] = {name: [] for name, _, _, _ in channels}
    for offset in offsets:
        if offset + 8 > len(data):
            raise ImageFormatError(f"{path}: EXR chunk offset beyond end of file (truncated?)")
        y, size = struct.unpack("<ii", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + size]
        lines = min(per_block, ymax - y + 1)
        raw = chunk if compression == "NONE" or size == lines * line_bytes else _unzip(chunk, path)
        if len(raw) != lines * line_bytes:
            raise ImageFormatError(f"{path}: EXR block at line {y} has the wrong size")
        p = 0
        for _ in range(lines):
            for name, ptype, _, _ in channels:
                n = sizes[ptype] * width
                planes[name].append(raw[p : p + n])
                p += n
    values = {name: _decode_plane(planes[name], ptype, width, height)
              for name, ptype, _, _ in channels}
    pixel_types = {name: ptype for name, ptype, _, _ in channels}
    return Exr(width, height, pixel_types, compression, header, values)


DEPTH_CHANNELS = ("Y", "V")  # "Y" since issue 11 (OpenCV reads it); "V" = Blender's, earlier


def read_depth_exr(path: str | Path) -> Exr:
    """An orbitfarm depth EXR (channel "Y", or "V" as written before); `.depth` = its values."""
    exr = read_exr(path)
    if not any(name in exr.pixel_types for name in DEPTH_CHANNELS):
        raise ImageFormatError(f"{path}: no depth channel ({' or '.join(DEPTH_CHANNELS)}); "
                               f"channels: {', '.join(exr.channel_names)}")
    return exr


def _unzip(chunk: bytes, path: Any) -> bytes:
    try:
        t = zlib.decompress(chunk)
    except zlib.error as exc:
        raise ImageFormatError(f"{path}: corrupt EXR data ({exc})") from None
    # Undo the predictor (running sum of byte deltas) then the even/odd byte split.
    if np is not None:
        d = np.frombuffer(t, np.uint8).astype(np.int64)
        d[1:] -= 128
        u = (np.cumsum(d) & 0xFF).astype(np.uint8)
        half = (len(u) + 1) // 2
        out = np.empty_like(u)
        out[0::2] = u[:half]
        out[1::2] = u[half:]
        return out.tobytes()
    # Without numpy, keep the per-byte work in C: subtract 128 by table, sum with accumulate
    # into 64-bit cells, and keep each cell's low byte (mod 256) by slicing the raw bytes.
    if not t:
        return t
    d = bytearray(t.translate(_MINUS_128))
    d[0] = t[0]
    sums = array("Q", accumulate(d))
    if sys.byteorder != "little":
        sums.byteswap()
    u = sums.tobytes()[0::8]
    half = (len(u) + 1) // 2
    out_b = bytearray(len(u))
    out_b[0::2] = u[:half]
    out_b[1::2] = u[half:]
    return bytes(out_b)


def _decode_plane(rows: list[bytes], ptype: str, width: int, height: int) -> Any:
    fmt = {"HALF": "e", "FLOAT": "f", "UINT": "I"}[ptype]
    if np is not None:
        dtype = {"HALF": "<f2", "FLOAT": "<f4", "UINT": "<u4"}[ptype]
        return np.frombuffer(b"".join(rows), dtype=dtype).reshape(height, width)
    return [list(struct.unpack(f"<{width}{fmt}", row)) for row in rows]
