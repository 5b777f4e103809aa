"""External files a loaded .blend refers to but that are not there: images, libraries, caches,
fonts, volumes. Blender renders on without them (pink or empty): each becomes a warning line in
result.json, and a missing library is named when the subject has nothing left to render.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import bpy


def _path(id_: Any, filepath: str) -> str:
    """Absolute path of `filepath` as Blender resolves it for `id_` (linked IDs: its library)."""
    lib = getattr(id_, "library", None) if not isinstance(id_, bpy.types.Library) else \
        getattr(id_, "parent", None)
    return os.path.normpath(bpy.path.abspath(filepath, library=lib))


def _exists(path: str) -> bool:
    if "<UDIM>" in path or "<UVTILE>" in path:
        return bool(glob.glob(path.replace("<UDIM>", "*").replace("<UVTILE>", "*")))
    return os.path.exists(path)


def missing_libraries() -> list[str]:
    """File paths of linked libraries that cannot be read."""
    return [lib.filepath for lib in bpy.data.libraries
            if not os.path.isfile(_path(lib, lib.filepath))]


def missing_files() -> list[str]:
    """One warning per missing external file the loaded .blend refers to."""
    found = [f"missing linked library {p!r}: its objects, materials, ... are not rendered"
             for p in missing_libraries()]
    for img in bpy.data.images:
        if img.source in ("FILE", "SEQUENCE", "MOVIE", "TILED") and not img.packed_files \
                and img.filepath and not _exists(_path(img, img.filepath)):
            found.append(f"missing image {img.name!r} ({img.filepath}): rendered pink")
    for font in bpy.data.fonts:
        if font.filepath and font.filepath != "<builtin>" and font.packed_file is None \
                and not _exists(_path(font, font.filepath)):
            found.append(f"missing font {font.name!r} ({font.filepath}): text uses the "
                         "built-in font")
    for cache in bpy.data.cache_files:
        if cache.filepath and not _exists(_path(cache, cache.filepath)):
            found.append(f"missing cache file {cache.name!r} ({cache.filepath}): its "
                         "geometry or animation is empty")
    for volume in bpy.data.volumes:
        if volume.filepath and volume.packed_file is None \
                and not _exists(_path(volume, volume.filepath)):
            found.append(f"missing volume file {volume.name!r} ({volume.filepath})")
    for obj in bpy.data.objects:
        if getattr(obj, "is_missing", False):
            found.append(f"linked object {obj.name!r} is missing from its library")
        for mod in getattr(obj, "modifiers", ()):
            found.extend(_missing_caches(obj, mod))
    return found


def _missing_caches(obj: Any, mod: Any) -> list[str]:
    """Baked simulation data on disk that is not there."""
    found = []
    cache = getattr(mod, "point_cache", None)
    if cache is not None and cache.use_external and cache.filepath \
            and not _exists(_path(obj, cache.filepath)):
        found.append(f"missing cache folder {cache.filepath!r} of {obj.name!r} ({mod.name})")
    domain = getattr(mod, "domain_settings", None) if mod.type == "FLUID" else None
    if domain is not None and getattr(mod, "fluid_type", "") == "DOMAIN" \
            and domain.cache_directory and not _exists(_path(obj, domain.cache_directory)):
        found.append(f"missing fluid cache folder {domain.cache_directory!r} of "
                     f"{obj.name!r}: the simulation is empty")
    return found
