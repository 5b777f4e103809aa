"""Command templates of the `command` target: placeholders filled with shell-quoted values, and
the farm's status lines read back as orbitfarm's scheduler states.

    submit: "farm submit --name {job_name} --log {log} -- bash {script}"
    status: "farm status {native_ids}"        # one call per poll; or {native_id}: one per task
    cancel: "farm kill {native_ids}"

Every placeholder's value is quoted with shlex before it reaches the shell, so a path with
spaces or `$(...)` stays one word; `{{` and `}}` are literal braces. A status line reads
`ID STATE [text]` (with {native_id}: `STATE [text]`); `exit=N` in the text is the exit code and
the rest is the reason. STATE words map to phases by the profile's `states:` over the defaults.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass

from ...model.states import EndReason, Phase
from ..base import SchedulerState, TargetError

SUBMIT_FIELDS = ("job_dir", "job_id", "job_name", "task_id", "task_index", "attempt", "count",
                 "script", "log", "command", "plan")
STATUS_FIELDS = ("job_dir", "job_id", "job_name", "native_id", "native_ids")
CANCEL_FIELDS = STATUS_FIELDS

# What a farm may say -> (phase, end reason); the profile's `states:` names one of these keys.
VERDICTS: dict[str, tuple[Phase, EndReason | None]] = {
    "pending": (Phase.PENDING, None),
    "running": (Phase.RUNNING, None),
    "succeeded": (Phase.ENDED, EndReason.EXITED),
    "failed": (Phase.ENDED, EndReason.EXITED),
    "cancelled": (Phase.ENDED, EndReason.CANCELLED),
    "preempted": (Phase.ENDED, EndReason.KILLED),
    "timeout": (Phase.ENDED, EndReason.TIMEOUT),
    "unknown": (Phase.UNKNOWN, None),
}
DEFAULT_STATES = {
    **{w: "pending" for w in ("pending", "queued", "waiting", "held", "submitted", "scheduled")},
    **{w: "running" for w in ("running", "active", "started", "rendering")},
    **{w: "succeeded" for w in ("succeeded", "success", "done", "completed", "finished", "ok")},
    **{w: "failed" for w in ("failed", "failure", "error", "errored", "crashed")},
    **{w: "cancelled" for w in ("cancelled", "canceled", "killed", "aborted", "stopped")},
    **{w: "preempted" for w in ("preempted", "evicted", "requeued", "suspended")},
    **{w: "timeout" for w in ("timeout", "timedout", "expired")},
    **{w: "unknown" for w in ("unknown", "missing", "gone")},
}
_EXIT = re.compile(r"\bexit(?:_code)?=(-?\d+)\b")


def placeholders(template: str) -> set[str]:
    """The {names} a template uses (raises TargetError for a malformed one)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise TargetError(f"command template {template!r}: {exc} (write literal braces as "
                          "{{ and }})") from None


def check_template(key: str, template: object, allowed: tuple[str, ...]) -> str:
    """A profile's template, checked: a string using only `allowed` placeholders."""
    if not isinstance(template, str) or not template.strip():
        raise TargetError(f"command profile: {key} must be a command line (a string)")
    unknown = sorted(placeholders(template) - set(allowed))
    if unknown:
        raise TargetError(f"command profile: {key} uses unknown placeholder(s) "
                          f"{', '.join('{' + u + '}' for u in unknown)} "
                          f"(known: {', '.join('{' + a + '}' for a in allowed)})")
    return template


def fill(template: str, values: Mapping[str, str | list[str]]) -> str:
    """The template with every placeholder replaced by its shell-quoted value (a list becomes
    several quoted words)."""
    quoted = {k: " ".join(shlex.quote(str(v)) for v in value) if isinstance(value, list)
              else shlex.quote(str(value)) for k, value in values.items()}
    return template.format_map(quoted)


@dataclass
class StatusReader:
    """Reads a farm's status output with the profile's `states:` words over the defaults."""

    states: dict[str, str]

    @classmethod
    def from_profile(cls, extra: object) -> StatusReader:
        words = dict(DEFAULT_STATES)
        if extra:
            if not isinstance(extra, dict):
                raise TargetError("command profile: states must map the farm's words to one of "
                                  + ", ".join(VERDICTS))
            for word, verdict in extra.items():
                if verdict not in VERDICTS:
                    raise TargetError(f"command profile: states: {word!r} -> {verdict!r}; "
                                      f"expected one of {', '.join(VERDICTS)}")
                words[str(word).lower()] = str(verdict)
        return cls(words)

    def state(self, word: str, rest: str, native_id: str) -> SchedulerState:
        """One task's state from the farm's STATE word and the text after it."""
        verdict = self.states.get(word.lower())
        if verdict is None:
            return SchedulerState(Phase.UNKNOWN, native_id=native_id,
                                  reason=f"the farm said {word!r}, which the profile's states: "
                                         "does not name")
        phase, end = VERDICTS[verdict]
        found = _EXIT.search(rest)
        exit_code = int(found.group(1)) if found else None
        text = _EXIT.sub("", rest).strip()
        if verdict == "succeeded" and exit_code is None:
            exit_code = 0
        if verdict == "preempted":
            text = "preempted by the farm" + (f": {text}" if text else "")
        elif verdict in ("failed", "timeout", "cancelled") and not text:
            text = f"the farm reports {word}"
        return SchedulerState(phase, exit_code, text, native_id, end)

    def read_many(self, output: str) -> dict[str, SchedulerState]:
        """Native id -> state from `ID STATE [text]` lines (other lines are ignored)."""
        found: dict[str, SchedulerState] = {}
        for line in output.splitlines():
            words = line.split(None, 2)
            if len(words) >= 2:
                found[words[0]] = self.state(words[1], words[2] if len(words) > 2 else "",
                                             words[0])
        return found

    def read_one(self, output: str, native_id: str) -> SchedulerState:
        """The state from a per-task status call's output (`STATE [text]`, first line)."""
        for line in output.splitlines():
            words = line.split(None, 1)
            if words:
                return self.state(words[0], words[1] if len(words) > 1 else "", native_id)
        return SchedulerState(Phase.UNKNOWN, native_id=native_id,
                              reason="the farm's status command printed nothing")
