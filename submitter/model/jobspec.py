"""The versioned job spec (JOBDIR/job.yaml): what was asked for, validated with clear messages.

The spec records the request (target profile, chunking, packing, outputs); the plan (plan.json)
records the resulting tasks and the render settings (stored once, there: workers read only
JSON). Job directories made before that also have `settings:` here; they still load.
Loaded with yaml.safe_load only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .settings import JOB_DEFAULTS, JobOptions, RenderSettings, SettingsError

JOB_SPEC_VERSION = 1


class JobSpecError(SettingsError):
    """job.yaml is malformed; the message names the file and the field."""


@dataclass
class JobSpec:
    """One job: subjects x render settings x a target."""

    id: str
    settings: RenderSettings | None  # None: in plan.json (older job.yaml files carry a copy)
    target: dict[str, Any]  # the resolved target profile; always has "kind" (and "name")
    out: str  # output root ("" with inplace)
    sources: list[str] = field(default_factory=list)  # the subject files as the user gave them
    created: float = 0.0
    chunk: int | None = JOB_DEFAULTS.chunk
    group: int = JOB_DEFAULTS.group
    pack: bool = True
    inplace: bool = False
    allow_missing: bool = False
    max_attempts: int = JOB_DEFAULTS.max_attempts
    notify: str | None = None
    force: bool = False
    subject_timeout: float | None = None
    warnings: list[str] = field(default_factory=list)  # preflight warnings accepted at submit
    version: int = JOB_SPEC_VERSION

    def validate(self, where: str = "job spec") -> JobSpec:
        """Raise JobSpecError naming the bad field; return self."""

        def bad(message: str) -> JobSpecError:
            return JobSpecError(f"{where}: {message}")

        if not isinstance(self.id, str) or not self.id:
            raise bad("'id' must be a non-empty string")
        if not isinstance(self.target, dict) or not isinstance(self.target.get("kind"), str):
            raise bad("'target' must be a mapping with a 'kind' (e.g. kind: local)")
        try:
            JobOptions(self.chunk, self.group, self.max_attempts).validate()
        except SettingsError as exc:
            raise bad(str(exc)) from None
        if self.notify is not None and not str(self.notify).startswith(
                ("http://", "https://", "env:", "file:")):
            raise bad("'notify' must be an http(s) URL, env:VARIABLE or file:PATH")
        if not isinstance(self.sources, list) or not all(isinstance(s, str) for s in self.sources):
            raise bad("'sources' must be a list of paths")
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.settings is None:
            del data["settings"]
        else:
            data["settings"] = self.settings.to_dict()
        return data

    def to_yaml(self) -> str:
        import yaml

        header = "# orbitfarm job spec (written by `orbitfarm submit`; the plan is plan.json)\n"
        return header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "job spec") -> JobSpec:
        """Build and validate from parsed YAML; unknown or missing keys are errors."""
        if not isinstance(data, dict):
            raise JobSpecError(f"{where}: expected a mapping at the top level")
        version = data.get("version")
        if version != JOB_SPEC_VERSION:
            raise JobSpecError(
                f"{where}: job spec version {version!r} is not {JOB_SPEC_VERSION}; "
                "use the orbitfarm version that made this job"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise JobSpecError(f"{where}: unknown key(s) {', '.join(unknown)}")
        missing = [k for k in ("id", "target", "out") if k not in data]
        if missing:
            raise JobSpecError(f"{where}: missing key(s) {', '.join(missing)}")
        values = dict(data)
        try:
            values["settings"] = (RenderSettings.from_dict(data["settings"])
                                  if data.get("settings") is not None else None)
        except SettingsError as exc:
            raise JobSpecError(f"{where}: settings: {exc}") from None
        try:
            spec = cls(**values)
        except TypeError as exc:
            raise JobSpecError(f"{where}: {exc}") from None
        return spec.validate(where)

    @classmethod
    def from_yaml(cls, text: str, where: str = "job spec") -> JobSpec:
        import yaml

        from ..files.safe_yaml import YamlLimitError, load

        try:
            data = load(text, where)
        except yaml.YAMLError as exc:
            raise JobSpecError(f"{where}: not valid YAML: {exc}") from None
        except YamlLimitError as exc:
            raise JobSpecError(str(exc)) from None
        return cls.from_dict(data, where)

    @classmethod
    def read(cls, path: str | Path) -> JobSpec:
        path = Path(path)
        return cls.from_yaml(path.read_text(encoding="utf-8"), str(path))

    def write(self, path: str | Path) -> None:
        from ..files.atomic import atomic_write_text

        atomic_write_text(path, self.to_yaml())
