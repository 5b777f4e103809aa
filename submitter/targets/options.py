"""`orbitfarm submit`'s target options: one namespace per target kind, clashes refused.

Each kind declares its options (Target.cli_options); they are added in a group of their own with
destinations `<kind>.<profile key>`, so two kinds never share a value by accident. Two kinds
declaring the same flag is a programming error, raised when the parser is built.
"""

from __future__ import annotations

import argparse
from typing import Any

from .base import Target


def add_target_options(parser: argparse.ArgumentParser, kinds: dict[str, type[Target]]) -> None:
    """Add every kind's options to `parser`; raise ValueError when two kinds claim a flag."""
    owner: dict[str, str] = {}
    for kind, cls in kinds.items():
        options = cls.cli_options()
        if not options:
            continue
        group = parser.add_argument_group(f"{kind} target (override the profile)")
        for option in options:
            for flag in option.flags:
                if flag in owner:
                    raise ValueError(f"target option {flag} is declared by both the "
                                     f"{owner[flag]!r} and the {kind!r} target")
                owner[flag] = kind
            kwargs: dict[str, Any] = {"dest": f"{kind}.{option.key}", "help": option.help,
                                      "default": None}
            if option.metavar:
                kwargs["metavar"] = option.metavar
            if option.append:
                kwargs["action"] = "append"
            else:
                kwargs["type"] = option.type
            group.add_argument(*option.flags, **kwargs)


def target_option_values(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The options of `kind` in parsed arguments, by profile key (None: not given)."""
    prefix = f"{kind}."
    return {dest[len(prefix):]: value for dest, value in vars(args).items()
            if dest.startswith(prefix)}
