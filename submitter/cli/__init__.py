"""The `orbitfarm` command line (argparse front door): main.py builds the parser, render.py,
jobs.py and export.py register their subcommands, options.py holds the shared render options.
May import everything in submitter/; nothing imports it but the console script and the panel's
list of user errors. `orbitfarm.submitter.cli:main` is the console-script entry point.
"""

from .main import USER_ERRORS, UserError, build_parser, main

__all__ = ["USER_ERRORS", "UserError", "build_parser", "main"]
