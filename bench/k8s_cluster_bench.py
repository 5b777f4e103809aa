"""Kubernetes target against the real v1.20 control plane (tests/kubernetes/controlplane.sh).

    python bench/k8s_cluster_bench.py [--tasks 10000] [--skip-poll] [--kubeconfig FILE]

(1) A small job end to end (one cube, 4 frames at 48x36, 2 samples): wall time from submit to
finished, next to the local target; the pods run on the STAND-IN node agent (local processes:
no kubelet, no containers, so no image pull or container start is in the figure). (2) One status
poll of a 10,000-task job: one Pod per task (v1.20 has no Indexed Jobs), all Pending because
their node selector matches no node (nothing renders); a poll is two list calls (Jobs, pods by
label) answered by the real API server. Its pods are the target's own manifests, created by 16
threads (the target creates them one by one: the rate is printed too). The plane is started here
and stopped afterwards, unless --kubeconfig names a running one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # subjects.py generates .blend files
sys.path.insert(0, str(HERE))


@contextmanager
def _plane() -> Iterator[None]:
    state = tempfile.mkdtemp(prefix="orbitfarm-k8s-bench-")
    env = dict(os.environ, ORBITFARM_K8S_DIR=state, ORBITFARM_K8S_PORT=str(24000 + os.getpid()
                                                                          % 1000 * 4),
               ORBITFARM_K8S_PYTHON=sys.executable)
    script = REPO / "tests" / "kubernetes" / "controlplane.sh"
    started = time.perf_counter()
    proc = subprocess.run(["bash", str(script), "up"], env=env, text=True, capture_output=True,
                          timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"cannot start the control plane here:\n{proc.stderr[-2000:]}")
    print(f"control plane up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    os.environ["KUBECONFIG"] = f"{state}/kubeconfig"
    try:
        yield
    finally:
        subprocess.run(["bash", str(script), "down"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(state, ignore_errors=True)


def _create_in_parallel(target, job, ids: list[str]) -> float:
    """What target.submit does for one attempt, with the pods created by 16 threads; seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from orbitfarm.submitter.targets.kubernetes.manifests import owned_by

    started = time.perf_counter()
    record = target._record(job)
    server = target.server_version()
    record.update(namespace="default", server=f"{server[0]}.{server[1]}")
    manifests, units = target.build(job, ids, 1, 1, server)
    record["submissions"].append({"number": 1, "attempt": 1, "tasks": ids, "units": units,
                                  "submitted": time.time()})
    job.save_target_record(record)
    core, _, _ = target.client
    owner = next(m for m in manifests if m["kind"] == "ConfigMap")
    uid = core.create_namespaced_config_map("default", owner).metadata.uid
    pods = [owned_by(m, owner, uid) for m in manifests if m["kind"] == "Pod"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda pod: core.create_namespaced_pod("default", pod), pods))
    return time.perf_counter() - started


def bench_poll(count: int, polls: int = 3) -> dict[str, object]:
    from gridengine_htcondor_bench import _held_job
    from orbitfarm.submitter.model.states import Phase
    from orbitfarm.submitter.targets import make_target

    profile = {"name": "bench", "kind": "kubernetes", "image": "stand-in/none:1", "gpus": 0,
               "python": sys.executable, "node_selector": {"orbitfarm.io/no-such-node": "x"}}
    with tempfile.TemporaryDirectory(prefix="orbitfarm-k8s-bench-") as tmp:
        job = _held_job(Path(tmp), count, profile)
        target = make_target(profile)
        ids = job.task_ids()
        t_submit = _create_in_parallel(target, job, ids)
        print(f"{count} pods created in {t_submit:.0f} s", file=sys.stderr)
        times = []
        for _ in range(polls):
            start = time.perf_counter()
            seen = target.poll(job, ids)
            times.append(time.perf_counter() - start)
        states = {s.state for s in seen.values()}
        start = time.perf_counter()
        target.cancel(job, None)
        t_cancel = time.perf_counter() - start
    assert len(seen) == count and states == {Phase.PENDING}, states
    return {"tasks": count, "create_s_16_threads": round(t_submit, 1),
            "poll_s": round(min(times), 2), "poll_s_max": round(max(times), 2),
            "calls_per_poll": 2, "cancel_s": round(t_cancel, 2)}


def bench_end_to_end() -> dict[str, float]:
    import subjects
    from orbitfarm.submitter import jobs
    from orbitfarm.submitter.model.settings import RenderSettings

    folder = Path(tempfile.mkdtemp(prefix="orbitfarm-k8s-e2e-"))
    try:
        subjects.make_subject(sys.executable, folder / "scenes" / "cube.blend", "cube")
        settings = RenderSettings(frames=4, width=48, height=36, samples=2, device="cpu")
        result = {}
        for name, options in (("kubernetes", {"kind": "kubernetes", "image": "stand-in/none:1",
                                              "gpus": 0, "python": sys.executable}),
                              ("local", {"kind": "local", "python": sys.executable})):
            request = jobs.SubmitRequest(files=[str(folder / "scenes")],
                                         out=str(folder / f"out-{name}"), settings=settings,
                                         target=options["kind"], target_options=options)
            start = time.perf_counter()
            job = jobs.submit(request)
            status = jobs.wait(job, interval=0.2, timeout=600)
            result[f"{name}_s"] = round(time.perf_counter() - start, 1)
            assert status.ok, jobs.logs(job, tail=20)
            print(f"small job end to end on {name}: {result[f'{name}_s']} s", file=sys.stderr)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--skip-poll", action="store_true")
    parser.add_argument("--kubeconfig", help="a running plane (controlplane.sh up) to use")
    args = parser.parse_args(argv)
    home = tempfile.TemporaryDirectory(prefix="orbitfarm-bench-home-")  # its own jobs index
    os.environ.setdefault("ORBITFARM_HOME", home.name)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    with _plane() if not args.kubeconfig else contextlib.nullcontext():
        report: dict[str, object] = {"end_to_end": bench_end_to_end()}
        if not args.skip_poll:
            report["poll"] = bench_poll(args.tasks)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
