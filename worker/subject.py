"""Load any subject file: open a .blend, or import a mesh/USD file into a fresh empty scene.

What the pipeline needs afterwards is the same for both; imports add what result.json records
about them (format, importer and options, clip, triangles, textures resolved) and the cache
readers that count as animation (clip.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..submitter.model.subject_formats import BLEND, subject_format
from .clip import cache_readers, choose_range
from .importers import import_subject
from .scene import load_blend


@dataclass
class LoadedSubject:
    """What loading added: result.json fields (none for a .blend), warnings, cache evidence."""

    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cache_evidence: list[str] = field(default_factory=list)


def load_subject(path: str) -> tuple[Any, LoadedSubject]:
    """(scene, what loading found); SubjectError with the reason when it cannot be loaded."""
    fmt = subject_format(path)
    if fmt is None or fmt is BLEND:  # other names are opened as .blend, as they always were
        return load_blend(path), LoadedSubject()
    scene, info = import_subject(path, fmt)
    loaded = LoadedSubject(fields=info.to_result(), warnings=list(info.warnings))
    loaded.fields["clip"] = choose_range(scene, fmt.name)
    loaded.cache_evidence = cache_readers()
    return scene, loaded
