"""`make bench`: run every benchmark in turn (add more bench modules to BENCHES)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["worker_bench", "animation_bench", "mesh_group_bench", "formats_bench", "passes_bench",
           "jobs_bench", "slurm_bench", "ray_bench", "k8s_bench", "submit_bench", "report_bench"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    for name in BENCHES:
        print(f"== {name}", flush=True)
        _load(name).main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
