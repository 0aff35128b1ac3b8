"""Fixtures for the core tests: one Anny body model per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def body_model():
    """The Anny body wrapper, built once per session (cached in ``ANNY_CACHE_DIR``); skips when
    the body model cannot be built here."""
    from vivid.core.body import BodyModel

    try:
        return BodyModel()
    except Exception as err:  # anny missing, unbuildable cache, ...
        pytest.skip(f"the Anny body model cannot be built: {err}")


@pytest.fixture(scope="session")
def head_model():
    """The Anny head model, built once per session; skips when it cannot be built here."""
    from vivid.core.body import HeadModel

    try:
        return HeadModel()
    except Exception as err:
        pytest.skip(f"the Anny head model cannot be built: {err}")
