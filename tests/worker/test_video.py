"""--video: the turntable movie decodes with a real reader, one movie frame per orbit frame."""

from __future__ import annotations

import numpy as np
import pytest
from worker_helpers import result, rgb

pytestmark = [pytest.mark.render, pytest.mark.compat]


def test_mp4_turntable_decodes(tmp_path, bpy_python, subjects, render):
    cv2 = pytest.importorskip("cv2")
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "6", "--resolution", "48x36",
                       "--samples", "1", "--video", "mp4")
    assert code == 0, log
    out = tmp_path / "out" / "cube"
    movie = out / "turntable.mp4"
    assert movie.is_file() and result(out)["video"] == {"file": "turntable.mp4", "frames": 6,
                                                        "fps": 30}
    reader = cv2.VideoCapture(str(movie))
    frames = []
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        frames.append(frame)
    reader.release()
    assert len(frames) == 6 and frames[0].shape == (36, 48, 3)
    # Movie frame k is orbit frame k: compare with the PNG (BGR; H.264 is lossy, so loosely).
    for k in (1, 4):
        png = rgb(out, k).astype(float)
        assert np.abs(frames[k - 1][..., ::-1].astype(float) - png).mean() < 12, k
    assert np.abs(frames[0].astype(float) - frames[3].astype(float)).mean() > 1  # it turns


def test_gif_turntable_or_a_warning(tmp_path, bpy_python, subjects, render):
    info = subjects.make_subject(bpy_python, tmp_path / "cube.blend", "cube")
    code, log = render([info["path"]], tmp_path / "out", "--frames", "3", "--resolution", "32x24",
                       "--samples", "1", "--video", "gif")
    assert code == 0, log
    out = tmp_path / "out" / "cube"
    try:
        from PIL import Image
    except ImportError:
        assert any("Pillow" in w for w in result(out)["warnings"])
        return
    with Image.open(out / "turntable.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (32, 24)
