"""Finding subjects: .blend and mesh/scene files (model/subject_formats.py) given directly or
found in folders, and their output names.

Shared by `orbitfarm render`, `orbitfarm submit` and the batch panel, so a subject gets the same
output folder (DIR/<file stem>/) whichever way it is rendered. USD layers that another layer of
the same folder search composes (sublayers, references, payloads) are parts of that subject,
not subjects of their own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..model.settings import SettingsError
from ..model.subject_formats import extensions_text, is_subject_file, subject_format


class SubjectsError(SettingsError):
    """The files or folders given do not name any usable subject file."""


def subjects_in_folder(folder: Path, recursive: bool = True) -> list[Path]:
    """Subject files under `folder`, sorted; hidden folders (e.g. .orbitfarm job directories),
    hidden files, backups (.blend1) and USD layers composed by another found layer are
    skipped."""
    from .sidecars import composed_layers

    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(Path(root) / f for f in sorted(files) if is_subject_file(f))
    parts = composed_layers(found)
    return [f for f in found if f not in parts]


def find_blends(files_or_dirs: list[str]) -> list[tuple[Path, Path]]:
    """(subject file, project folder) for each file, and each subject file found recursively
    in folders."""
    found: dict[Path, Path] = {}
    for item in files_or_dirs:
        path = Path(os.path.abspath(os.path.expanduser(item)))
        if path.is_dir():
            for blend in subjects_in_folder(path):
                found.setdefault(blend, path)
        elif path.is_file():
            if subject_format(path) is None:
                raise SubjectsError(f"{item}: not a subject file ({extensions_text()})")
            found.setdefault(path, path.parent)
        else:
            raise SubjectsError(f"{item}: no such file or folder")
    if not found:
        raise SubjectsError(f"no subject files ({extensions_text()}) found in "
                            f"{', '.join(files_or_dirs) or 'the arguments'}")
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
        file_names = sorted({b.name for b in group})
        called = file_names[0] if len(file_names) == 1 else f"{stem} ({', '.join(file_names)})"
        notes.append(f"{len(group)} files are called {called}: their outputs go to "
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
