"""NGC profile options and the `batch run` requests orbitfarm makes: pure, no SDK needed.

One NGC job per orbitfarm task (the seed's per-sequence jobs), its plan index written into the
command. A request is the keyword arguments of ngcsdk's `jobs.run()`, which are `ngc batch
run`'s flags (instance, image, commandline, result, workspace, priority, label, env_var, ...):
`--dry-run` writes them, submit passes them. Seed 001's monitor, done right: the profile lists an
instance ladder (`instances: [dgx1v.16g.1.norm, dgx1v.32g.1.norm]`); attempt n runs on rung n
(the last rung for every later attempt), so `wait --retry` relaunches a failed task on the next
instance type. Every job carries the label orbitfarm_<job id>, by which a poll lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..base import TargetError
from ..cloud import profile_values
from ..container_line import NodeView, container_line

PRIORITIES = ("LOW", "NORMAL", "HIGH")


@dataclass(frozen=True)
class NgcOptions:
    """The profile's keys (kind: ngc); unknown keys are refused."""

    org: str = ""
    ace: str = ""
    image: str = ""  # org/[team/]image:tag in the NGC registry
    instances: tuple[str, ...] = ()  # the ladder: attempt n runs on instances[n-1]
    team: str | None = None
    result: str = "/results"
    workspaces: tuple[str, ...] = ()  # id:/mount[:RW|RO], as `ngc batch run --workspace`
    priority: str = "NORMAL"
    env: dict[str, str] = field(default_factory=dict)
    max_runtime: int | None = None  # seconds per job (total_runtime)
    preempt: str = "RUNONCE"
    api_url: str | None = None  # NGC_CLI_API_URL (read by ngcsdk when it is imported)
    auth_url: str | None = None  # NGC_CLI_AUTH_URL
    setup: tuple[str, ...] = ()

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> NgcOptions:
        names = {f.name for f in fields(cls)}
        values = profile_values("ngc", profile, names | {"instance"},
                                "NGC_CLI_API_KEY or ~/.ngc/config")
        try:
            ladder = values.pop("instance", None) or values.get("instances") or []
            values["instances"] = tuple([ladder] if isinstance(ladder, str) else ladder)
            values["workspaces"] = tuple(_workspace(w) for w in profile.get("workspaces") or [])
            return cls(**values).validate()
        except (TargetError, TypeError, ValueError) as exc:
            raise TargetError(f"ngc profile {profile.get('name', '')!r}: {exc}") from None

    def validate(self) -> NgcOptions:
        for key in ("org", "ace", "image"):
            if not getattr(self, key):
                raise TargetError(f"{key} is required")
        if ":" not in self.image.rsplit("/", 1)[-1]:
            raise TargetError(f"image {self.image!r} needs a tag (org/team/image:tag)")
        if not self.instances:
            raise TargetError("instances is required: the instance types to use, in the order "
                              "retries climb them, e.g. [dgx1v.16g.1.norm, dgx1v.32g.1.norm]")
        if self.priority not in PRIORITIES:
            raise TargetError(f"priority must be one of {', '.join(PRIORITIES)}")
        return self

    def instance_for(self, attempt: int) -> str:
        return self.instances[min(max(attempt, 1), len(self.instances)) - 1]


def _workspace(entry: Any) -> str:
    if isinstance(entry, str) and entry.count(":") >= 1:
        return entry
    if isinstance(entry, dict) and entry.get("id") and entry.get("mount"):
        return f"{entry['id']}:{entry['mount']}:{entry.get('mode', 'RW')}"
    raise TargetError(f"workspaces entry {entry!r}: give {{id: ..., mount: /path, mode: RW}}")


def job_label(job_id: str) -> str:
    """The label every NGC job of an orbitfarm job carries (letters, digits, underscores)."""
    return "orbitfarm_" + "".join(c if c.isalnum() else "_" for c in job_id).lower()


def run_request(opts: NgcOptions, view: NodeView, *, job_id: str, task_id: str, index: int,
                attempt: int) -> dict[str, Any]:
    """Keyword arguments of jobs.run() (= `ngc batch run` flags) for one task's attempt."""
    line = container_line(view, list(opts.setup), [index])
    request: dict[str, Any] = {
        "name": f"orbitfarm-{job_id}-{task_id}-a{attempt}",
        "org": opts.org, "team": opts.team, "ace": opts.ace,
        "instance": opts.instance_for(attempt),
        "image": opts.image,
        "commandline": line,
        "result": opts.result,
        "workspace": list(opts.workspaces),
        "priority": opts.priority,
        "preempt": opts.preempt,
        "label": [job_label(job_id)],
        "env_var": [f"{k}:{v}" for k, v in opts.env.items()],
    }
    if opts.max_runtime:
        request["total_runtime_seconds"] = int(opts.max_runtime)
    return request
