"""Name the single channel of orbitfarm's depth EXRs so OpenCV can read them.

Blender's File Output node names a one-channel float EXR's channel "V" (seen in 4.2, 4.5 and
5.0, single-layer BW or multilayer alike) and offers no way to rename it; OpenCV's EXR decoder
only accepts R/G/B, "Y" (luminance), "Z" (newer builds) or numbered channels. "Y" is read by
every OpenCV with EXR support and by any OpenEXR reader, so the worker renames "V" -> "Y" in
the header: one byte written in place, no pixel data touched (names of equal length keep every
offset valid).
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..files.imageio import DEPTH_CHANNELS, EXR_MAGIC, ImageFormatError

DEPTH_CHANNEL = DEPTH_CHANNELS[0]  # "Y"; imageio still reads the old "V"


def _single_channel_offset(head: bytes) -> tuple[int, str] | None:
    """Byte offset and name of the only channel in the EXR header `head`; None when `head` is
    not the start of a one-channel EXR."""
    if not head.startswith(EXR_MAGIC):
        return None
    pos = 8
    try:
        while True:
            end = head.index(b"\0", pos)
            name = head[pos:end]
            if not name:
                return None
            tend = head.index(b"\0", end + 1)
            kind = head[end + 1 : tend]
            (size,) = struct.unpack("<i", head[tend + 1 : tend + 5])
            value_at = tend + 5
            if name == b"channels" and kind == b"chlist":
                value = head[value_at : value_at + size]
                first_end = value.index(b"\0")
                # One channel: name, NUL, 16 bytes of type/sampling, the list's closing NUL.
                if len(value) != first_end + 1 + 16 + 1:
                    return None
                return value_at, value[:first_end].decode("utf-8")
            pos = value_at + size
    except (ValueError, struct.error):  # truncated header
        return None


def name_depth_channel(path: str | Path, new: str = DEPTH_CHANNEL) -> bool:
    """Rename the single channel of a one-channel EXR to `new` (same length) in place.

    Returns True when the file was changed, False when it already had that name or is not a
    one-channel EXR: judging a bad file is the frame check's and the readers' job, with their
    own messages.
    """
    with open(path, "r+b") as fh:
        head = fh.read(65536)
        found = _single_channel_offset(head)
        if found is None:
            return False
        offset, old = found
        if old == new:
            return False
        if len(old.encode()) != len(new.encode()):
            raise ImageFormatError(f"{path}: cannot rename channel {old!r} to {new!r} in place")
        fh.seek(offset)
        fh.write(new.encode())
    return True
