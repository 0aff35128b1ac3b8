"""Rendered people shared by the people tests (two small renders, made once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cutouts(tmp_path_factory):
    from vivid.people.data import load_cutouts

    return load_cutouts(tmp_path_factory.mktemp("people_cache"), "val", 2, 96, mocap="procedural")
