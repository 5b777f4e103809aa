"""What every cluster target reads from its profile the same way: how nodes start the worker
(`python:` or `blender:`), where they see this machine's paths (`path_map`), and which keys a
profile may hold (a misspelt key is refused, not ignored); and the job's record in target.json
(`_record`). ScriptNodes adds, for targets whose nodes run task_script.py's bash script, the
nodes' OS and its env and path map entries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from ..launch.runtime import Runtime
from ..model.settings import unknown_keys_error
from .base import TargetError
from .pathmap import PathMap
from .task_script import INDEX_VARIABLE

if TYPE_CHECKING:
    from ..files.jobdir import JobDir


class ClusterNodes:
    """Mixed into a Target whose tasks run on cluster nodes (reads `self.profile`)."""

    profile: dict[str, Any]
    kind: ClassVar[str]
    # Where _record keeps this kind's submissions in target.json (the kinds that use it).
    record_key: ClassVar[str] = "submissions"
    record_empty: ClassVar[type] = list

    @property
    def path_map(self) -> PathMap:
        return PathMap.from_profile(self.profile.get("path_map"))

    def _record(self, job: JobDir) -> dict[str, Any]:
        """The job's target.json, checked to be this kind's, with the `record_key` entry."""
        record = job.target_record()
        if record.get("kind") not in (None, self.kind):
            raise TargetError(f"job {job.path} was submitted to a {record['kind']!r} target, "
                              f"not {self.kind}")
        record.setdefault("kind", self.kind)
        record.setdefault(self.record_key, self.record_empty())
        return record

    def runtime(self) -> Runtime:
        """The runtime on the nodes: `python:` (bpy wheel) or `blender:` (default `blender`)."""
        if self.profile.get("python"):
            return Runtime("python", str(self.profile["python"]))
        return Runtime("blender", str(self.profile.get("blender") or "blender"))


def refuse_unknown_keys(kind: str, profile: dict[str, Any], known: Iterable[str],
                       hint: str = "") -> None:
    """Raise TargetError naming every key of `profile` that `kind` does not know (then `hint`)."""
    known = set(known)
    unknown = set(profile) - known
    if unknown:
        raise TargetError(f"{kind} profile {profile.get('name', '')!r}: "
                          + unknown_keys_error("key(s)", unknown, known) + hint)


SCRIPT_OS = ("linux", "mac")  # task_script.py writes bash


class ScriptNodes(ClusterNodes):
    """Mixed into a Target whose nodes run task_script.py's bash script (command, Deadline
    Cloud, accsyn): `os:` names the nodes' OS, which picks `env` and `path_map` entries, and
    the job's own record in target.json holds one list or mapping under `record_key`."""

    index_variable: ClassVar[str] = INDEX_VARIABLE
    record_key: ClassVar[str] = "jobs"

    @property
    def node_os(self) -> str:
        return str(self.profile.get("os") or "linux")

    @property
    def path_map(self) -> PathMap:
        return PathMap.from_profile(self.profile.get("path_map"), self.node_os)

    @classmethod
    def check_profile(cls, profile: dict[str, Any]) -> None:
        raise NotImplementedError  # each kind checks its own keys, then check_script_profile()

    def check(self) -> None:
        self.check_profile(self.profile)

    def node_environment(self) -> dict[str, str]:
        from .node_env import environment

        return environment(self.profile, self.node_os)

    @staticmethod
    def check_script_profile(kind: str, profile: dict[str, Any]) -> None:
        """The checks every script-node profile shares: os, env, setup and path_map."""
        from .node_env import environment

        node_os = profile.get("os", "linux")
        if node_os not in SCRIPT_OS:
            raise TargetError(f"{kind} profile: os must be one of {', '.join(SCRIPT_OS)} (the "
                              "task script is bash)")
        environment(profile, str(node_os))
        setup = profile.get("setup") or []
        if not isinstance(setup, list) or not all(isinstance(s, str) for s in setup):
            raise TargetError(f"{kind} profile: setup must be a list of shell lines")
        PathMap.from_profile(profile.get("path_map"), str(node_os))
