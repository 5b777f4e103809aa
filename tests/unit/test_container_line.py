"""The cloud containers' index lines, run by sh: each copy number finds its own plan index
(contiguous, scattered after a retry, or written in), and a copy without a task stops."""

from __future__ import annotations

import subprocess

import pytest
from orbitfarm.submitter.targets.container_line import index_lines


def _index(indices: list[int], copy: str | None) -> subprocess.CompletedProcess[str]:
    script = "\n".join([*index_lines(indices, "COPY" if copy is not None else None),
                        'echo "$INDEX"'])
    env = {"PATH": "/usr/bin:/bin"} | ({"COPY": copy} if copy is not None else {})
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("indices, copy, expect", [
    ([4, 5, 6], "0", "4"), ([4, 5, 6], "2", "6"),     # offset + copy number
    ([3, 7, 12], "1", "7"), ([3, 7, 12], "2", "12"),  # a retry of scattered tasks
    ([9], None, "9"), ([9], "0", "9"),                # one task: written in
])
def test_each_copy_finds_its_plan_index(indices, copy, expect):
    done = _index(indices, copy)
    assert (done.returncode, done.stdout.strip()) == (0, expect)


@pytest.mark.parametrize("copy, says", [("3", "copy 3 of 3: no task for it"),
                                        ("", "is not set to a copy number"),
                                        ("x1", "is not set to a copy number")])
def test_a_copy_without_a_task_stops(copy, says):
    done = _index([3, 7, 12], copy)
    assert done.returncode == 2 and says in done.stdout


def test_several_indices_need_the_copy_variable():
    with pytest.raises(ValueError, match="numbers the copies"):
        index_lines([1, 2], None)
