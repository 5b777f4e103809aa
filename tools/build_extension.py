"""Build the orbitfarm extension zip the way `blender --command extension build` does.

Runs Blender's own builder (`addons_core/bl_pkg/cli/blender_ext.py`, shipped inside the bpy wheel
and runnable with plain Python 3.11): first `validate`, then `build`. The PyYAML wheels named in
blender_manifest.toml are downloaded with pip into wheels/ when missing (pinned by exact file name;
wheels/ is a cache that git ignores, so the repository carries no binaries).

    python tools/build_extension.py [--output-dir dist] [--blender-ext PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "blender_manifest.toml"

# name-version-python-abi-platform.whl (no build tag in the wheels we pin)
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


class BuildError(RuntimeError):
    """The extension cannot be built; the message says why and what to do."""


def find_blender_ext() -> Path:
    """Path of Blender's extension builder inside this Python's bpy wheel."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(
            "bpy is not installed in this Python: run `make venv` (or pass --blender-ext PATH to "
            "Blender's scripts/addons_core/bl_pkg/cli/blender_ext.py)"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise BuildError("the bpy wheel has no addons_core/bl_pkg/cli/blender_ext.py; pass --blender-ext")


def manifest_wheels(source_dir: Path) -> list[Path]:
    """The wheel files the manifest bundles, as absolute paths."""
    with open(source_dir / MANIFEST, "rb") as fh:
        manifest = tomllib.load(fh)
    return [(source_dir / rel).resolve() for rel in manifest.get("wheels", [])]


def download_wheel(target: Path) -> None:
    """Download exactly this wheel file name from PyPI with pip (no dependencies, binary only)."""
    m = _WHEEL.match(target.name)
    if not m:
        raise BuildError(f"{target.name}: not a wheel file name pip can fetch (name-ver-py-abi-plat)")
    py, abi = m["py"], m["abi"]
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            f"{m['name']}=={m['version']}"]
    if py.startswith("cp") and py[2:].isdigit():
        args += ["--implementation", "cp", "--python-version", f"{py[2]}.{py[3:]}"]
    if abi != "none":
        args += ["--abi", abi]
    for plat in m["plat"].split("."):
        if plat != "any":  # pure-Python wheels fit every platform
            args += ["--platform", plat]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        done = subprocess.run([*args, "--dest", tmp], capture_output=True, text=True)
        got = Path(tmp) / target.name
        if done.returncode != 0 or not got.is_file():
            detail = (done.stderr.strip().splitlines() or ["pip fetched a different file"])[-1]
            raise BuildError(
                f"could not download {target.name} with pip ({detail}); check the network or put "
                f"the file into {target.parent} by hand"
            )
        got.replace(target)


def ensure_wheels(source_dir: Path = ROOT) -> list[Path]:
    """Make sure every wheel the manifest lists exists (downloading missing ones)."""
    wheels = manifest_wheels(source_dir)
    for wheel in wheels:
        if not wheel.is_file():
            print(f"downloading {wheel.name}", flush=True)
            download_wheel(wheel)
    return wheels


def run_builder(blender_ext: Path, *args: str) -> str:
    """Run Blender's builder with plain Python; raise BuildError with its output on failure."""
    done = subprocess.run([sys.executable, str(blender_ext), *args], capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or "FATAL_ERROR" in output:
        raise BuildError(f"blender_ext {args[0]} failed:\n{output}")
    return output


def build(output_dir: Path, source_dir: Path = ROOT, blender_ext: Path | None = None) -> Path:
    """Validate and build the extension zip into output_dir; return the zip's path."""
    builder = blender_ext or find_blender_ext()
    ensure_wheels(source_dir)
    run_builder(builder, "validate", str(source_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(source_dir / MANIFEST, "rb") as fh:
        manifest = tomllib.load(fh)
    zip_path = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    run_builder(builder, "build", "--source-dir", str(source_dir),
                "--output-filepath", str(zip_path))
    run_builder(builder, "validate", str(zip_path))
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--blender-ext", type=Path, default=None,
                        help="Blender's bl_pkg/cli/blender_ext.py (default: from the bpy wheel)")
    args = parser.parse_args(argv)
    try:
        zip_path = build(args.output_dir.resolve(), ROOT, args.blender_ext)
    except BuildError as exc:
        print(f"build_extension: error: {exc}", file=sys.stderr)
        return 2
    print(f"built {zip_path} ({zip_path.stat().st_size // 1024} KiB); validation passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
