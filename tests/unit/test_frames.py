"""Property tests for frame specs (submitter/frames.py) with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orbitfarm.submitter.model.frames import (
    FrameSpecError,
    chunk_frames,
    format_frame_list,
    parse_frame_spec,
)

totals = st.integers(min_value=1, max_value=2000)


@st.composite
def spec_items(draw, total: int):
    """One item of a valid spec for an orbit of `total` frames, and the frames it means."""
    start = draw(st.integers(1, total))
    kind = draw(st.sampled_from(["single", "range", "step"]))
    if kind == "single":
        return str(start), {start}
    end = draw(st.integers(start, total))
    if kind == "range":
        return f"{start}-{end}", set(range(start, end + 1))
    step = draw(st.integers(1, 50))
    return f"{start}-{end}x{step}", set(range(start, end + 1, step))


@st.composite
def specs(draw):
    total = draw(totals)
    items = draw(st.lists(spec_items(total), min_size=1, max_size=6))
    spaces = draw(st.sampled_from(["", " "]))
    text = ("," + spaces).join(t for t, _ in items)
    expected = set().union(*(f for _, f in items))
    return total, text, expected


@given(specs())
def test_valid_specs_mean_the_union_of_their_items(case):
    total, text, expected = case
    frames = parse_frame_spec(text, total)
    assert frames == sorted(expected)
    assert all(1 <= f <= total for f in frames)
    assert len(frames) == len(set(frames))


@given(totals, st.data())
def test_format_is_the_inverse_of_parse(total, data):
    frames = sorted(data.draw(st.sets(st.integers(1, total), min_size=1, max_size=200)))
    text = format_frame_list(frames)
    assert parse_frame_spec(text, total) == frames


@given(totals)
def test_empty_spec_means_every_frame(total):
    assert parse_frame_spec(None, total) == list(range(1, total + 1))
    assert parse_frame_spec("  ", total) == list(range(1, total + 1))


@given(st.lists(st.integers(1, 10_000), unique=True, max_size=300).map(sorted),
       st.one_of(st.none(), st.integers(1, 400)))
def test_chunks_cover_the_frames_in_order_without_overlap(frames, chunk):
    chunks = chunk_frames(frames, chunk)
    assert [f for c in chunks for f in c] == frames
    assert all(chunks)
    if chunk:
        assert all(len(c) <= chunk for c in chunks)
        assert all(len(c) == chunk for c in chunks[:-1])
    else:
        assert len(chunks) <= 1


@given(totals, st.integers(1, 3000))
def test_frames_past_the_orbit_are_refused(total, beyond):
    with pytest.raises(FrameSpecError, match="outside"):
        parse_frame_spec(f"1-{total + beyond}", total)
    with pytest.raises(FrameSpecError, match="outside"):
        parse_frame_spec(str(total + beyond), total)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789-x, ;a.", max_size=12), totals)
def test_anything_else_is_a_clear_error_or_a_valid_list(text, total):
    try:
        frames = parse_frame_spec(text, total)
    except FrameSpecError as exc:
        message = str(exc)
        assert "\n" not in message
        # The message quotes what was wrong: the whole spec or the offending item.
        parts = [p.strip().replace(" ", "") for p in text.split(",")] + [text]
        assert any(p and repr(p) in message for p in parts) or "empty item" in message, message
        if "backwards" in message:  # the suggested fix must itself be valid
            suggestion = message.rsplit("write ", 1)[1]
            assert parse_frame_spec(suggestion, total)
        return
    assert frames == sorted(set(frames))
    assert all(1 <= f <= total for f in frames)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("5-2", "backwards"), ("1,,3", "empty item"), ("0", "outside"), ("1-10x0", "step"),
     ("a-b", "bad frame spec"), ("1-", "bad frame spec"), ("-3", "bad frame spec"),
     ("1-10x", "bad frame spec"), ("1;2", "bad frame spec")],
)
def test_bad_specs_get_a_clear_message(spec, message):
    with pytest.raises(FrameSpecError, match=message):
        parse_frame_spec(spec, 360)


def test_zero_frames_in_an_orbit_is_refused():
    with pytest.raises(FrameSpecError, match="at least 1"):
        parse_frame_spec(None, 0)
