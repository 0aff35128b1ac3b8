"""The pose3d demo section (renders with the body model: slow)."""

from __future__ import annotations

import pytest

from vivid.core.hub import is_bundled
from vivid.core.report import Report


@pytest.mark.slow
def test_demo_runs_and_reports(tmp_path):
    if not is_bundled("pose3d-default"):
        pytest.skip("pose3d-default is not bundled")
    from vivid.pose3d.demo import run_demo

    report = Report("pose3d demo")
    run_demo(tmp_path, report, device="cpu")
    kinds = [item.kind for s in report.sections for item in s.items]
    assert "table" in kinds and kinds.count("image") >= 8
    report.save(tmp_path / "report.html")
    assert (tmp_path / "report.html").stat().st_size > 0


def test_demo_real_inputs_name_their_source(tmp_path):
    """The real photo and clip from vivid/assets go through the model; the report credits them."""
    if not is_bundled("pose3d-default"):
        pytest.skip("pose3d-default is not bundled")
    from vivid.pose3d.apply import PoseEstimator
    from vivid.pose3d.demo import _real_inputs

    report = Report("pose3d demo")
    report.section("pose")
    _real_inputs(PoseEstimator("pose3d-default"), tmp_path, report, clip_frames=2)
    items = report.sections[-1].items
    text = " ".join(str(i.payload) for i in items if i.kind == "text")
    assert "opencv-doc 4.6.0+dfsg-12" in text and "Apache-2.0 AND BSD-3-Clause" in text and "PETS 2009" in text
    assert [i.kind for i in items].count("image") == 2
    assert (tmp_path / "pose3d_real_clip_overlay.mp4").stat().st_size > 0
