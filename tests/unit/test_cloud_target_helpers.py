"""Pure parts of the command / Deadline Cloud / accsyn targets (no SDK, no service): accsyn
ranges both ways (property-tested against orbitfarm's own frame-spec parser), command templates
and status words, per-OS environments and path maps, and the service -> orbitfarm state tables."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from orbitfarm.submitter.model.frames import parse_frame_spec
from orbitfarm.submitter.model.states import EndReason, Phase
from orbitfarm.submitter.targets import make_target
from orbitfarm.submitter.targets.accsyn.payload import bucket_pick, mapped_share_paths
from orbitfarm.submitter.targets.accsyn.ranges import RangeError, from_accsyn, to_accsyn
from orbitfarm.submitter.targets.accsyn.target import task_state as accsyn_state
from orbitfarm.submitter.targets.base import TargetError
from orbitfarm.submitter.targets.command.templates import StatusReader, check_template, fill
from orbitfarm.submitter.targets.deadline_cloud.service import TaskView
from orbitfarm.submitter.targets.deadline_cloud.target import task_state as deadline_state
from orbitfarm.submitter.targets.node_env import environment
from orbitfarm.submitter.targets.pathmap import PathMap

frame_sets = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=60,
                      unique=True).map(sorted)


@given(frame_sets)
def test_accsyn_range_round_trip_and_orbitfarm_reads_it(frames):
    text = to_accsyn(frames)
    assert from_accsyn(text) == frames
    assert parse_frame_spec(text, 400) == frames  # the same text is an orbitfarm frame spec


@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 100), st.integers(1, 9)),
                min_size=1, max_size=6))
def test_orbitfarm_specs_read_the_same_in_accsyn(items):
    spec = ",".join(f"{a}-{a + n}x{s}" if n else str(a) for a, n, s in items)
    assert from_accsyn(spec) == parse_frame_spec(spec, 400)
    assert from_accsyn(spec.replace(",", " ")) == parse_frame_spec(spec, 400)  # spaces too


def test_accsyn_range_examples_and_errors():
    assert to_accsyn(list(range(1, 101, 5))) == "1-96x5"
    assert from_accsyn("1-100x5")[:3] == [1, 6, 11]
    assert to_accsyn([1, 2, 3, 7, 9, 11, 20]) == "1-3,7-11x2,20"
    for bad in ("", "5-1", "1-4x0", "a-b"):
        with pytest.raises(RangeError):
            from_accsyn(bad)


def test_bucket_pick_maps_items_to_plan_indices():
    script = "\n".join([*bucket_pick({1: 4, 3: 5}), 'echo "$PLAN_INDEX"'])
    for item, index in (("1-2", "4"), ("3-4", "5"), ("3", "5"), ("1,2", "4")):
        ran = subprocess.run(["bash", "-c", script], env={"ACCSYN_ITEM": item},
                             capture_output=True, text=True)
        assert ran.stdout.strip() == index, (item, ran)
    ran = subprocess.run(["bash", "-c", script], env={"ACCSYN_ITEM": "9-10"},
                         capture_output=True, text=True)
    assert ran.returncode == 2


def test_command_templates_quote_every_placeholder(tmp_path):
    hostile = str(tmp_path / "a b $(touch PWNED) 'q'")
    line = fill("printf '%s\\n' {script} {native_ids}", {"script": hostile,
                                                         "native_ids": ["1", "x y"]})
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True).stdout
    assert out.splitlines() == [hostile, "1", "x y"]
    assert not (tmp_path / "PWNED").exists()
    assert shlex.split(fill("{{literal}} {x}", {"x": "v"})) == ["{literal}", "v"]
    with pytest.raises(TargetError, match=r"unknown placeholder\(s\) \{nope\}"):
        check_template("submit", "farm {nope}", ("script",))
    with pytest.raises(TargetError, match="literal braces"):
        check_template("submit", "farm {", ("script",))


def test_command_status_words():
    reader = StatusReader.from_profile({"RENDERING_NOW": "running", "zombie": "failed"})
    seen = reader.read_many("7 queued\n8 RENDERING_NOW\n9 failed exit=3 disk full\n"
                            "10 preempted spot\n11 zombie\n12 cancelled\n13 what")
    assert seen["7"].state == Phase.PENDING and seen["8"].state == Phase.RUNNING
    assert (seen["9"].exit_code, seen["9"].reason) == (3, "disk full")
    assert seen["10"].end == EndReason.KILLED and "preempted by the farm: spot" in seen["10"].reason
    assert seen["11"].state == Phase.ENDED and seen["12"].end == EndReason.CANCELLED
    assert seen["13"].state == Phase.UNKNOWN
    with pytest.raises(TargetError):
        StatusReader.from_profile({"x": "exploded"})


def test_command_profile_is_checked_before_packing():
    with pytest.raises(TargetError, match="needs a `status:`"):
        make_target({"kind": "command", "submit": "farm {script}"}).check()
    with pytest.raises(TargetError, match="unknown key"):
        make_target({"kind": "command", "submit": "a", "status": "b", "sumbit": "c"}).check()


def test_environment_per_os_and_flat():
    sections = {"env": {"common": {"A": "1", "B": "2"}, "windows": {"B": "w"},
                        "linux": {"B": "l"}}}
    assert environment(sections, "linux") == {"A": "1", "B": "l"}
    assert environment(sections, "windows") == {"A": "1", "B": "w"}
    assert environment(sections, "mac") == {"A": "1", "B": "2"}
    assert environment({"env": {"X": 3}}, "mac") == {"X": "3"}
    with pytest.raises(TargetError, match="mixes"):
        environment({"env": {"common": {}, "X": "1"}})
    with pytest.raises(TargetError, match="not a valid"):
        environment({"env": {"1BAD": "x"}})


def test_path_map_per_os():
    entries = [{"local": "/Volumes/proj", "linux": "/mnt/proj", "windows": "P:\\proj"},
               {"local": "/Volumes/lib", "remote": "/lib"}]
    assert PathMap.from_profile(entries, "linux").to_remote("/Volumes/proj/a/b") == \
        "/mnt/proj/a/b"
    assert PathMap.from_profile(entries, "windows").to_remote("/Volumes/proj/a/b") == \
        "P:\\proj\\a\\b"
    assert PathMap.from_profile(entries, "mac").to_remote("/Volumes/lib/x") == "/lib/x"
    assert PathMap.from_profile(entries).to_remote("/Volumes/proj/a") == "/Volumes/proj/a"
    assert mapped_share_paths(entries) == [
        {"remote": "/Volumes/proj", "local": "/mnt/proj", "os": "linux"},
        {"remote": "/Volumes/proj", "local": "P:\\proj", "os": "windows"},
        {"remote": "/Volumes/lib", "local": "/lib"}]
    with pytest.raises(TargetError):
        PathMap.from_profile([{"local": "/a"}])


@pytest.mark.parametrize("status, session, phase, end, words", [
    ("READY", "", Phase.PENDING, None, "READY"),
    ("SUSPENDED", "", Phase.PENDING, None, "SUSPENDED"),
    ("RUNNING", "", Phase.RUNNING, None, "RUNNING"),
    ("SUCCEEDED", "SUCCEEDED", Phase.ENDED, EndReason.EXITED, "SUCCEEDED"),
    ("FAILED", "FAILED", Phase.ENDED, EndReason.EXITED, "exit code 3"),
    ("FAILED", "INTERRUPTED", Phase.ENDED, EndReason.KILLED, "preempted"),
    ("CANCELED", "", Phase.ENDED, EndReason.CANCELLED, "cancelled"),
    ("NOT_COMPATIBLE", "", Phase.ENDED, EndReason.NEVER_STARTED, "host requirements")])
def test_deadline_states(status, session, phase, end, words):
    seen = deadline_state(TaskView("task-1", 0, status, session, 3 if session else None), "j/t")
    assert (seen.state, seen.end) == (phase, end) and words in seen.reason


@pytest.mark.parametrize("status, phase, end, words", [
    ("queued", Phase.PENDING, None, "queued"), ("executing", Phase.RUNNING, None, "executing"),
    ("done", Phase.ENDED, EndReason.EXITED, "done"),
    ("failed", Phase.ENDED, EndReason.EXITED, "oom"),
    ("aborted", Phase.ENDED, EndReason.CANCELLED, "aborted"),
    ("offline", Phase.ENDED, EndReason.KILLED, "preempted"),
    ("strange", Phase.UNKNOWN, None, "strange")])
def test_accsyn_states(status, phase, end, words):
    seen = accsyn_state({"status": status, "message": "oom"}, "j/t")
    assert (seen.state, seen.end) == (phase, end) and words in seen.reason
