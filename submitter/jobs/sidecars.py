"""The files a mesh or scene subject refers to (its sidecars), found without Blender.

OBJ: `mtllib` files and the images their `map_*`/`bump`/`disp`/`norm` lines name; glTF: the
`.bin` buffers and images of the JSON (a .glb's JSON chunk too); USD: the asset paths of text
layers (`.usda`: sublayers, references, payloads, textures), followed recursively, and of
binary layers when the `pxr` module (usd-core) is importable; Collada: `<init_from>` images.
A reference that does not resolve as written is looked up by file name beside the subject, as
the worker does: OBJ `.mtl` files written on Windows say `.\\tex.jpg`, FBX files `D:/...`.
FBX, PLY, STL and Alembic files are taken as self-contained (FBX textures by name beside it).
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

_USD_LAYERS = (".usd", ".usda", ".usdc", ".usdz")
_ASSET = re.compile(r"@([^@\n]+)@")
_MTL_MAPS = ("map_", "bump", "disp", "decal", "refl", "norm")


@dataclass
class Sidecars:
    """What a subject file needs beside it: files found, references not found (as written)."""

    found: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, path: Path | None, written: str) -> Path | None:
        if path is None:
            if written not in self.missing:
                self.missing.append(written)
        elif path not in self.found:
            self.found.append(path)
        return path


def resolve(written: str, base: Path, subject_dir: Path) -> Path | None:
    """A reference as the file that holds it wrote it -> an existing file, else None.

    Backslashes are separators (Windows tools write them); a path that does not exist as
    written is looked for by its file name in `base`, then beside the subject.
    """
    text = unquote(written.strip().strip('"')).replace("\\", "/")
    if not text or text.startswith("data:"):
        return None
    path = Path(text) if os.path.isabs(text) else base / text  # "D:/..." is relative here
    if path.is_file():
        return Path(os.path.normpath(path))
    name = text.rsplit("/", 1)[-1]
    for folder in (base, subject_dir):
        if name and (folder / name).is_file():
            return folder / name
    return None


def find_sidecars(subject: Path) -> Sidecars:
    """Every file `subject` refers to, recursively, and what is missing."""
    result = Sidecars()
    ext = subject.suffix.lower()
    if ext == ".obj":
        _obj(subject, result)
    elif ext == ".gltf":
        _gltf(subject, _read_json(subject.read_bytes()), result)
    elif ext == ".glb":
        _gltf(subject, _glb_json(subject), result)
    elif ext in _USD_LAYERS:
        _usd(subject, subject.parent, result, set())
    elif ext == ".dae":
        text = subject.read_text(encoding="utf-8", errors="replace")
        for written in re.findall(r"<init_from>([^<]+)</init_from>", text):
            result.add(resolve(written, subject.parent, subject.parent), written)
    return result


def _obj(subject: Path, result: Sidecars) -> None:
    for line in _lines(subject):
        if line.startswith("mtllib "):
            written = line[len("mtllib "):].strip()
            mtl = result.add(resolve(written, subject.parent, subject.parent), written)
            if mtl is not None:
                for mline in _lines(mtl):
                    if mline.split(" ", 1)[0].lower().startswith(_MTL_MAPS) and " " in mline:
                        # Options (-bm 1, -s 1 1 1, ...) come first; the file name is last.
                        tex = mline.split()[-1]
                        result.add(resolve(tex, mtl.parent, subject.parent), tex)


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace")
            .splitlines()]


def _read_json(data: bytes) -> dict:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}  # the worker's importer gives the reason
    return parsed if isinstance(parsed, dict) else {}


def _glb_json(path: Path) -> dict:
    with open(path, "rb") as fh:
        header = fh.read(20)
        if len(header) < 20 or header[:4] != b"glTF":
            return {}
        length, kind = struct.unpack("<II", header[12:20])
        return _read_json(fh.read(length)) if kind == 0x4E4F534A else {}


def _gltf(subject: Path, doc: dict, result: Sidecars) -> None:
    for key in ("buffers", "images"):
        for item in doc.get(key) or []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                # glTF URIs are exact relative paths: no lookup by name.
                path = subject.parent / unquote(uri)
                result.add(path if path.is_file() else None, uri)


def _usd(layer: Path, subject_dir: Path, result: Sidecars, seen: set[Path]) -> None:
    if layer in seen:
        return
    seen.add(layer)
    ext = layer.suffix.lower()
    written_paths: list[str] | None
    if ext == ".usda" or (ext == ".usd" and _is_text(layer)):
        text = layer.read_text(encoding="utf-8", errors="replace")
        written_paths = _ASSET.findall(text)
    else:
        written_paths = _usd_binary_assets(layer)
        if written_paths is None:
            if ext != ".usdz":
                result.notes.append(f"{layer.name}: a binary USD layer; its references are not "
                                    "traced (pip install usd-core to trace them)")
            return
    for written in written_paths:
        if "<UDIM>" in written or written.startswith(("http:", "https:", "omniverse:")):
            continue
        path = result.add(resolve(written, layer.parent, subject_dir), written)
        if path is not None and path.suffix.lower() in _USD_LAYERS:
            _usd(path, subject_dir, result, seen)


def _is_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(5) == b"#usda"


def _usd_binary_assets(layer: Path) -> list[str] | None:
    """Asset paths of a binary layer through usd-core, when it is installed; else None."""
    try:
        from pxr import Sdf  # type: ignore[import-not-found]
    except ImportError:
        return None
    opened = Sdf.Layer.FindOrOpen(str(layer))
    return [str(p) for p in opened.GetCompositionAssetDependencies()] if opened else []


def composed_layers(files: list[Path]) -> set[Path]:
    """USD layers among `files` that another of them composes: parts, not subjects."""
    parts: set[Path] = set()
    for file in files:
        if file.suffix.lower() in _USD_LAYERS:
            try:
                parts.update(p for p in find_sidecars(file).found if p != file)
            except OSError:
                continue
    return parts
