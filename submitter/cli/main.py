"""`orbitfarm` command line: one parser, subcommands registered by the modules that own them."""

from __future__ import annotations

import argparse
import errno
import sys

from ..formats import FormatError
from ..launch.runtime import NoRuntimeError
from ..model.settings import SettingsError
from ..targets.base import TargetError
from . import export as cmd_export
from . import jobs as cmd_jobs
from . import render as cmd_render
from . import web as cmd_web
from .options import glue_negative_lists

_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError, SettingsError, TargetError, NoRuntimeError, FileNotFoundError, FormatError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orbitfarm",
        description="Orbit-render datasets (RGB PNG, depth EXR, camera poses) from .blend files, "
                    "on this machine or a cluster.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cmd_render.register(sub)
    cmd_jobs.register(sub)
    cmd_export.register(sub)
    cmd_web.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(glue_negative_lists(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as exc:
        print(f"orbitfarm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _FULL_DISK:
            raise
        # Disk full or over quota anywhere (a job directory, an index, a log): one line.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"orbitfarm {args.command}: error: {exc.strerror}{where}; free some space and "
              "run the command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"orbitfarm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
