"""Finding subjects: .blend files given directly or found in folders, and their output names.

Shared by `orbitfarm render`, `orbitfarm submit` and the batch panel, so a subject gets the same
output folder (DIR/<blend stem>/) whichever way it is rendered.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..model.settings import SettingsError


class SubjectsError(SettingsError):
    """The files or folders given do not name any usable .blend."""


def blends_in_folder(folder: Path, recursive: bool = True) -> list[Path]:
    """.blend files under `folder`, sorted; hidden folders (e.g. .orbitfarm job directories),
    hidden files and backups (.blend1) are skipped."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(Path(root) / f for f in sorted(files)
                     if f.lower().endswith(".blend") and not f.startswith("."))
    return found


def find_blends(files_or_dirs: list[str]) -> list[tuple[Path, Path]]:
    """(blend, project folder) for each file, and each .blend found recursively in folders."""
    found: dict[Path, Path] = {}
    for item in files_or_dirs:
        path = Path(os.path.abspath(os.path.expanduser(item)))
        if path.is_dir():
            for blend in blends_in_folder(path):
                found.setdefault(blend, path)
        elif path.is_file():
            if path.suffix != ".blend":
                raise SubjectsError(f"{item}: not a .blend file")
            found.setdefault(path, path.parent)
        else:
            raise SubjectsError(f"{item}: no such file or folder")
    if not found:
        raise SubjectsError(f"no .blend files found in {', '.join(files_or_dirs) or 'the arguments'}")
    return sorted(found.items())


def subject_names(blends: list[Path]) -> tuple[list[str], list[str]]:
    """Output folder names (the file stem), disambiguated deterministically; plus notes."""
    by_stem: dict[str, list[Path]] = {}
    for blend in blends:
        by_stem.setdefault(blend.stem, []).append(blend)
    names: dict[Path, str] = {}
    notes: list[str] = []
    for stem, group in by_stem.items():
        if len(group) == 1:
            names[group[0]] = stem
            continue
        candidates = {b: f"{b.parent.name}_{stem}" for b in group}
        if len(set(candidates.values())) < len(group):
            candidates = {b: f"{b.parent.name}_{stem}_{_short_hash(str(b))}" for b in group}
        names.update(candidates)
        notes.append(f"{len(group)} files are called {stem}.blend: their outputs go to "
                     + ", ".join(f"{candidates[b]}/ ({b})" for b in sorted(group)))
    taken = set()
    result = []
    for blend in blends:
        name = names[blend]
        while name in taken:  # e.g. a real file already called a_chair.blend
            name = f"{name}_{_short_hash(str(blend))}"
        taken.add(name)
        result.append(name)
    return result, notes


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:6]
