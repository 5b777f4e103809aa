"""Which files are subjects: the one table of extension -> format and the Blender importer.

Plain Python. `.blend` files are opened; every other format is imported into a fresh empty
scene by Blender's own importer (worker/importers.py). The operator names are the same in
Blender 4.2 to 5.x; Collada (`.dae`) was removed in 5.0, so the worker checks that its
importer exists and says "not supported by this Blender" when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any


@dataclass(frozen=True)
class SubjectFormat:
    """One subject file format: its name, the importer (None: opened as a .blend), options.

    native: the importer is C++ code; a damaged file can abort the whole process there
    (truncated Alembic: SIGABRT), so the worker tries it in a forked child first.
    """

    name: str
    operator: str | None
    options: dict[str, Any] = field(default_factory=dict)
    native: bool = True


BLEND = SubjectFormat("blend", None, native=False)
_USD = SubjectFormat("usd", "wm.usd_import")

# The extension table. Importer options are the importers' defaults made explicit where they
# decide what renders (axes), so result.json records exactly what was used.
FORMATS: dict[str, SubjectFormat] = {
    ".blend": BLEND,
    ".glb": SubjectFormat("gltf", "import_scene.gltf", native=False),
    ".gltf": SubjectFormat("gltf", "import_scene.gltf", native=False),
    ".obj": SubjectFormat("obj", "wm.obj_import", {"forward_axis": "NEGATIVE_Z",
                                                    "up_axis": "Y"}),
    ".fbx": SubjectFormat("fbx", "import_scene.fbx", native=False),
    ".ply": SubjectFormat("ply", "wm.ply_import"),
    ".stl": SubjectFormat("stl", "wm.stl_import"),
    ".usd": _USD,
    ".usda": _USD,
    ".usdc": _USD,
    ".usdz": _USD,
    ".abc": SubjectFormat("alembic", "wm.alembic_import"),
    ".dae": SubjectFormat("collada", "wm.collada_import"),
}
EXTENSIONS = tuple(FORMATS)


def subject_format(path: str | PurePath) -> SubjectFormat | None:
    """The format of a subject file by its extension (any case); None: not a subject."""
    return FORMATS.get(PurePath(path).suffix.lower())


def is_subject_file(name: str) -> bool:
    """A file name that is a subject (hidden files and .blend1 backups are not)."""
    return not name.startswith(".") and subject_format(name) is not None


def file_filter_glob() -> str:
    """The file browser filter listing every subject extension."""
    return ";".join(f"*{ext}" for ext in EXTENSIONS)


def extensions_text() -> str:
    """'.blend, .glb, ...' for messages."""
    return ", ".join(EXTENSIONS)
