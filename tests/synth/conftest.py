"""Fixtures shared by the synth tests."""

import pytest
import torch


@pytest.fixture(scope="session")
def kit():
    """The body model and the tables the scene generators share (built once per test session)."""
    from vivid.synth.scenes import BodyKit

    try:
        return BodyKit.get(torch.device("cpu"))
    except Exception as err:  # body model cannot be built here
        pytest.skip(f"the Anny body model cannot be built: {err}")
