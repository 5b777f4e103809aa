"""The worker task: what one worker process renders. The contract between submitter and worker.

Plain Python (runs inside Blender): json only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .settings import RenderSettings, SettingsError

TASK_FORMAT_VERSION = 1


@dataclass
class Subject:
    """One subject file to render and the directory its outputs go to."""

    blend: str  # absolute path of the .blend the worker opens, or the mesh/USD file it imports
    out: str  # absolute path of DIR/<stem>/
    name: str = ""  # display name (defaults to the file stem)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = Path(self.blend).stem


@dataclass
class WorkerTask:
    """What one worker process renders: subjects in turn, each for `frames` (None: all)."""

    settings: RenderSettings
    subjects: list[Subject]
    frames: list[int] | None = None  # a chunk of settings.frame_list(); None = all of them
    force: bool = False  # re-render frames that already exist
    state_file: str | None = None  # job directory task state (running/heartbeat/done); optional
    task_id: str = ""
    subject_timeout: float | None = None  # seconds; None = no limit
    version: int = TASK_FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> WorkerTask:
        data = json.loads(text)
        if data.get("version") != TASK_FORMAT_VERSION:
            raise SettingsError(
                f"task file format {data.get('version')!r} is not {TASK_FORMAT_VERSION}: "
                "the worker code and the submitter are from different orbitfarm versions"
            )
        data["settings"] = RenderSettings.from_dict(data["settings"])
        data["subjects"] = [Subject(**s) for s in data["subjects"]]
        return cls(**data)

    def write(self, path: str | Path) -> None:
        from ..files.atomic import atomic_write_text

        atomic_write_text(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> WorkerTask:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
