"""Package discovery for the root-mapped package (pyproject.toml holds everything else).

The repo root *is* the package `orbitfarm` (package-dir in pyproject.toml), which setuptools'
own discovery cannot prefix; so every folder with an __init__.py under the code folders is
found here and a new sub-package needs no edit anywhere.
"""

from pathlib import Path

from setuptools import find_packages, setup

CODE_FOLDERS = ("submitter", "worker", "operators", "panels")
HERE = Path(__file__).resolve().parent


def packages(root: str | Path = HERE) -> list[str]:
    found = find_packages(str(root), include=[f"{f}*" for f in CODE_FOLDERS])
    return ["orbitfarm", *sorted(f"orbitfarm.{p}" for p in found)]


if __name__ == "__main__":
    setup(packages=packages())
