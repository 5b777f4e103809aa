"""Kubernetes target: orbitfarm's own cost of one status poll of a 10,000-task job.

    python bench/k8s_bench.py [--tasks 10000]

There is no cluster here, so this measures what orbitfarm does with the two list answers of a
poll (the job's Jobs and pods, as JSON of the size the API returns: each pod carries its
~1.5 kB container line): parsing them and mapping every pod to its task's state. The API
server's own list time is not included.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str]) -> int:
    from orbitfarm.submitter.targets.kubernetes.status import Unit, unit_states

    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    n = parser.parse_args(argv).tasks
    pods = [{"metadata": {"name": f"orbitfarm-j-1-{i}-abcde", "creationTimestamp":
                          "2026-12-03T14:00:00Z", "labels": {"orbitfarm.io/submission": "1"},
                          "annotations": {"batch.kubernetes.io/job-completion-index": str(i)}},
             "spec": {"containers": [{"name": "worker", "image": "img",
                                      "command": ["/bin/sh", "-c", "x" * 1500]}]},
             "status": {"phase": "Failed" if i % 100 == 0 else "Succeeded",
                        "containerStatuses": [{"image": "img", "state": {"terminated": {
                            "exitCode": 1 if i % 100 == 0 else 0, "reason": "Error"}}}]}}
            for i in range(n)]
    text = json.dumps({"items": pods})
    started = time.monotonic()
    items = json.loads(text)["items"]
    parsed = time.monotonic()
    states = unit_states(Unit("orbitfarm-j-1", "job", list(range(n))),
                         {"metadata": {"name": "orbitfarm-j-1"}, "status": {}}, items)
    mapped = time.monotonic()
    failed = sum(s.exit_code == 1 for s in states.values())
    print(f"{n} pods ({len(text) / 1e6:.1f} MB): parse {parsed - started:.2f} s, "
          f"map {mapped - parsed:.2f} s ({failed} failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
