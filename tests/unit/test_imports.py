"""The import rules of the code base, checked by walking every module's imports (lazy ones too).

- submitter/ (the core) never imports bpy, the worker or the add-on UI;
- worker/ never imports operators/ or panels/;
- inside submitter/ the folders depend one way: model <- files <- launch <- targets <- jobs <- cli;
- no module imports itself back through others (no import cycles).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("submitter", "worker", "operators", "panels")

# submitter/<folder> -> the submitter folders it may import (besides itself)
LAYERS = {
    "model": {"files.atomic", "files.layout", "files.safe_yaml"},
    "files": {"model"},
    "launch": {"model", "files"},
    "targets": {"model", "files", "launch"},
    "jobs": {"model", "files", "launch", "targets"},
    "formats": {"model", "files"},
    "report": {"model", "files", "jobs", "formats"},
    "cli": {"model", "files", "launch", "targets", "jobs", "formats", "report"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["orbitfarm", *parts])


def _modules() -> dict[str, Path]:
    found = {"orbitfarm": ROOT / "__init__.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `name` imports (absolute names; third-party ones as given)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_the_walk_sees_the_tree():
    graph = _graph()
    assert "orbitfarm.submitter.jobs.job_status" in graph and "orbitfarm.worker.main" in graph
    assert "orbitfarm.submitter.model.states" in graph["orbitfarm.submitter.jobs.job_status"]


def test_the_core_never_imports_blender_the_worker_or_the_ui():
    for name, imported in _graph().items():
        if name.startswith("orbitfarm.submitter"):
            bad = {i for i in imported if i.split(".")[0] in ("bpy", "mathutils")
                   or i.startswith(("orbitfarm.worker", "orbitfarm.operators",
                                    "orbitfarm.panels"))}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_worker_never_imports_the_ui():
    for name, imported in _graph().items():
        if name.startswith("orbitfarm.worker"):
            bad = {i for i in imported if i.startswith(("orbitfarm.operators", "orbitfarm.panels"))}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_core_folders_depend_one_way():
    for name, imported in _graph().items():
        parts = name.split(".")
        if len(parts) < 4 or parts[1] != "submitter" or parts[2] not in LAYERS:
            continue
        allowed = LAYERS[parts[2]] | {parts[2]}
        for target in imported:
            tparts = target.split(".")
            if tparts[:2] != ["orbitfarm", "submitter"] or len(tparts) < 3:
                continue
            rest = ".".join(tparts[2:])
            ok = any(rest == a or rest.startswith(a + ".") for a in allowed)
            assert ok, f"{name} imports {target}: submitter/{parts[2]} may import {sorted(allowed)}"


def test_no_import_cycles():
    graph = _graph()
    # An import of one's own ancestor package (e.g. `from .. import __package__`) is no cycle:
    # Python has imported every ancestor before the module itself.
    local = {n: {i for i in deps if i in graph and i != n and not n.startswith(i + ".")}
             for n, deps in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(local[node]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in sorted(local):
        if node not in state:
            visit(node)
