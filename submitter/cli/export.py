"""`orbitfarm export`: (re)write dataset formats for subject folders already rendered.

Plain Python, no Blender: everything comes from each folder's transforms.json and frame files.
DIR may be one subject folder (it holds transforms.json) or a folder of them (searched
recursively), e.g. the --out of a render.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files.imageio import ImageFormatError
from ..files.layout import TRANSFORMS_FILE
from ..formats import FormatError, write_formats
from .options import add_format_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write dataset formats for rendered subject folders",
                       description="(Re)write dataset formats (nerfstudio transforms.json and "
                                   "depth16/ always; --format adds nerf-synthetic, colmap, "
                                   "opencv) from rendered subject folders. No Blender needed.")
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="a subject folder, or a folder of them (searched recursively)")
    add_format_options(p)
    p.set_defaults(handler=run)


def subject_dirs(root: Path) -> list[Path]:
    """Folders under root (root included) that hold a transforms.json, sorted."""
    if (root / TRANSFORMS_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(TRANSFORMS_FILE)
                  if not any(part.startswith(".") for part in p.relative_to(root).parts))


def run(args: argparse.Namespace) -> int:
    if args.holdout < 0:
        raise FormatError(f"--holdout must be >= 0, got {args.holdout}")
    formats = list(dict.fromkeys(args.formats or []))
    folders: list[Path] = []
    for item in args.dirs:
        root = Path(item).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"{item}: no such folder")
        found = subject_dirs(root)
        if not found:
            raise FormatError(f"{item}: no rendered subject folder (transforms.json) in it")
        folders.extend(found)
    failed = 0
    for folder in dict.fromkeys(folders):
        try:
            warnings = write_formats(folder, formats, args.holdout)
        except (FormatError, ImageFormatError, OSError) as exc:
            failed += 1
            print(f"orbitfarm export: {folder}: failed: {exc}", file=sys.stderr)
            continue
        for warning in warnings:
            print(f"orbitfarm export: {folder}: warning: {warning}", file=sys.stderr)
        print(f"orbitfarm export: {folder}: ok", flush=True)
    return 1 if failed else 0
