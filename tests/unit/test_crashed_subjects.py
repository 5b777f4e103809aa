"""Which subject a dead attempt was rendering, and how the next attempt starts with it failed."""

from __future__ import annotations

import json

import pytest
from orbitfarm.submitter.files.taskstate import TaskStateWriter

REASON = "the worker process died while rendering this subject (attempt 1: {})"


def _died(state: str = "failed", exit_code: int | None = -6, **more) -> dict:
    return {"task": "t00000", "state": state, "attempt": 1, "exit_code": exit_code,
            "subjects": {"a": {"status": "rendered", "frames_done": 4, "frames_total": 4},
                         "b": {"status": "rendering", "frames_done": 1, "frames_total": 4}},
            **more}


def _start(tmp_path, state: dict) -> dict:
    path = tmp_path / "tasks" / "t00000.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(state))
    return TaskStateWriter(path, "t00000").data


@pytest.mark.parametrize(("state", "ended"), [
    (_died(), "signal 6 (SIGABRT)"),
    (_died(exit_code=-11), "signal 11 (SIGSEGV)"),
    (_died(exit_code=134), "exit code 134"),
    (_died("running", None), "no exit code known"),  # died, then started again unreconciled
    ({"state": "queued", "attempt": 1, "previous": _died()}, "signal 6 (SIGABRT)"),  # a retry
])
def test_the_subject_in_progress_is_failed_at_once(tmp_path, state, ended):
    data = _start(tmp_path, state)
    assert data["attempt"] == 2
    assert data["subjects"] == {"b": {"status": "failed", "reason": REASON.format(ended),
                                      "crashed": [1], "frames_done": 1, "frames_total": 4}}
    assert data["frames_done"] == 0  # totals are the worker's to count as it goes


@pytest.mark.parametrize("state", [
    _died("cancelled"), _died("lost"), _died("done", 0),
    _died(exit_code=-9), _died(exit_code=-15), _died(exit_code=128 + 15),  # stopped from outside
])
def test_no_subject_is_blamed_for_a_stop_it_did_not_cause(tmp_path, state):
    assert _start(tmp_path, state)["subjects"] == {}


def test_a_subject_that_killed_an_attempt_stays_failed(tmp_path):
    second = _start(tmp_path, _died())
    second.update(state="failed", exit_code=1)
    second["subjects"]["a"] = {"status": "rendered", "frames_done": 4, "frames_total": 4}
    third = _start(tmp_path, {"state": "queued", "attempt": 2, "previous": second})
    assert third["attempt"] == 3
    assert third["subjects"] == {"b": second["subjects"]["b"]}
