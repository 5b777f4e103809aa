"""`orbitfarm render`: render subjects on this machine through the worker (no job directory)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
