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
