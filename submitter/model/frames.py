"""Frame specs: `1-360`, `1,3,5-10`, `1-360x5` -> sorted, de-duplicated frame numbers.

Orbit frames are numbered 1..N (N = frames in one revolution); frame k sits at azimuth 360*k/N.
"""

from __future__ import annotations

import re


class FrameSpecError(ValueError):
    """A frame spec the user typed is malformed or out of range."""


_ITEM = re.compile(r"^(\d+)(?:-(\d+)(?:x(\d+))?)?$")


def parse_frame_spec(spec: str | None, total: int) -> list[int]:
    """Parse a frame spec against an orbit of `total` frames; None or "" means every frame."""
    if total < 1:
        raise FrameSpecError(f"an orbit needs at least 1 frame, got {total}")
    if spec is None or not str(spec).strip():
        return list(range(1, total + 1))
    frames: set[int] = set()
    for raw in str(spec).split(","):
        item = raw.strip().replace(" ", "")
        if not item:
            raise FrameSpecError(f"empty item in frame spec {spec!r} (stray comma?)")
        m = _ITEM.match(item)
        if not m:
            raise FrameSpecError(
                f"bad frame spec item {item!r} in {spec!r}: use N, A-B or A-BxSTEP, "
                "e.g. '1-10,20,30-90x5'"
            )
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) is not None else start
        step = int(m.group(3)) if m.group(3) is not None else 1
        if step < 1:
            raise FrameSpecError(f"step must be at least 1 in {item!r}")
        if min(start, end) < 1 or max(start, end) > total:
            raise FrameSpecError(
                f"frames in {item!r} are outside the orbit's 1-{total} "
                f"(--frames sets how many frames make one revolution)"
            )
        if end < start:
            raise FrameSpecError(f"range {item!r} runs backwards; write {end}-{start}")
        frames.update(range(start, end + 1, step))
    return sorted(frames)


def format_frame_list(frames: list[int]) -> str:
    """Compact inverse of parse_frame_spec for sorted unique frames: [1,2,3,7] -> '1-3,7'."""
    parts: list[str] = []
    i = 0
    while i < len(frames):
        j = i
        while j + 1 < len(frames) and frames[j + 1] == frames[j] + 1:
            j += 1
        parts.append(str(frames[i]) if i == j else f"{frames[i]}-{frames[j]}")
        i = j + 1
    return ",".join(parts)


def chunk_frames(frames: list[int], chunk: int | None) -> list[list[int]]:
    """Split frames into chunks of at most `chunk` frames (None or 0: one chunk)."""
    if not chunk or chunk >= len(frames):
        return [list(frames)] if frames else []
    return [frames[i : i + chunk] for i in range(0, len(frames), chunk)]
