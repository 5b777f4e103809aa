"""Job commands: submit, status, wait, retry, cancel, logs, jobs, targets."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
