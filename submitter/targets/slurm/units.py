"""SLURM time limits and memory sizes: parse, scale (retry escalation) and format them back.

Time formats are sbatch's: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. Memory is a number with an
optional K/M/G/T suffix (megabytes without one), as in `--mem`.
"""

from __future__ import annotations

import math
import re


class UnitError(ValueError):
    """A time limit or memory size a user gave cannot be understood."""


_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)B?$", re.IGNORECASE)
_MEM_FACTOR = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


def parse_time(text: str) -> int:
    """sbatch time limit -> seconds ('12:00:00' -> 43200, '30' -> 1800, '1-0' -> 86400)."""
    value = str(text).strip()
    m = _TIME.match(value)
    if not m or value.lower() in ("infinite", "unlimited"):
        raise UnitError(
            f"time limit {text!r} is not a SLURM time: use MINUTES, MM:SS, HH:MM:SS or "
            "D-HH:MM:SS, e.g. 12:00:00"
        )
    days, a, b, c = m.groups()
    parts = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:
        # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 1:
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:
        hours, minutes, seconds = parts
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def format_time(seconds: int) -> str:
    """Seconds -> D-HH:MM:SS (or HH:MM:SS under a day)."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def parse_mem(text: str | int) -> int:
    """Memory size -> megabytes ('16G' -> 16384, '500' -> 500, '2T' -> 2097152)."""
    m = _MEM.match(str(text).strip())
    if not m:
        raise UnitError(f"memory {text!r} is not a size: use e.g. 16G, 500M or 16000 (megabytes)")
    return max(1, math.ceil(float(m.group(1)) * _MEM_FACTOR[m.group(2).upper()]))


def format_mem(megabytes: int) -> str:
    """Megabytes -> the shortest exact `--mem` value ('16G', '1500M')."""
    if megabytes % 1024 == 0:
        return f"{megabytes // 1024}G"
    return f"{megabytes}M"


def scale_time(text: str, factor: float) -> str:
    """A time limit multiplied by factor (retry escalation), rounded up to whole minutes."""
    seconds = math.ceil(parse_time(text) * factor / 60) * 60
    return format_time(seconds)


def scale_mem(text: str | int, factor: float) -> str:
    """A memory size multiplied by factor (retry escalation), rounded up to whole megabytes."""
    return format_mem(math.ceil(parse_mem(text) * factor))
