"""The job's web page as one HTML string: ReportFacts in, static HTML out.

Self-contained: inline CSS, no script, no external font or stylesheet, so it opens from a file
path on a cluster's shared filesystem and over `orbitfarm serve` alike. Every text that comes
from the job (subject names, reasons, logs, paths) goes through `text()`, which also turns bytes
that are not UTF-8 (file names) into U+FFFD; every link through `href()`. Thousands of subjects
are grouped by state and paged in <details> blocks of PAGE_ROWS rows, so the file stays small.
"""

from __future__ import annotations

import html
import os
import shlex
import time
from typing import Any
from urllib.parse import quote

from ..files.layout import RESULT_FILE
from ..jobs.job_status import duration
from ..model.states import SubjectStatus
from .facts import FailedTask, ReportFacts, Timing
from .thumbs import strip_name

PAGE_ROWS = 250  # subjects per <details> page
REFRESH_SECONDS = 10  # how often an unfinished job's page reloads itself
REFRESH_MARK = b'http-equiv="refresh"'  # in the first bytes of a page that still reloads
# Groups in the order people look for them: what went wrong first.
GROUP_ORDER = (SubjectStatus.FAILED, SubjectStatus.CANCELLED, SubjectStatus.RUNNING,
               SubjectStatus.QUEUED, SubjectStatus.RENDERED, SubjectStatus.SKIPPED)

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}
tr:nth-child(even){background:#f0f0f0}th{background:#e4e4e4}
.bar{display:inline-block;width:12em;height:.8em;background:#ddd;vertical-align:middle}
.bar i{display:block;height:100%;background:#3a7}
.big .bar{width:30em;height:1.2em}
.failed,.lost{color:#b00}.cancelled{color:#a60}.running{color:#05a}.rendered{color:#070}
pre{background:#eee;padding:.5em;overflow-x:auto;margin:.2em 0;white-space:pre-wrap}
code{background:#eee;padding:1px 4px}.muted{color:#777}summary{cursor:pointer}
img{image-rendering:pixelated;display:block}
"""


def text(value: Any) -> str:
    """HTML-escaped text (quotes too). Bytes of names that are not UTF-8 (surrogate escapes)
    pass through and become "?" when the page is encoded (write.py: errors="replace")."""
    return html.escape(str(value), quote=True)


def href(path: str) -> str:
    """A relative link to a file path: its bytes percent-encoded, then escaped for HTML."""
    return html.escape(quote(os.fsencode(path), safe="/"), quote=True)


def _bar(done: float, total: float) -> str:
    pct = 100.0 * done / total if total else 100.0
    return f'<span class="bar" title="{pct:.0f}%"><i style="width:{pct:.1f}%"></i></span>'


def _duration(seconds: float | None) -> str:
    return "unknown" if seconds is None else duration(seconds, precise=True)


def _stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "-"


def _table(pairs: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in pairs.items())
    return f"<table>{rows}</table>"


def _head(f: ReportFacts) -> str:
    st = f.status
    if st.finished:
        state = "finished" if st.ok else "finished with failures"
    else:
        state = "running" if st.tasks.get("running") else "queued"
    refresh = ("" if st.finished else
               f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{refresh}'
            f'<meta name="viewport" content="width=device-width">'
            f"<title>orbitfarm job {text(st.id)}: {state}</title><style>{CSS}</style></head>"
            f'<body><h1>orbitfarm job <span id="job-id">{text(st.id)}</span></h1>'
            f'<p>target <b>{text(st.target)}</b> &middot; <span id="job-state" '
            f'class="{"failed" if st.finished and not st.ok else ""}">{state}</span> &middot; '
            f'as of <time id="as-of" datetime="{_iso(f.as_of)}">{_stamp(f.as_of)}</time>'
            + ("" if st.finished else f" (reloads every {REFRESH_SECONDS} s)")
            + f'<br><span class="muted">{text(f.job_path)}</span></p>')


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _progress(f: ReportFacts) -> str:
    st = f.status
    not_rendered = st.frames_settled - st.frames_done
    counts = " &middot; ".join(
        f'<a href="#group-{state}" class="{state}">{n} {state}</a>'
        for state in GROUP_ORDER if (n := st.totals.get(str(state), 0)))
    tasks = ", ".join(f"{n} {text(k)}" for k, n in sorted(st.tasks.items()))
    return (f'<h2>Progress</h2><p class="big" id="progress">{_bar(st.frames_settled, st.frames_total)} '
            f"<b>{st.frames_done}/{st.frames_total}</b> frames rendered"
            + (f", {not_rendered} skipped or failed" if not_rendered > 0 else "")
            + (f" &middot; ETA {_duration(f.eta_seconds)}" if not st.finished else "")
            + f"</p><p>subjects: {counts}<br>tasks: {tasks}</p>"
            + "".join(f'<p class="failed">{text(w)}</p>' for w in st.warnings))


def _commands(f: ReportFacts) -> str:
    rows = "".join(f"<tr><td>{text(what)}</td><td><code>{text(cmd)}</code></td></tr>"
                   for what, cmd in f.commands)
    return f'<h2>Commands</h2><table id="commands">{rows}</table>'


def _failed_task(t: FailedTask) -> str:
    note = "max attempts reached" if t.final else "can be retried"
    return (f'<details class="task" open><summary><b class="{t.state}">{text(t.id)}</b> '
            f"{text(t.state)} (attempt {t.attempt}, {note}): {text(t.reason)}</summary>"
            f"<p>subjects: {text(', '.join(t.subjects))} &middot; "
            f'<a href="{href(t.log_href)}">full log</a></p>'
            f"<pre>{text(t.log_tail) or '(empty log)'}</pre></details>")


def _failed(f: ReportFacts) -> str:
    if not f.failed_total:
        return ""
    more = f.failed_total - len(f.failed)
    return (f'<h2 id="failed-tasks">Failed tasks ({f.failed_total})</h2>'
            + "".join(_failed_task(t) for t in f.failed)
            + (f"<p>and {more} more: <code>orbitfarm logs {text(shlex.quote(str(f.job_path)))}"
               "</code></p>"
               if more > 0 else ""))


def _subject_row(f: ReportFacts, index: int, rel_dirs: dict[str, str]) -> str:
    row = f.status.subjects[index]
    timing = f.timings.get(index)
    thumb = (f'<img src="{strip_name(index)}" alt="" loading="lazy">'
             if index in f.thumbs else "")
    name = text(row.name)
    if row.out and row.frames_done:  # link its result.json, relative to the job directory
        parent, folder = os.path.split(row.out)
        rel = rel_dirs.get(parent)
        if rel is None:  # outputs share a parent (OUT/): one relpath for all
            rel = rel_dirs[parent] = os.path.relpath(parent, f.job_path)
        name = f'<a href="{href(f"{rel}/{folder}/{RESULT_FILE}")}">{name}</a>'
    warn = f" ({row.warnings} warning{'s' if row.warnings != 1 else ''})" if row.warnings else ""
    return (f'<tr class="{row.state}"><td>{name}</td><td>{row.state}</td>'
            f"<td>{_bar(row.frames_done, row.frames_total)} {row.frames_done}/{row.frames_total}"
            f"</td><td>{_per_frame(timing)}</td><td>{text(row.reason)}{warn}</td>"
            f"<td>{thumb}</td></tr>")


def _per_frame(timing: Timing | None) -> str:
    return f"{timing.per_frame:.2f} s" if timing and timing.frames else ""


def _subjects(f: ReportFacts) -> str:
    groups: dict[str, list[int]] = {}
    rel_dirs: dict[str, str] = {}
    for index, row in enumerate(f.status.subjects):
        groups.setdefault(row.state, []).append(index)
    head = ("<tr><th>subject</th><th>state</th><th>frames</th><th>s/frame</th>"
            "<th>reason, warnings</th><th>RGB and depth</th></tr>")
    parts = ['<h2>Subjects</h2><p class="muted">Grouped by state; names link to the '
             "subject's result.json. Thumbnails: a few orbit frames, RGB above colour-mapped "
             "depth (near warm, far cool), made once a subject has finished.</p>"]
    for state in [*GROUP_ORDER, *sorted(set(groups) - set(map(str, GROUP_ORDER)))]:
        members = groups.get(str(state))
        if not members:
            continue
        parts.append(f'<h3 id="group-{state}" class="{state}">{state} ({len(members)})</h3>')
        for start in range(0, len(members), PAGE_ROWS):
            page = members[start: start + PAGE_ROWS]
            is_open = " open" if start == 0 else ""
            rows = "".join(_subject_row(f, i, rel_dirs) for i in page)
            parts.append(f"<details{is_open}><summary>{state} {start + 1}-{start + len(page)}"
                         f"</summary><table>{head}{rows}</table></details>")
    return "".join(parts)


def _timings(f: ReportFacts) -> str:
    t = f.times
    end = t.last_end if f.status.finished and t.last_end else f.as_of
    pairs: dict[str, Any] = {
        "submitted": _stamp(t.created), "first task started": _stamp(t.first_start),
        "waited in the queue": _duration(t.first_start - t.created)
        if t.first_start and t.created else "-",
        "wall time so far" if not f.status.finished else "wall time": _duration(
            end - t.created) if t.created else "-",
    }
    if t.frames_timed:
        pairs["frames timed"] = (f"{t.frames_timed}, of {len(f.timings)} subjects"
                                 + (f" (of {t.subjects_with_frames} with frames; the rest on the "
                                    "next writes)" if len(f.timings) < t.subjects_with_frames
                                    else ""))
        pairs["seconds per frame (mean)"] = f"{t.frame_seconds / t.frames_timed:.2f} s"
        pairs["rendering (Blender)"] = _duration(t.render_seconds)
        pairs["checking and saving frames"] = _duration(t.frame_seconds - t.render_seconds)
    if t.sampled:
        note = "" if t.sampled * 1 >= t.tasks else f" (estimated from {t.sampled} tasks)"
        pairs["worker time, all tasks" + note] = _duration(t.task_wall)
        if t.frames_timed and t.task_wall >= t.frame_seconds:
            pairs["loading, set-up and exit"] = _duration(t.task_wall - t.frame_seconds)
    slowest = sorted(f.timings.items(), key=lambda kv: -kv[1].per_frame)[:5]
    rows = "".join(f"<tr><td>{text(f.status.subjects[i].name)}</td><td>{tm.per_frame:.2f} s"
                   f"</td><td>{tm.frames}</td><td>{_duration(tm.seconds)}</td></tr>"
                   for i, tm in slowest if tm.frames)
    table = (f"<h3>Slowest subjects</h3><table><tr><th>subject</th><th>s/frame</th>"
             f"<th>frames</th><th>total</th></tr>{rows}</table>" if rows else "")
    return f'<h2>Timings</h2><div id="timings">{_table(pairs)}{table}</div>'


def _settings(f: ReportFacts) -> str:
    target = {k: v if isinstance(v, str | int | float | bool | None) else repr(v)
              for k, v in f.target.items()}
    return (f'<h2>Settings and target</h2><div id="settings">'
            f"<h3>Render settings</h3>{_table(f.settings)}"
            f"<h3>Job</h3>{_table(f.job_options)}<h3>Target</h3>{_table(target)}</div>")


def render(f: ReportFacts) -> str:
    """The whole page."""
    return "".join([_head(f), _progress(f), _failed(f), _commands(f), _subjects(f),
                    _timings(f), _settings(f),
                    '<p class="muted">Written by orbitfarm report.</p></body></html>'])
