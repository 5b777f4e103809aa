"""A subject folder's frames share one lighting: a resume never adds frames lit otherwise.

`--lighting auto` resolves per subject (its own lights/world, else a rig), and what it resolves
to can change between versions while the settings hash stays valid (`lighting` is left out of
it at its default): a folder rendered before lighting existed holds frames lit by the scene
only. So the RESOLVED lighting is claimed like the settings (pipeline._claim_settings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..submitter.files.atomic import read_json
from ..submitter.files.layout import DEPTH_DIR, RGB_DIR
from ..submitter.model.looks import PASSES as PASS_NAMES
from ..submitter.model.looks import pass_folders
from .results import TRANSFORMS, read_result, update_result
from .scene import SubjectError

# What folders written before lighting existed were lit with: the scene's own lights/world.
UNRECORDED = {"mode": "scene"}


class OtherLightingError(SubjectError):
    """The folder holds frames of another lighting; its result.json must stay as it is."""


def frame_files(out: str | Path) -> list[Path]:
    """Every frame file (RGB, depth, passes) in the subject folder."""
    folders = [(RGB_DIR, ".png"), (DEPTH_DIR, ".exr"), *pass_folders(list(PASS_NAMES))]
    return [p for folder, ext in folders for p in (Path(out) / folder).glob("[0-9]*" + ext)]


def lit_with(record: dict[str, Any] | None) -> dict[str, Any]:
    """What a lighting record means for the pixels: why it was chosen and what was asked do
    not matter; for the scene's own lighting nothing else does either."""
    record = record or UNRECORDED
    if record.get("mode") == "scene":
        return dict(UNRECORDED)
    # Through JSON: a record just made compares equal to the same one read back.
    return json.loads(json.dumps({k: v for k, v in record.items()
                                  if k not in ("requested", "reason")}, allow_nan=False))


def claim_lighting(out: str | Path, lighting: dict[str, Any], force: bool) -> None:
    """Refuse (changing nothing) when the folder's frames were lit otherwise than `lighting`;
    else record `lighting` now, so a killed render leaves the record for its frames."""
    recorded = read_result(out).get("lighting")
    if recorded is None:  # versions that recorded it in transforms.json only until complete
        recorded = (read_json(Path(out) / TRANSFORMS, default=None) or {}).get("lighting")
    if not force and lit_with(recorded) != lit_with(lighting):
        frames = frame_files(out)
        if frames:
            raise OtherLightingError(
                f"{out} already holds {len(frames)} frame file(s) lit with "
                f"{lit_with(recorded)['mode']!r} lighting, but these settings now light it "
                f"with {lighting['mode']!r} ({lighting.get('reason', '')}); pass --force to "
                "re-render them all, or render into another --out")

    def change(data: dict[str, Any]) -> None:
        data["lighting"] = lighting

    update_result(out, change)
