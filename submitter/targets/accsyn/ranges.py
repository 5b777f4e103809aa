"""accsyn's item ranges <-> orbitfarm's frame lists.

accsyn (compute jobs, `range`): entries separated by commas or spaces, each "N", "A-B" or
"A-BxS" (every S-th item from A to B). orbitfarm's frame specs use the same entries with commas
only, so a spec reads the same on both sides; what differs is which text each side writes for a
set of frames. to_accsyn() writes the shortest-looking form with steps ("1-97x4"), from_accsyn()
reads any accsyn range into sorted frame numbers.
"""

from __future__ import annotations

import re

_ENTRY = re.compile(r"^(\d+)(?:-(\d+)(?:x(\d+))?)?$")


class RangeError(ValueError):
    """An accsyn range that cannot be read; the message says which entry."""


def from_accsyn(text: str) -> list[int]:
    """'1-10x3 20,22' -> [1, 4, 7, 10, 20, 22] (sorted, de-duplicated)."""
    frames: set[int] = set()
    entries = [e for e in re.split(r"[,\s]+", str(text).strip()) if e]
    if not entries:
        raise RangeError(f"empty accsyn range {text!r}")
    for entry in entries:
        found = _ENTRY.match(entry)
        if not found:
            raise RangeError(f"bad accsyn range entry {entry!r} in {text!r} (N, A-B or A-BxS)")
        start = int(found.group(1))
        end = int(found.group(2) or start)
        step = int(found.group(3) or 1)
        if end < start or step < 1:
            raise RangeError(f"accsyn range entry {entry!r} runs backwards or has step 0")
        frames.update(range(start, end + 1, step))
    return sorted(frames)


def to_accsyn(frames: list[int]) -> str:
    """Sorted unique frames -> an accsyn range: runs of one step become 'A-B' or 'A-BxS'."""
    ordered = sorted(set(frames))
    if not ordered:
        raise RangeError("an accsyn range needs at least one frame")
    if ordered[0] < 0:
        raise RangeError("accsyn ranges hold non-negative numbers")
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        # The longest run from i with one step; a run of two is only worth it with step 1.
        j = i
        if i + 1 < len(ordered):
            step = ordered[i + 1] - ordered[i]
            j = i + 1
            while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
                j += 1
            if j - i == 1 and step != 1:
                j = i
        if j == i:
            parts.append(str(ordered[i]))
        elif ordered[j] - ordered[j - 1] == 1:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.append(f"{ordered[i]}-{ordered[j]}x{ordered[j] - ordered[j - 1]}")
        i = j + 1
    return ",".join(parts)
