"""imageio readers without bpy: PNG filters and EXR compressions against hand-built files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from orbitfarm.submitter.files import imageio


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _write_png(path, pixels: np.ndarray, filters) -> None:
    h, w, c = pixels.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = bytearray()
    prev = bytes(w * c)
    for y in range(h):
        row = pixels[y].tobytes()
        kind = filters[y % len(filters)]
        out = bytearray()
        for i, x in enumerate(row):
            a = row[i - c] if i >= c else 0
            b = prev[i]
            cc = prev[i - c] if i >= c else 0
            pred = [0, a, b, (a + b) >> 1, _paeth(a, b, cc)][kind]
            out.append((x - pred) & 0xFF)
        raw += bytes([kind]) + out
        prev = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    path.write_bytes(imageio.PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
                     + _chunk(b"IDAT", zlib.compress(bytes(raw))) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_all_filters(tmp_path, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, size=(10, 7, channels), dtype=np.uint8)
    path = tmp_path / "x.png"
    _write_png(path, pixels, filters=[0, 1, 2, 3, 4])
    img = imageio.read_png(path)
    assert (img.width, img.height, img.channels) == (7, 10, channels)
    assert np.array_equal(img.array, pixels)
    assert img.pixel(3, 5) == tuple(pixels[5, 3])


def test_png_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(imageio.ImageFormatError):
        imageio.read_png(bad)


def _zip_block(raw: bytes) -> bytes:
    # The EXR ZIP filter: split even/odd bytes, delta-encode (+128), then deflate.
    t = raw[0::2] + raw[1::2]
    d = bytearray(t)
    for i in range(len(t) - 1, 0, -1):
        d[i] = (t[i] - t[i - 1] + 128) & 0xFF
    return zlib.compress(bytes(d))


def _write_exr(path, channels: dict[str, np.ndarray], compression: str) -> None:
    names = sorted(channels)
    h, w = channels[names[0]].shape
    types = {np.dtype("<f4"): 2, np.dtype("<f2"): 1}
    chlist = b"".join(n.encode() + b"\0" + struct.pack("<iB3xii", types[channels[n].dtype], 0, 1, 1)
                      for n in names) + b"\0"
    code = {"NONE": 0, "ZIPS": 2, "ZIP": 3}[compression]

    def attr(name, kind, value):
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value

    header = (attr("channels", "chlist", chlist) + attr("compression", "compression", bytes([code]))
              + attr("dataWindow", "box2i", struct.pack("<4i", 0, 0, w - 1, h - 1))
              + attr("displayWindow", "box2i", struct.pack("<4i", 0, 0, w - 1, h - 1))
              + b"\0")
    per = {"NONE": 1, "ZIPS": 1, "ZIP": 16}[compression]
    blocks = []
    for y0 in range(0, h, per):
        raw = b"".join(channels[n][y].tobytes() for y in range(y0, min(h, y0 + per)) for n in names)
        data = raw if compression == "NONE" else _zip_block(raw)
        blocks.append(struct.pack("<ii", y0, len(data)) + data)
    start = 8 + len(header) + 8 * len(blocks)
    offsets, pos = [], start
    for b in blocks:
        offsets.append(pos)
        pos += len(b)
    path.write_bytes(imageio.EXR_MAGIC + struct.pack("<I", 2) + header
                     + struct.pack(f"<{len(offsets)}Q", *offsets) + b"".join(blocks))


@pytest.mark.parametrize("compression", ["NONE", "ZIPS", "ZIP"])
def test_exr_float_and_half(tmp_path, compression):
    rng = np.random.default_rng(7)
    depth = rng.uniform(0, 100, size=(37, 5)).astype("<f4")
    depth[0, 0] = 1e10
    half = rng.uniform(-2, 2, size=(37, 5)).astype("<f2")
    path = tmp_path / "d.exr"
    _write_exr(path, {"V": depth, "H": half}, compression)
    exr = imageio.read_exr(path)
    assert (exr.width, exr.height, exr.compression) == (5, 37, compression)
    assert exr.pixel_types == {"H": "HALF", "V": "FLOAT"}
    assert np.array_equal(exr.channel("V"), depth)
    assert np.array_equal(exr.channel("H"), half)
    assert exr.value("V", 0, 0) == 1e10
    assert imageio.read_exr_header(path)["compression"] == compression
    with pytest.raises(KeyError):
        exr.channel("Z")


def test_exr_truncated_is_a_clear_error(tmp_path):
    path = tmp_path / "d.exr"
    _write_exr(path, {"V": np.ones((20, 4), "<f4")}, "ZIP")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(imageio.ImageFormatError):
        imageio.read_exr(path)


def test_without_numpy(tmp_path, monkeypatch):
    pixels = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
    _write_png(tmp_path / "x.png", pixels, filters=[1, 2, 3, 4])
    depth = np.linspace(0, 5, 6 * 3, dtype="<f4").reshape(6, 3)
    _write_exr(tmp_path / "d.exr", {"V": depth}, "ZIP")
    monkeypatch.setattr(imageio, "np", None)
    img = imageio.read_png(tmp_path / "x.png")
    assert img.pixel(2, 3) == tuple(pixels[3, 2])
    exr = imageio.read_exr(tmp_path / "d.exr")
    assert exr.value("V", 1, 4) == pytest.approx(float(depth[4, 1]))


def test_verify_png_catches_corruption(tmp_path):
    pixels = np.arange(6 * 5 * 3, dtype=np.uint8).reshape(6, 5, 3)
    path = tmp_path / "x.png"
    _write_png(path, pixels, filters=[4])
    assert imageio.verify_png(path) == (5, 6, 3)
    data = bytearray(path.read_bytes())
    data[45] ^= 0xFF  # inside the IDAT chunk
    path.write_bytes(bytes(data))
    with pytest.raises(imageio.ImageFormatError):
        imageio.verify_png(path)
    path.write_bytes(bytes(data[:40]))
    with pytest.raises(imageio.ImageFormatError):
        imageio.verify_png(path)
